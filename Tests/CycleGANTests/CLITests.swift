import XCTest
@testable import CycleGAN

/// End-to-end runs of the `cyclegan` binary on a tiny dataset made by the test: train,
/// test in both modes, and every error a user can provoke ending in one line and exit 1.
final class CLITests: CLITestCase {
    static let root = demoScratch("cli", trainCount: 2, testCount: 3, size: 40, seed: 9)

    var common: [String] {
        ["--dataroot", Self.root + "/data", "--checkpoints_dir", Self.root + "/ck", "--load_size", "36", "--crop_size", "32",
         "--ngf", "4", "--ndf", "4", "--netG", "resnet_6blocks", "--device", "cpu-ref"]
    }

    func testTrainThenTranslateInBothModes() throws {
        let train = try cyclegan(["train", "--name", "cli"] + common + ["--n_epochs", "1", "--n_epochs_decay", "0", "--print_freq", "1",
                                                                         "--display_freq", "1"])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("(epoch: 1, iters: 2,"), train.stdout)
        XCTAssertTrue(train.stdout.contains("End of epoch 1 / 1"), train.stdout)
        let run = Self.root + "/ck/cli"
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/web/index.html"))

        // both directions: six images per A file, named after it; native size (40×40, not a crop)
        let test = try cyclegan(["test", "--name", "cli", "--dataroot", Self.root + "/data", "--checkpoints_dir", Self.root + "/ck",
                                 "--results_dir", Self.root + "/results", "--device", "cpu-ref"])
        XCTAssertEqual(test.status, 0, test.stderr)
        let images = Self.root + "/results/cli/test_latest/images"
        let files = try FileManager.default.contentsOfDirectory(atPath: images).sorted()
        XCTAssertEqual(files.count, 18, "\(files)")
        for s in ["real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B"] { XCTAssertTrue(files.contains("0000_\(s).png"), s) }
        let fake = try ImageIO.load(images + "/0002_fake_B.png")
        XCTAssertEqual([fake.width, fake.height], [40, 40])
        XCTAssertTrue(FileManager.default.fileExists(atPath: Self.root + "/results/cli/test_latest/index.html"))

        // --num_test limits
        let one = try cyclegan(["test", "--name", "cli", "--dataroot", Self.root + "/data", "--checkpoints_dir", Self.root + "/ck",
                                "--results_dir", Self.root + "/results1", "--num_test", "1", "--device", "cpu-ref"])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: Self.root + "/results1/cli/test_latest/images").count, 6)

        // one direction: --model test on a plain folder, generator latest_net_G_A
        let single = try cyclegan(["test", "--name", "cli", "--model", "test", "--model_suffix", "_A", "--dataroot", Self.root + "/data/testA",
                                   "--checkpoints_dir", Self.root + "/ck", "--results_dir", Self.root + "/results2", "--device", "cpu-ref"])
        XCTAssertEqual(single.status, 0, single.stderr)
        let singles = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/results2/cli/test_latest/images").sorted()
        XCTAssertEqual(singles, ["0000_fake.png", "0000_real.png", "0001_fake.png", "0001_real.png", "0002_fake.png", "0002_real.png"])

        // a damaged checkpoint is named
        let bad = Self.root + "/ck/broken"
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        for n in ["G_A", "G_B"] { FileManager.default.createFile(atPath: "\(bad)/latest_net_\(n).safetensors", contents: Data("garbage!!".utf8)) }
        assertOneLineError(try cyclegan(["test", "--name", "broken", "--dataroot", Self.root + "/data", "--checkpoints_dir", Self.root + "/ck",
                                          "--results_dir", Self.root + "/results3", "--ngf", "4", "--netG", "resnet_6blocks", "--device", "cpu-ref"]),
                           contains: "latest_net_G_A.safetensors")
        // a checkpoint of another shape names the key
        assertOneLineError(try cyclegan(["test", "--name", "cli", "--dataroot", Self.root + "/data", "--checkpoints_dir", Self.root + "/ck",
                                          "--results_dir", Self.root + "/results4", "--ngf", "8", "--device", "cpu-ref"]),
                           contains: "model.1.weight: expected shape [8, 3, 7, 7], found [4, 3, 7, 7]")
    }

    /// `--precision mixed` end to end on the OpenCL device: recorded in the run's options,
    /// the loss scale said at the epoch's end, and the model translates in mixed too.
    func testTrainAndTranslateInMixedPrecision() throws {
        let device = try TestDevices.requireOpenCL().device.spec
        let opts = common.dropLast(2) + ["--device", device, "--precision", "mixed"]
        let train = try cyclegan(["train", "--name", "mixed"] + opts + ["--n_epochs", "1", "--n_epochs_decay", "0", "--no_html"])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("loss scale "), train.stdout)
        XCTAssertTrue(try String(contentsOfFile: Self.root + "/ck/mixed/train_opt.txt", encoding: .utf8).contains("precision: mixed"))
        let test = try cyclegan(["test", "--name", "mixed", "--dataroot", Self.root + "/data", "--checkpoints_dir", Self.root + "/ck",
                                 "--results_dir", Self.root + "/results-mixed", "--device", device, "--precision", "mixed"])
        XCTAssertEqual(test.status, 0, test.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: Self.root + "/results-mixed/mixed/test_latest/images").count, 18)
    }

    func testUserErrorsAreOneLine() throws {
        defer {
            // a failed command leaves nothing behind in the working folder
            XCTAssertFalse(FileManager.default.fileExists(atPath: "./results/nothing-here"))
            XCTAssertFalse(FileManager.default.fileExists(atPath: "./checkpoints/experiment_name"))
        }
        assertOneLineError(try cyclegan(["train", "--dataroot", Self.root + "/nowhere", "--device", "cpu-ref"]), contains: "nowhere/trainA")
        assertOneLineError(try cyclegan(["train"] + common + ["--netG", "unet_512"]), contains: "--netG")
        assertOneLineError(try cyclegan(["train"] + common + ["--crop_size", "30"]), contains: "--crop_size")
        assertOneLineError(try cyclegan(["train"] + common + ["--device", "gpu:7"]), contains: "gpu:7")
        assertOneLineError(try cyclegan(["train"] + common + ["--device", "tpu"]), contains: "--device")
        assertOneLineError(try cyclegan(["train"] + common + ["--max_dataset_size", "lots"]), contains: "--max_dataset_size")
        assertOneLineError(try cyclegan(["test", "--name", "nothing-here", "--dataroot", Self.root + "/data", "--checkpoints_dir", Self.root + "/ck",
                                          "--device", "cpu-ref"]), contains: "latest_net_G_A.safetensors")
        // an undecodable training image: named, or skipped with --skip_bad_images
        let data = Self.root + "/baddata"
        try DemoData.write(to: data, trainCount: 2, testCount: 1, size: 40, seed: 3)
        FileManager.default.createFile(atPath: data + "/trainA/0001.png", contents: Data("not an image".utf8))
        let args = ["train", "--name", "bad", "--dataroot", data, "--checkpoints_dir", Self.root + "/ck", "--load_size", "36", "--crop_size", "32",
                    "--ngf", "4", "--ndf", "4", "--netG", "resnet_6blocks", "--device", "cpu-ref", "--n_epochs", "1", "--n_epochs_decay", "0",
                    "--serial_batches"]
        assertOneLineError(try cyclegan(args), contains: "trainA/0001.png")
        let skipped = try cyclegan(args + ["--skip_bad_images"])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("0001.png"), skipped.stderr)
    }

    /// An official-layout generator saved by real torch.save (zip and legacy formats) loads
    /// natively from `<epoch>_net_G.pth` and reproduces PyTorch's output.
    func testPyTorchCheckpointReproducesPyTorchOutput() throws {
        let fixtures = Fixture.directory.appendingPathComponent("pth").path
        let io = try SafeTensorsFile(contentsOf: fixtures + "/tiny_G_io.safetensors")
        for file in ["tiny_G.pth", "tiny_G_legacy.pth"] {
            let dir = Self.root + "/pth-\(file)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: dir + "/latest_net_G.pth")
            try FileManager.default.copyItem(atPath: "\(fixtures)/\(file)", toPath: dir + "/latest_net_G.pth")
            for backend in [TestDevices.cpu as Backend] + (TestDevices.openCL.map { [$0 as Backend] } ?? []) {
                let g = ResnetGenerator(ngf: 4, nBlocks: 6, on: backend)
                _ = try CheckpointStore(directory: dir).loadNetwork(g, name: "G", label: "latest")
                let x = io.tensors["input"]!
                let y = withNoGrad { g(Tensor(shape: x.shape, values: x.values, on: backend)) }
                let err = relativeError(y.toArray(), io.tensors["output"]!.values)
                XCTAssertLessThan(err, 1e-4, "\(file) on \(backend.name): \(err)")
            }
        }
    }
}
