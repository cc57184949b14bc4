import XCTest
@testable import CycleGAN

/// Hostile and odd images through the binary: each ends in one `error:` line and exit
/// status 1 with nothing left behind, or succeeds where the image is now handled.
final class ImageInputCLITests: CLITestCase {
    static let root: String = {
        let d = NSTemporaryDirectory() + "cyclegan-image-cli-\(getpid())"
        try? FileManager.default.removeItem(atPath: d)
        // A tiny generator pair (ngf 4, 6 blocks) as `latest` of run "tiny", for `test`.
        var config = CycleGANConfig()
        config.ngf = 4; config.ndf = 4; config.nBlocks = 6; config.seed = 5
        try! CheckpointStore(directory: d + "/ck/tiny").save(CycleGANModel(config, on: CPUBackend()),
                                                             progress: TrainProgress(epoch: 1, epochIter: 0, totalIters: 0, lr: 2e-4),
                                                             label: "latest")
        return d
    }()

    /// A fresh dataset (2 images of 40×40 in each of trainA, trainB, testA, testB) with
    /// `extra` files added under it.
    func dataset(_ name: String, _ extra: [String: [UInt8]] = [:]) throws -> String {
        let d = Self.root + "/data-" + name
        try? FileManager.default.removeItem(atPath: d)
        try DemoData.write(to: d, trainCount: 2, testCount: 2, size: 40, seed: 3)
        for (path, bytes) in extra { writeBytes(bytes, to: d + "/" + path) }
        return d
    }

    func png(_ width: Int, _ height: Int, seed: UInt64 = 1) throws -> [UInt8] {
        try ImageIO.encodePNG(randomImage(width: width, height: height, seed: seed).pixels, width: width, height: height,
                              colorType: 2, bitDepth: 8)
    }

    /// Trains 1 epoch of run `name` on `data` (tiny networks, cpu-ref).
    func train(_ name: String, _ data: String, _ extra: [String]) throws -> Result {
        try cyclegan(["train", "--name", name, "--dataroot", data, "--checkpoints_dir", Self.root + "/ck",
                      "--ngf", "4", "--ndf", "4", "--netG", "resnet_6blocks", "--device", "cpu-ref",
                      "--n_epochs", "1", "--n_epochs_decay", "0", "--serial_batches"] + extra, timeout: 300)
    }

    /// Asserts one error line containing `text`, and that the run left no folder.
    func assertRefused(_ name: String, _ r: Result, contains text: String, file: StaticString = #filePath, line: UInt = #line) {
        assertOneLineError(r, contains: text, file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.root + "/ck/" + name), "ck/\(name) left behind", file: file, line: line)
    }

    func testTrainRefusesSizesItCannotUseBeforeTheFirstStep() throws {
        let small = try dataset("small", ["trainA/small.png": try png(20, 18)])
        assertRefused("small", try train("small", small, ["--preprocess", "crop", "--crop_size", "32"]),
                      contains: "small.png (20x18): smaller than --crop_size 32")
        let skipped = try train("small", small, ["--preprocess", "crop", "--crop_size", "32", "--skip_bad_images"])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("warning: skipping \(small)/trainA/small.png (20x18)"), skipped.stderr)

        let odd = try dataset("odd", ["trainA/odd.png": try png(41, 40)])
        assertRefused("odd", try train("odd", odd, ["--preprocess", "scale_width", "--load_size", "36", "--crop_size", "32"]),
                      contains: "odd.png (41x40): --preprocess scale_width makes it 36x35")

        let one = try dataset("one", ["trainA/one.png": try png(1, 1)])
        assertRefused("one", try train("one", one, ["--preprocess", "none"]), contains: "one.png (1x1): --preprocess none makes it 4x4")

        // The options' own checks.
        let clean = try dataset("clean")
        for (args, text) in [(["--crop_size", "20", "--load_size", "36"], "--crop_size: 20 is smaller than the networks' minimum side of 24"),
                             (["--crop_size", "32", "--load_size", "36", "--netD", "n_layers", "--n_layers_D", "4"], "minimum side of 48"),
                             (["--n_layers_D", "64", "--netD", "n_layers"], "--n_layers_D: expected 1 to 10, got 64"),
                             (["--preprocess", "scale_width", "--load_size", "286"], "--load_size: 286 is not a multiple of 4"),
                             (["--load_size", "40000"], "--load_size: images resized to 40000x40000"),
                             (["--load_size", "100000"], "--load_size: expected 1 to 65536, got 100000"),
                             (["--max_pixels", "0"], "--max_pixels: expected 1 to 1000000000, got 0"),
                             (["--max_pixels", "lots"], "--max_pixels: expected a whole number of pixels, got \"lots\""),
                             (["--ngf=-4"], "--ngf: expected 1 to 512, got -4")] {
            assertRefused("opts", try train("opts", clean, args), contains: text)
        }
    }

    func testNamedPipeIsSkippedAndSymlinkUsed() throws {
        let data = try dataset("links")
        XCTAssertEqual(mkfifo(data + "/trainA/x.png", 0o600), 0)
        writeBytes(try png(40, 40), to: data + "/elsewhere/real.png")
        try FileManager.default.createSymbolicLink(atPath: data + "/trainA/link.png", withDestinationPath: data + "/elsewhere/real.png")
        try FileManager.default.createDirectory(atPath: data + "/trainA/folder.jpg", withIntermediateDirectories: true)
        let r = try train("links", data, ["--load_size", "36", "--crop_size", "32"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: skipping \(data)/trainA/x.png: a named pipe, not an image file"), r.stderr)
        XCTAssertTrue(r.stdout.contains("The number of training images = 3"), r.stdout)  // 0000.png, 0001.png, link.png

        // test reads the same way: a pipe among the test images is skipped too.
        XCTAssertEqual(mkfifo(data + "/testA/y.png", 0o600), 0)
        let t = try cyclegan(["test", "--name", "tiny", "--dataroot", data, "--checkpoints_dir", Self.root + "/ck",
                              "--results_dir", Self.root + "/results-links", "--ngf", "4", "--netG", "resnet_6blocks", "--device", "cpu-ref"],
                             timeout: 300)
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stderr.contains("y.png: a named pipe"), t.stderr)
    }

    func testDamagedImagesAreOneLineErrors() throws {
        var jpeg = try ImageIO.encodeJPEG(randomImage(width: 32, height: 32, seed: 4).pixels, width: 32, height: 32, channels: 3)
        let sof = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        let sos = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xDA })
        let middle = sos + (jpeg.count - sos) / 2
        let corrupt = Array(jpeg[..<middle]) + [0xFF, 0xD3] + Array(jpeg[middle...])
        jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [0x27, 0x10, 0x27, 0x10])  // 10000×10000
        var big = jpeg
        big.replaceSubrange((sof + 5)..<(sof + 9), with: [0x13, 0x88, 0x13, 0x88])  // 5000×5000
        // Refused from their headers, before the run begins.
        let cases: [(String, [UInt8], String)] = [
            ("huge.jpg", jpeg, "huge.jpg: image is 10000x10000 (100000000 pixels), more than --max_pixels 50000000"),
            ("big.jpg", big, "big.jpg: JPEG declares 5000x5000 pixels, more than its"),
            ("bomb.png", pngHeader(width: 5000, height: 5000), "bomb.png: PNG declares 5000x5000 pixels"),
        ]
        for (i, (file, bytes, text)) in cases.enumerated() {
            let data = try dataset("damaged\(i)", ["trainA/" + file: bytes])
            assertRefused("damaged", try train("damaged", data, ["--load_size", "36", "--crop_size", "32"]), contains: text)
        }
        // Damage inside the image data shows only when it is decoded, in the first epoch.
        let data = try dataset("corrupt", ["trainA/0001.jpg": corrupt])
        assertOneLineError(try train("corrupt", data, ["--load_size", "36", "--crop_size", "32"]),
                           contains: "0001.jpg: Corrupt JPEG data: premature end of data segment")
        // --max_pixels also bounds what the resize makes.
        assertRefused("capped", try train("capped", data, ["--load_size", "36", "--crop_size", "32", "--max_pixels", "1000"]),
                      contains: "--load_size: images resized to 36x36 would have more than --max_pixels 1000")
        // --max_pixels bounds the files themselves, from their headers, before the first step.
        assertRefused("cappedfile", try train("cappedfile", try dataset("cappedfile"), ["--load_size", "32", "--crop_size", "32",
                                                                                      "--max_pixels", "1500"]),
                      contains: "0000.png: image is 40x40 (1600 pixels), more than --max_pixels 1500")
    }

    func testTestTranslatesTinyAndOddImagesAtTheirOwnSize() throws {
        let input = Self.root + "/tiny-in"
        let sizes = [(1, 1), (3, 3), (4, 4), (3, 64), (7, 5), (41, 27)]
        for (w, h) in sizes { writeBytes(try png(w, h), to: "\(input)/\(w)x\(h).png") }
        let deep = (0..<(4 * 4 * 3)).map { UInt16($0 * 1300) }
        writeBytes(try deep.withUnsafeBytes { try ImageIO.encodePNG(Array($0), width: 4, height: 4, colorType: 2, bitDepth: 16) },
                   to: input + "/deep.png")
        for extra in [[], ["--preprocess", "none"]] {
            let results = Self.root + "/tiny-results\(extra.count)"
            let r = try cyclegan(["test", "--name", "tiny", "--model", "test", "--model_suffix", "_A", "--dataroot", input,
                                  "--checkpoints_dir", Self.root + "/ck", "--results_dir", results, "--device", "cpu-ref",
                                  "--ngf", "4", "--netG", "resnet_6blocks"] + extra, timeout: 300)
            XCTAssertEqual(r.status, 0, r.stderr)
            for (w, h) in sizes {
                let fake = try ImageIO.load("\(results)/tiny/test_latest/images/\(w)x\(h)_fake.png")
                XCTAssertEqual([fake.width, fake.height], [w, h], "\(w)x\(h) \(extra)")
            }
            let deepFake = try ImageIO.load("\(results)/tiny/test_latest/images/deep_fake.png")
            XCTAssertEqual([deepFake.width, deepFake.height], [4, 4])
        }
    }

    func testTestChecksItsOptionsTheSavedOptionsAndMaxPixels() throws {
        let data = try dataset("testopts")
        func test(_ name: String, _ extra: [String] = []) throws -> Result {
            try cyclegan(["test", "--name", name, "--dataroot", data, "--checkpoints_dir", Self.root + "/ck",
                          "--results_dir", Self.root + "/results-\(name)", "--device", "cpu-ref"] + extra, timeout: 300)
        }
        func assertNothingWritten(_ name: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertFalse(FileManager.default.fileExists(atPath: Self.root + "/results-\(name)"), file: file, line: line)
        }
        // A run whose saved options are damaged: named, with what was expected.
        for (name, key, value, text) in [("negngf", "ngf", "-4", "ngf: expected 1 to 512, got -4"),
                                         ("nc2", "input_nc", "2", "input_nc: expected 1 or 3, got 2"),
                                         ("unet", "netG", "unet_512", "netG: \"unet_512\" is not one of")] {
            let run = Self.root + "/ck/" + name
            try? FileManager.default.removeItem(atPath: run)
            try FileManager.default.copyItem(atPath: Self.root + "/ck/tiny", toPath: run)
            var saved = ["ngf": "4", "netG": "resnet_6blocks", "input_nc": "3", "output_nc": "3"]
            saved[key] = value
            let json = try JSONSerialization.data(withJSONObject: saved)
            FileManager.default.createFile(atPath: run + "/train_opt.json", contents: json)
            assertOneLineError(try test(name), contains: "\(run)/train_opt.json: \(text)")
            assertNothingWritten(name)
        }
        // A named pipe where the options should be does not hang.
        let piped = Self.root + "/ck/piped"
        try? FileManager.default.removeItem(atPath: piped)
        try FileManager.default.copyItem(atPath: Self.root + "/ck/tiny", toPath: piped)
        XCTAssertEqual(mkfifo(piped + "/train_opt.json", 0o600), 0)
        assertOneLineError(try test("piped"), contains: "train_opt.json: a named pipe, not a regular file")

        let tiny = ["--ngf", "4", "--netG", "resnet_6blocks"]
        for (args, text) in [(["--ngf", "0"], "--ngf: expected 1 to 512, got 0"), (["--input_nc", "2"], "--input_nc: expected 1 or 3, got 2"),
                             (["--max_pixels=-1"], "--max_pixels: expected a whole number of pixels, got \"-1\""), (["--direction", "up"], "--direction")] {
            assertOneLineError(try test("tiny", tiny + args), contains: text)
            assertNothingWritten("tiny")
        }
        assertOneLineError(try test("tiny", tiny + ["--max_pixels", "1000"]), contains: "image is 40x40 (1600 pixels), more than --max_pixels 1000")
        assertNothingWritten("tiny")
        // The header is fine, the pixels are cut off: found while translating; what was written goes.
        let cut = try png(40, 40, seed: 7)
        writeBytes(Array(cut.prefix(cut.count / 2)), to: data + "/testB/0001.png")
        assertOneLineError(try test("tiny", tiny), contains: "testB/0001.png: file is truncated")
        assertNothingWritten("tiny")
    }
}
