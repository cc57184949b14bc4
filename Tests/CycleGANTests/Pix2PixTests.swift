import XCTest
@testable import CycleGAN

/// The U-Net, batch norm and pix2pix: the official structure and keys, `.pth` import with
/// running statistics, the aligned dataset, exact resume with dropout, and the commands.
final class Pix2PixTests: CLITestCase {
    static let pairs: String = {
        let root = NSTemporaryDirectory() + "cyclegan-pairs-\(getpid())"
        try! DemoData.writePairs(to: root, trainCount: 3, testCount: 2, size: 128, seed: 7)
        return root
    }()

    func testUnetHasTheOfficialParameterCountAndKeys() {
        let cpu = TestDevices.cpu
        let g = UnetGenerator(numDowns: 8, ngf: 64, norm: .batch, dropout: true, on: cpu)
        XCTAssertEqual(g.parameterCount, 54_413_955)  // the official code prints 54.414 M
        let keys = Set(g.namedParameters().map { $0.0 }), buffers = Set(g.namedBuffers().map { $0.0 })
        XCTAssertTrue(keys.isSuperset(of: ["model.model.0.weight", "model.model.1.model.1.weight", "model.model.1.model.2.weight",
                                           "model.model.1.model.2.bias", "model.model.3.weight", "model.model.3.bias"]))
        XCTAssertFalse(keys.contains("model.model.0.bias"))  // with batch norm: use_bias off
        XCTAssertTrue(buffers.contains("model.model.1.model.2.running_mean"))
        XCTAssertEqual(g.sizeMultiple, 256)
        // instance norm: biases on every conv, no norm parameters or buffers
        let gi = UnetGenerator(numDowns: 7, ngf: 4, norm: .instance, on: cpu)
        XCTAssertTrue(gi.namedParameters().contains { $0.0 == "model.model.0.bias" })
        XCTAssertTrue(gi.namedBuffers().isEmpty)
        XCTAssertEqual(gi.sizeMultiple, 128)
        // ResNet and discriminators with batch norm: norm keys at the official indices
        let r = ResnetGenerator(ngf: 4, nBlocks: 2, norm: .batch, dropout: true, on: cpu)
        let rk = Set(r.namedParameters().map { $0.0 } + r.namedBuffers().map { $0.0 })
        XCTAssertTrue(rk.isSuperset(of: ["model.2.weight", "model.2.running_var", "model.10.conv_block.6.weight",
                                         "model.10.conv_block.7.running_mean", "model.16.weight", "model.19.bias"]))
        XCTAssertFalse(rk.contains("model.1.bias"))
        let d = NLayerDiscriminator(inputNC: 6, ndf: 8, norm: .batch, on: cpu)
        XCTAssertEqual(Set(d.namedParameters().map { $0.0 }),
                       ["model.0.weight", "model.0.bias", "model.2.weight", "model.3.weight", "model.3.bias", "model.5.weight",
                        "model.6.weight", "model.6.bias", "model.8.weight", "model.9.weight", "model.9.bias", "model.11.weight",
                        "model.11.bias"])
    }

    /// The U-Net of the fixture saved by torch.save in both formats (num_batches_tracked
    /// included): loaded with its running statistics, the fixture's values exactly.
    func testPthImportOfAUnetKeepsRunningStatistics() throws {
        let fixture = Pix2PixFixtureTests.fixture.tensors.tensors
        for format in ["zip", "legacy"] {
            let dir = tempDir("pth-unet")
            try FileManager.default.copyItem(atPath: Fixture.directory.path + "/pth/unet128_ngf4_\(format).pth",
                                             toPath: dir + "/latest_net_G.pth")
            let g = UnetGenerator(numDowns: 7, ngf: 4, norm: .batch, dropout: true, on: TestDevices.cpu)
            _ = try CheckpointStore(directory: dir, networkNames: ["G"]).loadNetwork(g, name: "G", label: "latest")
            for (key, t) in g.namedParameters() + g.namedBuffers() {
                XCTAssertEqual(t.toArray(), fixture["unet/init/\(key)"]?.values, "\(format) \(key)")
            }
            XCTAssertEqual(g.namedBuffers().count, 22)
        }
        // a negative running variance in a checkpoint is refused by key, before anything loads
        let dir = tempDir("bad-var")
        var dict = UnetGenerator(numDowns: 7, ngf: 4, norm: .batch, on: TestDevices.cpu).stateDict()
        dict["model.model.1.model.2.running_var"]!.values[3] = -1
        try SafeTensorsFile(tensors: dict, metadata: [:]).write(to: dir + "/latest_net_G.safetensors")
        let g = UnetGenerator(numDowns: 7, ngf: 4, norm: .batch, on: TestDevices.cpu)
        XCTAssertThrowsError(try CheckpointStore(directory: dir, networkNames: ["G"]).loadNetwork(g, name: "G", label: "latest")) {
            XCTAssertTrue("\($0)".contains("model.model.1.model.2.running_var[3] is -1.0 (expected a finite variance ≥ 0)"), "\($0)")
        }
        XCTAssertEqual(g.namedBuffers().first { $0.0 == "model.model.1.model.2.running_var" }?.1.toArray().allSatisfy { $0 == 1 }, true)
    }

    /// A pair whose halves are the same image: whatever crop and flip an item draws, A and B
    /// come out equal, so both halves got the same ones.
    func testAlignedDatasetCropsAndFlipsBothHalvesAlike() throws {
        let dir = tempDir("aligned")
        try FileManager.default.createDirectory(atPath: dir + "/train", withIntermediateDirectories: true)
        var rng = RandomStream(seed: 3)
        let w = 40, h = 30
        var pixels = [UInt8](repeating: 0, count: 2 * w * h * 3)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 {
            let v = UInt8(rng.int(below: 256))
            pixels[(y * 2 * w + x) * 3 + c] = v
            pixels[(y * 2 * w + w + x) * 3 + c] = v
        } } }
        try ImageIO.savePNG(Image(width: 2 * w, height: h, channels: 3, pixels: pixels), to: dir + "/train/pair.png")
        var o = TransformOptions()
        o.loadSize = 36; o.cropSize = 24; o.minimumSide = 24
        let ds = try AlignedDataset(dataroot: dir, options: o)
        var flips = Set<Bool>()
        for epoch in 1...12 {
            let item = try ds.item(0, epoch: epoch, seed: 5)
            XCTAssertEqual(item.shapeA, [3, 24, 24])
            XCTAssertEqual(item.a, item.b, "epoch \(epoch)")
            flips.insert(item.a == (try ds.item(0, epoch: 1, seed: 5)).a)
        }
        XCTAssertEqual(flips.count, 2)  // the draws did vary
        // an odd width: B's last column is left out, both halves one size, the same crop
        var odd = [UInt8](repeating: 0, count: (2 * w + 1) * h * 3)
        for y in 0..<h { for x in 0..<(2 * w + 1) { for c in 0..<3 {
            odd[(y * (2 * w + 1) + x) * 3 + c] = x < 2 * w ? pixels[(y * 2 * w + x) * 3 + c] : 255
        } } }
        let oddDir = tempDir("aligned-odd")
        try FileManager.default.createDirectory(atPath: oddDir + "/train", withIntermediateDirectories: true)
        try ImageIO.savePNG(Image(width: 2 * w + 1, height: h, channels: 3, pixels: odd), to: oddDir + "/train/odd.png")
        var crop = o
        crop.preprocess = .crop
        for options in [o, crop] {
            let oddSet = try AlignedDataset(dataroot: oddDir, options: options)
            for epoch in 1...6 {
                let item = try oddSet.item(0, epoch: epoch, seed: 5)
                XCTAssertEqual(item.shapeA, item.shapeB)
                XCTAssertEqual(item.a, item.b, "\(options.preprocess) epoch \(epoch)")
            }
        }
        // a pair image too narrow to split is named
        try ImageIO.savePNG(Image(width: 1, height: h, channels: 3, pixels: [UInt8](repeating: 9, count: h * 3)), to: dir + "/train/thin.png")
        XCTAssertThrowsError(try AlignedDataset(dataroot: dir, options: o)) { XCTAssertTrue("\($0)".contains("thin.png"), "\($0)") }
    }

    func options(_ dir: String) -> TrainOptions {
        var o = TrainOptions().withPix2PixDefaults()
        o.dataroot = Self.pairs
        o.name = "run"; o.checkpointsDir = dir
        o.netG = "unet_128"; o.ngf = 4; o.ndf = 4
        o.loadSize = 132; o.cropSize = 128
        o.nEpochs = 1; o.nEpochsDecay = 1
        o.printFreq = 1; o.saveLatestFreq = 100
        return o
    }

    /// Four images straight against two, a resume, and two more: the same weights, running
    /// statistics and dropout stream, bit for bit (the dropout masks come from the saved stream).
    func testPix2PixResumeIsExact() throws {
        let ocl = try TestDevices.requireOpenCL()
        let straight = tempDir("p2p-straight"), split = tempDir("p2p-split")
        var o = options(straight)
        o.stopAfter = 4
        try Trainer(options: o, backend: ocl, say: { _ in }).run()
        o.checkpointsDir = split; o.stopAfter = 2
        try Trainer(options: o, backend: ocl, say: { _ in }).run()
        o.stopAfter = 4; o.continueTrain = true
        let resumed = try Trainer(options: o, backend: ocl, say: { _ in })
        try resumed.run()
        for net in ["G", "D"] {
            let a = try SafeTensorsFile(contentsOf: "\(straight)/run/latest_net_\(net).safetensors").tensors
            XCTAssertEqual(a, try SafeTensorsFile(contentsOf: "\(split)/run/latest_net_\(net).safetensors").tensors, net)
            XCTAssertTrue(a.keys.contains { $0.hasSuffix("running_var") }, net)
        }
        let s1 = try SafeTensorsFile(contentsOf: "\(straight)/run/latest_train_state.safetensors").metadata
        let s2 = try SafeTensorsFile(contentsOf: "\(split)/run/latest_train_state.safetensors").metadata
        XCTAssertNotNil(s1["dropout_random_state_G"])
        XCTAssertEqual(s1["dropout_random_state_G"], s2["dropout_random_state_G"])
    }

    /// pix2pix end to end through the command: train writes its page and the G and D
    /// checkpoints; test translates each pair's A half (in training mode and with --eval),
    /// an odd-sized pair at its native size.
    func testPix2PixTrainsAndTranslatesThroughTheCommand() throws {
        let dir = tempDir("p2p-cli")
        let common = ["--dataroot", Self.pairs, "--name", "p", "--checkpoints_dir", dir + "/ck", "--netG", "unet_128",
                      "--ngf", "4", "--ndf", "4"]
        let t = try cyclegan(["train", "--model", "pix2pix", "--load_size", "132", "--crop_size", "128", "--n_epochs", "1",
                              "--n_epochs_decay", "0", "--print_freq", "1", "--display_freq", "1"] + common)
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stdout.contains("G_GAN: ") && t.stdout.contains(" D_fake: "), t.stdout)
        for f in ["latest_net_G.safetensors", "latest_net_D.safetensors", "1_net_G.safetensors", "web/index.html",
                  "web/images/epoch001_fake_B.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/ck/p/\(f)"), f)
        }
        let opt = try String(contentsOfFile: "\(dir)/ck/p/train_opt.txt", encoding: .utf8)
        XCTAssertTrue(opt.contains("model: pix2pix") && opt.contains("norm: batch") && opt.contains("dataset_mode: aligned"), opt)
        // an odd-sized pair: halves of 50x37 and 51x37, padded to 128x128 for the U-Net and cropped back
        let odd = tempDir("p2p-odd")
        try FileManager.default.createDirectory(atPath: odd + "/test", withIntermediateDirectories: true)
        try ImageIO.savePNG(Image(width: 101, height: 37, channels: 3, pixels: (0..<(101 * 37 * 3)).map { UInt8($0 % 251) }),
                            to: odd + "/test/odd.png")
        for (data, extra) in [(Self.pairs, [String]()), (odd, ["--eval"])] {
            let r = try cyclegan(["test", "--dataroot", data, "--name", "p", "--checkpoints_dir", dir + "/ck",
                                  "--results_dir", dir + "/results"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let images = dir + "/results/p/test_latest/images"
        for f in ["0000_real_A.png", "0000_fake_B.png", "0001_real_B.png", "odd_fake_B.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(images)/\(f)"), f)
        }
        let fake = try ImageIO.load(images + "/odd_fake_B.png", maxPixels: 1 << 20)
        XCTAssertEqual([fake.width, fake.height], [50, 37])
    }

    /// At test, a U-Net has dropout unless the run said --no_dropout (as the official test.py);
    /// a ResNet has none unless its run had it; the run's direction is taken.
    func testTestTakesDropoutAndDirectionAsTheRunHadThem() throws {
        var t = TestOptions()
        t.netG = "unet_256"
        XCTAssertTrue(t.dropout)
        t.netG = "resnet_9blocks"
        XCTAssertFalse(t.dropout)
        try t.adopt(["netG": "unet_128", "no_dropout": "True", "direction": "BtoA"], from: "/r/train_opt.json")
        XCTAssertFalse(t.dropout)
        XCTAssertEqual(t.direction, "BtoA")
        XCTAssertThrowsError(try t.adopt(["direction": "up"], from: "/r/train_opt.json")) {
            XCTAssertEqual("\($0)", "/r/train_opt.json: direction: expected AtoB or BtoA, got \"up\"")
        }
    }

    func testPix2PixOptionsAreCheckedByName() throws {
        let d = tempDir("p2p-opt")
        let base = ["train", "--dataroot", Self.pairs, "--checkpoints_dir", d]
        assertOneLineError(try cyclegan(base + ["--model", "colorization"]), contains: "--model: \"colorization\" is not supported")
        assertOneLineError(try cyclegan(base + ["--model", "pix2pix", "--dataset_mode", "unaligned"]), contains: "--dataset_mode")
        assertOneLineError(try cyclegan(base + ["--norm", "group"]), contains: "--norm: \"group\" is not one of instance, batch, none")
        assertOneLineError(try cyclegan(base + ["--model", "pix2pix", "--crop_size", "128"]),
                           contains: "--crop_size: 128 is not a multiple of 256")
        assertOneLineError(try cyclegan(["test", "--dataroot", Self.pairs, "--model", "pix2pix", "--dataset_mode", "single",
                                         "--checkpoints_dir", d]), contains: "--dataset_mode")
    }
}
