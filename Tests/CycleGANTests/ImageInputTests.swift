import XCTest
@testable import CycleGAN

/// Hostile and odd inputs at the library level: tiny and odd-sized images at test time,
/// size checks before training, folders holding things that are not files, damaged and
/// bomb-like headers, and the pixel cap.
final class ImageInputTests: XCTestCase {
    /// Writes a PNG, creating its folder.
    func savePNG(_ image: Image, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try ImageIO.savePNG(image, to: path)
    }

    // MARK: Minimum sides

    func testNetworkMinimumSidesAreTheSmallestTheNetworksTake() throws {
        XCTAssertEqual(NetworkSize.generatorMinimum, 8)
        XCTAssertEqual(NetworkSize.trainingMinimum(netD: "basic", nLayers: 7), 24)
        XCTAssertEqual(NetworkSize.trainingMinimum(netD: "n_layers", nLayers: 4), 48)
        XCTAssertEqual(NetworkSize.trainingMinimum(netD: "n_layers", nLayers: 1), 8)  // the discriminator's 6, the generator's 8
        XCTAssertEqual(NetworkSize.trainingMinimum(netD: "pixel", nLayers: 3), 8)
        XCTAssertEqual((1...13).map { NetworkSize.generatorInput($0) }, [8, 8, 8, 8, 8, 8, 8, 8, 12, 12, 12, 12, 16])
        // At exactly those sides the networks run and give the expected shapes.
        let backend = CPUBackend()
        let g = ResnetGenerator(ngf: 2, nBlocks: 1, on: backend)
        initWeights(g, seed: 1)
        let d = NLayerDiscriminator(ndf: 2, nLayers: 3, on: backend)
        initWeights(d, seed: 2)
        let d1 = NLayerDiscriminator(ndf: 2, nLayers: 1, on: backend)
        initWeights(d1, seed: 3)
        withNoGrad {
            XCTAssertEqual(g(Tensor(filled: 0.5, shape: [1, 3, 8, 12], on: backend)).shape, [1, 3, 8, 12])
            XCTAssertEqual(d(Tensor(filled: 0.5, shape: [1, 3, 24, 24], on: backend), record: nil).shape, [1, 1, 1, 1])
            XCTAssertEqual(d1(Tensor(filled: 0.5, shape: [1, 3, 6, 6], on: backend), record: nil).shape, [1, 1, 1, 1])
        }
    }

    // MARK: Test time: any decodable image, at its own size

    func testPadEdgesReflectsThenRepeatsAndCropsBack() {
        let row = Image(width: 3, height: 1, channels: 1, pixels: [10, 20, 30])
        XCTAssertEqual(padEdges(row, width: 8, height: 2).pixels,
                       [10, 20, 30, 20, 10, 10, 10, 10,
                        10, 20, 30, 20, 10, 10, 10, 10])
        let one = Image(width: 1, height: 1, filledWith: [1, 2, 3])
        XCTAssertEqual(padEdges(one, width: 8, height: 8), Image(width: 8, height: 8, filledWith: [1, 2, 3]))
        let image = randomImage(width: 7, height: 5, seed: 1)
        XCTAssertEqual(crop(padEdges(image, width: 8, height: 8), x: 0, y: 0, width: 7, height: 5), image)
    }

    /// A checkpoint of a tiny generator pair (ngf 4, 6 blocks) under `<dir>/ck/tiny`.
    func makeCheckpoint(_ dir: String) throws -> TestOptions {
        var config = CycleGANConfig()
        config.ngf = 4; config.ndf = 4; config.nBlocks = 6; config.seed = 5
        let model = CycleGANModel(config, on: CPUBackend())
        try CheckpointStore(directory: dir + "/ck/tiny").save(model, progress: TrainProgress(epoch: 1, epochIter: 0, totalIters: 0, lr: 2e-4), label: "latest")
        var o = TestOptions()
        o.name = "tiny"; o.checkpointsDir = dir + "/ck"; o.resultsDir = dir + "/results"
        o.ngf = 4; o.netG = "resnet_6blocks"
        o.model = "test"; o.modelSuffix = "_A"
        return o
    }

    func testTinyAndOddImagesTranslateToTheirOwnSize() throws {
        let dir = makeTempFolder(self)
        var o = try makeCheckpoint(dir)
        let sizes = [(1, 1), (3, 3), (4, 4), (3, 64), (7, 5), (41, 27)]
        var originals: [String: Image] = [:]
        for (w, h) in sizes {
            let image = randomImage(width: w, height: h, seed: UInt64(w * 100 + h))
            originals["\(w)x\(h)"] = image
            try savePNG(image, to: "\(dir)/in/\(w)x\(h).png")
        }
        // 16-bit samples, 3×3.
        let deep = (0..<27).map { UInt16($0 * 2400) }
        writeBytes(try deep.withUnsafeBytes { try ImageIO.encodePNG(Array($0), width: 3, height: 3, colorType: 2, bitDepth: 16) },
                   to: "\(dir)/in/deep16.png")
        o.dataroot = dir + "/in"
        for preprocess in [nil, PreprocessMode.none] {
            o.preprocess = preprocess
            o.resultsDir = dir + "/results-\(preprocess?.rawValue ?? "native")"
            XCTAssertEqual(try Translator(options: o, backend: CPUBackend()).run(say: { _ in }), sizes.count + 1)
            let out = o.resultsDir + "/tiny/test_latest/images"
            for (w, h) in sizes {
                let fake = try ImageIO.load("\(out)/\(w)x\(h)_fake.png")
                XCTAssertEqual([fake.width, fake.height], [w, h], "\(w)x\(h) with \(preprocess?.rawValue ?? "no --preprocess")")
                XCTAssertEqual(try ImageIO.load("\(out)/\(w)x\(h)_real.png"), originals["\(w)x\(h)"])
            }
            let fake16 = try ImageIO.load("\(out)/deep16_fake.png")
            XCTAssertEqual([fake16.width, fake16.height], [3, 3])
        }
    }

    func testTestTimeOptionsAndSavedOptionsAreChecked() throws {
        var o = TestOptions()
        func problem(_ change: (inout TestOptions) -> Void) -> String? {
            var t = TestOptions()
            change(&t)
            return errorDescription { try t.validate() }
        }
        XCTAssertNil(problem { _ in })
        XCTAssertEqual(problem { $0.ngf = -4 }, "--ngf: expected 1 to 512, got -4")
        XCTAssertEqual(problem { $0.inputNC = 2 }, "--input_nc: expected 1 or 3, got 2")
        XCTAssertEqual(problem { $0.outputNC = 0 }, "--output_nc: expected 1 or 3, got 0")
        XCTAssertEqual(problem { $0.netG = "unet_512" }, "--netG: \"unet_512\" is not one of resnet_9blocks, resnet_6blocks, unet_256, unet_128")
        XCTAssertEqual(problem { $0.norm = "group" }, "--norm: \"group\" is not one of instance, batch, none")
        XCTAssertNil(problem { $0.model = "pix2pix"; $0.netG = "unet_256"; $0.norm = "batch" })
        XCTAssertEqual(problem { $0.model = "colorization" }, "--model: expected cycle_gan, pix2pix or test, got \"colorization\"")
        XCTAssertEqual(problem { $0.maxPixels = 0 }, "--max_pixels: expected 1 to 1000000000, got 0")
        XCTAssertEqual(problem { $0.direction = "sideways" }, "--direction: expected AtoB or BtoA, got \"sideways\"")
        XCTAssertEqual(problem { $0.preprocess = .resize_and_crop; $0.loadSize = 40_000 },
                       "--load_size: images resized to 40000x40000 would have more than --max_pixels 50000000")
        XCTAssertEqual(problem { $0.loadSize = 100_000 }, "--load_size: expected 1 to 65536, got 100000")

        let path = "/runs/x/train_opt.json"
        XCTAssertEqual(errorDescription { try o.adopt(["ngf": "-4"], from: path) }, "\(path): ngf: expected 1 to 512, got -4")
        XCTAssertEqual(errorDescription { try o.adopt(["input_nc": "2"], from: path) }, "\(path): input_nc: expected 1 or 3, got 2")
        XCTAssertEqual(errorDescription { try o.adopt(["ngf": "many"], from: path) }, "\(path): ngf: expected a whole number, got \"many\"")
        XCTAssertEqual(errorDescription { try o.adopt(["netG": "x"], from: path) },
                       "\(path): netG: \"x\" is not one of resnet_9blocks, resnet_6blocks, unet_256, unet_128")
        try o.adopt(["ngf": "8", "netG": "resnet_6blocks", "input_nc": "1", "output_nc": "3", "lr": "0.1"], from: path)
        XCTAssertEqual([o.ngf, o.nBlocks, o.inputNC, o.outputNC], [8, 6, 1, 3])

        let dir = makeTempFolder(self)
        XCTAssertNil(try TestOptions.savedTrainOptions(dir + "/none.json"))
        writeBytes(Array("[1, 2]".utf8), to: dir + "/list.json")
        XCTAssertEqual(errorDescription { _ = try TestOptions.savedTrainOptions(dir + "/list.json") },
                       "\(dir)/list.json is not a JSON object of options (delete it, or pass --ngf, --netG, --input_nc and --output_nc)")
        XCTAssertEqual(mkfifo(dir + "/pipe.json", 0o600), 0)
        XCTAssertEqual(errorDescription { _ = try TestOptions.savedTrainOptions(dir + "/pipe.json") },
                       "cannot read \(dir)/pipe.json: a named pipe, not a regular file")
        writeBytes(Array(#"{"ngf": "4", "netG": "resnet_6blocks"}"#.utf8), to: dir + "/ok.json")
        XCTAssertEqual(try TestOptions.savedTrainOptions(dir + "/ok.json"), ["ngf": "4", "netG": "resnet_6blocks"])
    }

    func testTestRefusesImagesOverMaxPixelsAndWritesNothing() throws {
        let dir = makeTempFolder(self)
        var o = try makeCheckpoint(dir)
        try savePNG(randomImage(width: 3, height: 64, seed: 1), to: dir + "/in/thin.png")
        o.dataroot = dir + "/in"
        o.maxPixels = 200  // 3×64 = 192 fits; padded to 8×64 it does not
        XCTAssertEqual(errorDescription { try Translator(options: o, backend: CPUBackend()).run(say: { _ in }) },
                       "cannot read \(dir)/in/thin.png: image is 3x64; padded for the generator it is 8x64, more than --max_pixels 200")
        o.maxPixels = 100
        XCTAssertEqual(errorDescription { try Translator(options: o, backend: CPUBackend()).run(say: { _ in }) },
                       "cannot read \(dir)/in/thin.png: image is 3x64 (192 pixels), more than --max_pixels 100")
        XCTAssertFalse(FileManager.default.fileExists(atPath: o.resultsDir))

        // A file that passes the header checks but fails to decode later: what was written goes.
        o.maxPixels = ImageIO.defaultMaxPixels
        try savePNG(randomImage(width: 20, height: 20, seed: 2), to: dir + "/in/a.png")
        let png = try ImageIO.encodePNG(randomImage(width: 20, height: 20, seed: 3).pixels, width: 20, height: 20, colorType: 2, bitDepth: 8)
        writeBytes(Array(png.prefix(png.count / 2)), to: dir + "/in/b.png")
        XCTAssertEqual(errorDescription { try Translator(options: o, backend: CPUBackend()).run(say: { _ in }) },
                       "cannot read \(dir)/in/b.png: file is truncated")
        XCTAssertFalse(FileManager.default.fileExists(atPath: o.resultsDir))
    }

    // MARK: Training: sizes checked from the headers, before the first step

    func testSizeProblemsNameTheSizeAndTheOption() {
        func problem(_ mode: PreprocessMode, _ w: Int, _ h: Int, load: Int = 36, crop: Int = 32, minimum: Int = 24,
                     maxPixels: UInt64 = ImageIO.defaultMaxPixels) -> String? {
            var t = TransformOptions()
            t.preprocess = mode; t.loadSize = load; t.cropSize = crop; t.minimumSide = minimum; t.maxPixels = maxPixels
            return t.sizeProblem(width: w, height: h)
        }
        XCTAssertEqual(problem(.crop, 20, 18), "smaller than --crop_size 32: lower --crop_size, or use --preprocess resize_and_crop")
        XCTAssertNil(problem(.crop, 32, 40))
        XCTAssertEqual(problem(.scale_width, 41, 40),
                       "--preprocess scale_width makes it 36x35, but the networks need sides that are multiples of 4 and at least 24: "
                       + "use --preprocess scale_width_and_crop, or another --load_size (and --crop_size, the least height)")
        XCTAssertNil(problem(.scale_width, 36, 40))
        XCTAssertNil(problem(.scale_width_and_crop, 41, 40))
        XCTAssertEqual(problem(.none, 1, 1),
                       "--preprocess none makes it 4x4 (each side to the nearest multiple of 4), but the networks need sides "
                       + "that are multiples of 4 and at least 24: use --preprocess resize_and_crop, or a --netD that takes smaller images")
        XCTAssertNil(problem(.none, 1, 1, minimum: 4))
        XCTAssertNil(problem(.none, 22, 30))  // 24×28
        XCTAssertEqual(problem(.resize_and_crop, 5, 5, crop: 16), "--preprocess resize_and_crop makes it 16x16, but the networks need "
                       + "sides that are multiples of 4 and at least 24: change --crop_size")
        XCTAssertEqual(problem(.scale_width, 10, 10_000, maxPixels: 100_000),
                       "--preprocess scale_width makes it 36x36000, more than --max_pixels 100000")
    }

    func testTrainOptionsCheckSizesAgainstTheNetworks() {
        func problem(_ change: (inout TrainOptions) -> Void) -> String? {
            var o = TrainOptions()
            change(&o)
            return errorDescription { try o.validate() }
        }
        XCTAssertNil(problem { _ in })
        XCTAssertEqual(problem { $0.cropSize = 30; $0.loadSize = 36 }, "--crop_size: 30 is not a multiple of 4, which the generator needs (the side of the crops)")
        XCTAssertEqual(problem { $0.cropSize = 20; $0.loadSize = 36 },
                       "--crop_size: 20 is smaller than the networks' minimum side of 24 (the resnet_9blocks generator needs 8 and the basic discriminator 24)")
        XCTAssertNil(problem { $0.cropSize = 8; $0.loadSize = 8; $0.netD = "pixel" })
        XCTAssertEqual(problem { $0.cropSize = 32; $0.loadSize = 36; $0.netD = "n_layers"; $0.nLayersD = 4 },
                       "--crop_size: 32 is smaller than the networks' minimum side of 48 (the resnet_9blocks generator needs 8 and the n_layers discriminator 48)")
        XCTAssertEqual(problem { $0.netG = "unet_256"; $0.cropSize = 128; $0.loadSize = 143 },
                       "--crop_size: 128 is not a multiple of 256, which the generator needs (the side of the crops)")
        XCTAssertNil(problem { $0.netG = "unet_128"; $0.cropSize = 128; $0.loadSize = 143 })
        XCTAssertEqual(problem { $0.preprocess = .scale_width; $0.loadSize = 286 },
                       "--load_size: 286 is not a multiple of 4, which the generator needs (--preprocess scale_width makes every image this wide)")
        XCTAssertEqual(problem { $0.loadSize = 40_000 }, "--load_size: images resized to 40000x40000 would have more than --max_pixels 50000000")
        XCTAssertEqual(problem { $0.loadSize = 100_000 }, "--load_size: expected 1 to 65536, got 100000")
        XCTAssertEqual(problem { $0.maxPixels = 0 }, "--max_pixels: expected 1 to 1000000000, got 0")
        XCTAssertEqual(problem { $0.ngf = 100_000 }, "--ngf: expected 1 to 512, got 100000")
        XCTAssertEqual(problem { $0.nLayersD = 64 }, "--n_layers_D: expected 1 to 10, got 64")
        XCTAssertEqual(problem { $0.loadSize = 0 }, "--load_size: expected 1 to 65536, got 0")
        XCTAssertNil(problem { $0.preprocess = .none; $0.cropSize = 3 })
    }

    /// trainA with a 40×40 image and the given odd one, trainB with two 40×40 images.
    func makeDataset(odd: Image, name: String = "odd.png") throws -> String {
        let root = makeTempFolder(self)
        for (i, folder) in ["trainA", "trainB", "trainB"].enumerated() {
            try savePNG(randomImage(width: 40, height: 40, seed: UInt64(i)), to: "\(root)/\(folder)/\(i).png")
        }
        try savePNG(odd, to: "\(root)/trainA/\(name)")
        return root
    }

    func testDatasetChecksEverySizeWhenMadeAndSkipsWithAWarning() throws {
        var o = TrainOptions()
        o.loadSize = 36; o.cropSize = 32; o.preprocess = .crop
        let root = try makeDataset(odd: randomImage(width: 20, height: 18, seed: 9))
        XCTAssertEqual(errorDescription { _ = try UnalignedDataset(training: o, dataroot: root) },
                       "cannot train on \(root)/trainA/odd.png (20x18): smaller than --crop_size 32: lower --crop_size, "
                       + "or use --preprocess resize_and_crop (or pass --skip_bad_images to leave such images out)")
        o.skipBadImages = true
        let dataset = try UnalignedDataset(training: o, dataroot: root)
        XCTAssertEqual(dataset.pathsA, [root + "/trainA/0.png"])
        XCTAssertEqual(try dataset.item(0, epoch: 1, seed: 1).shapeA, [3, 32, 32])
        // Every image skipped: said so.
        o.cropSize = 44; o.loadSize = 44
        XCTAssertEqual(errorDescription { _ = try UnalignedDataset(training: o, dataroot: root) },
                       "no usable image in \(root)/trainA: all 2 skipped")

        // The networks' minimum follows --netD; --max_pixels holds on the way.
        var none = TrainOptions()
        none.preprocess = .none
        let tiny = try makeDataset(odd: randomImage(width: 12, height: 12, seed: 9))
        XCTAssertNotNil(errorDescription { _ = try UnalignedDataset(training: none, dataroot: tiny) })
        none.netD = "pixel"
        XCTAssertEqual(try UnalignedDataset(training: none, dataroot: tiny).pathsA.count, 2)
        none.maxPixels = 1000
        XCTAssertEqual(errorDescription { _ = try UnalignedDataset(training: none, dataroot: tiny) },
                       "cannot read \(tiny)/trainA/0.png: image is 40x40 (1600 pixels), more than --max_pixels 1000")
    }

    // MARK: Folders: regular files only

    func testFoldersYieldRegularFilesAndSymlinksToThem() throws {
        let root = try makeDataset(odd: randomImage(width: 40, height: 40, seed: 8), name: "1.png")
        let trainA = root + "/trainA"
        XCTAssertEqual(mkfifo(trainA + "/x.png", 0o600), 0)
        try FileManager.default.createDirectory(atPath: trainA + "/folder.jpg", withIntermediateDirectories: true)
        try savePNG(randomImage(width: 40, height: 40, seed: 7), to: root + "/elsewhere/real.png")
        try FileManager.default.createSymbolicLink(atPath: trainA + "/link.png", withDestinationPath: root + "/elsewhere/real.png")
        try FileManager.default.createSymbolicLink(atPath: trainA + "/broken.png", withDestinationPath: root + "/nowhere.png")
        try FileManager.default.createSymbolicLink(atPath: trainA + "/dev.png", withDestinationPath: "/dev/zero")
        let files = try ImageFolder.files(in: trainA)
        XCTAssertEqual(files, ["0.png", "1.png", "link.png"].map { trainA + "/" + $0 })
        var o = TrainOptions()
        o.loadSize = 36; o.cropSize = 32
        let dataset = try UnalignedDataset(training: o, dataroot: root)
        XCTAssertEqual(dataset.pathsA, files)
        XCTAssertEqual(try dataset.item(2, epoch: 1, seed: 1).shapeA, [3, 32, 32])
        // Read directly, they name what they are.
        XCTAssertEqual(errorDescription { _ = try ImageIO.load(trainA + "/x.png") }, "cannot read \(trainA)/x.png: a named pipe, not a regular file")
        XCTAssertEqual(errorDescription { _ = try ImageIO.probe(trainA + "/dev.png") },
                       "cannot read \(trainA)/dev.png: a character device, not a regular file")
        XCTAssertEqual(errorDescription { _ = try ImageIO.load(trainA + "/broken.png") }, "cannot read \(trainA)/broken.png: a broken symbolic link")
        XCTAssertEqual(errorDescription { _ = try ImageIO.load(trainA + "/folder.jpg") }, "cannot read \(trainA)/folder.jpg: is a folder")
    }

    // MARK: Decoders

    /// A small JPEG whose frame header is patched to `width`×`height`, its data untouched.
    func jpegDeclaring(width: UInt16, height: UInt16) throws -> [UInt8] {
        var jpeg = try ImageIO.encodeJPEG(randomImage(width: 32, height: 32, seed: 4).pixels, width: 32, height: 32, channels: 3)
        let sof = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [UInt8(height >> 8), UInt8(height & 255), UInt8(width >> 8), UInt8(width & 255)])
        return jpeg
    }

    func testTruncatedJPEGDeclaringAHugeSizeIsRefusedBeforeDecoding() throws {
        let dir = makeTempFolder(self)
        let huge = try jpegDeclaring(width: 10000, height: 10000)
        writeBytes(huge, to: dir + "/huge.jpg")
        XCTAssertLessThan(huge.count, 4000)
        for read in [{ _ = try ImageIO.load($0) }, { _ = try ImageIO.probe($0) }] as [(String) throws -> Void] {
            XCTAssertEqual(errorDescription { try read(dir + "/huge.jpg") },
                           "cannot read \(dir)/huge.jpg: image is 10000x10000 (100000000 pixels), more than --max_pixels 50000000")
        }
        // Under the cap, the file is still far too short for its pixels.
        let big = try jpegDeclaring(width: 5000, height: 5000)
        writeBytes(big, to: dir + "/big.jpg")
        for read in [{ _ = try ImageIO.load($0) }, { _ = try ImageIO.probe($0) }] as [(String) throws -> Void] {
            XCTAssertEqual(errorDescription { try read(dir + "/big.jpg") },
                           "cannot read \(dir)/big.jpg: JPEG declares 5000x5000 pixels, more than its \(big.count) bytes can hold "
                           + "(one bit per 8x8 block at least): the file is truncated or corrupt")
        }
        // Plausible for its size, but the data runs out: an error, not an image padded with gray.
        let short = try jpegDeclaring(width: 64, height: 64)
        XCTAssertEqual(errorDescription { _ = try ImageIO.decode(Data(short), path: "short.jpg") },
                       "cannot read short.jpg: Corrupt JPEG data: premature end of data segment")
    }

    func testCorruptJPEGDataIsAnError() throws {
        let jpeg = try ImageIO.encodeJPEG(randomImage(width: 32, height: 32, seed: 4).pixels, width: 32, height: 32, channels: 3)
        let sos = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xDA })
        let extraneous = Array(jpeg[..<sos]) + [0, 0] + Array(jpeg[sos...])
        XCTAssertEqual(errorDescription { _ = try ImageIO.decode(Data(extraneous), path: "x.jpg") },
                       "cannot read x.jpg: Corrupt JPEG data: 2 extraneous bytes before marker 0xda")
        let middle = sos + (jpeg.count - sos) / 2
        let marker = Array(jpeg[..<middle]) + [0xFF, 0xD3] + Array(jpeg[middle...])
        XCTAssertEqual(errorDescription { _ = try ImageIO.decode(Data(marker), path: "x.jpg") },
                       "cannot read x.jpg: Corrupt JPEG data: premature end of data segment")
        let cut = Array(jpeg.prefix(middle)) + [0xFF, 0xD9]
        XCTAssertNotNil(errorDescription { _ = try ImageIO.decode(Data(cut), path: "x.jpg") })
        // The undamaged file decodes, as do the PIL fixtures (progressive, CMYK, gray).
        XCTAssertEqual(try ImageIO.decode(Data(jpeg), path: "x.jpg").width, 32)
        for name in ["progressive.jpg", "cmyk.jpg", "gray.jpg", "rgb420.jpg", "rgb444.jpg"] {
            let path = PILReference.directory.appendingPathComponent(name).path
            let image = try ImageIO.load(path)
            XCTAssertEqual(try ImageIO.probe(path), ImageHeader(width: image.width, height: image.height), name)
        }
    }

    func testPNGBombHeaderIsRefusedButMaximallyCompressedImagesDecode() throws {
        let dir = makeTempFolder(self)
        let bomb = pngHeader(width: 5000, height: 5000)
        writeBytes(bomb, to: dir + "/bomb.png")
        for read in [{ _ = try ImageIO.load($0) }, { _ = try ImageIO.probe($0) }] as [(String) throws -> Void] {
            XCTAssertEqual(errorDescription { try read(dir + "/bomb.png") },
                           "cannot read \(dir)/bomb.png: PNG declares 5000x5000 pixels (75005000 bytes of scanlines), more than deflate "
                           + "can expand its \(bomb.count) bytes into: the file is truncated or corrupt")
        }
        // A flat image compresses about as far as deflate goes (about 1029:1): it is accepted.
        for (depth, type) in [(8, 0), (16, 2)] {
            let w = 3000, h = 1000, samples = w * h * (type == 2 ? 3 : 1) * depth / 8
            let png = try ImageIO.encodePNG([UInt8](repeating: 0, count: samples), width: w, height: h, colorType: type, bitDepth: depth)
            writeBytes(png, to: dir + "/flat.png")
            XCTAssertEqual(try ImageIO.probe(dir + "/flat.png"), ImageHeader(width: w, height: h))
            XCTAssertEqual(try ImageIO.load(dir + "/flat.png").width, w)
        }
        // A header cut short: the probe says so.
        writeBytes(Array(bomb.prefix(20)), to: dir + "/cut.png")
        XCTAssertEqual(errorDescription { _ = try ImageIO.probe(dir + "/cut.png") }, "cannot read \(dir)/cut.png: file is truncated")
    }

    func testMaxPixelsHoldsForEveryRead() throws {
        let dir = makeTempFolder(self)
        try savePNG(randomImage(width: 40, height: 30, seed: 1), to: dir + "/a.png")
        writeBytes(try ImageIO.encodeJPEG(randomImage(width: 40, height: 30, seed: 1).pixels, width: 40, height: 30, channels: 3),
                   to: dir + "/a.jpg")
        for name in ["a.png", "a.jpg"] {
            XCTAssertEqual(try ImageIO.probe(dir + "/" + name, maxPixels: 1200), ImageHeader(width: 40, height: 30))
            XCTAssertEqual(try ImageIO.load(dir + "/" + name, maxPixels: 1200).height, 30)
            let expected = "cannot read \(dir)/\(name): image is 40x30 (1200 pixels), more than --max_pixels 1199"
            XCTAssertEqual(errorDescription { _ = try ImageIO.probe(dir + "/" + name, maxPixels: 1199) }, expected)
            XCTAssertEqual(errorDescription { _ = try ImageIO.load(dir + "/" + name, maxPixels: 1199) }, expected)
        }
        // No file is read past what an image of the cap could need: a valid PNG followed by
        // 64 MiB of (sparse) zeros is refused before it is read; its header alone is fine.
        XCTAssertEqual(ImageIO.maxFileBytes(maxPixels: 10), 80 + (64 << 20))
        writeBytes(try ImageIO.encodePNG([UInt8](repeating: 7, count: 2 * 2 * 3), width: 2, height: 2, colorType: 2, bitDepth: 8),
                   to: dir + "/long.png")
        XCTAssertEqual(truncate(dir + "/long.png", 65 << 20), 0)
        XCTAssertEqual(try ImageIO.probe(dir + "/long.png", maxPixels: 10), ImageHeader(width: 2, height: 2))
        XCTAssertEqual(errorDescription { _ = try ImageIO.load(dir + "/long.png", maxPixels: 10) },
                       "cannot read \(dir)/long.png: file is \(65 << 20) bytes, more than an image of --max_pixels 10 needs")
        XCTAssertEqual(ImageIO.maxFileBytes(maxPixels: UInt64.max), Int.max / 2)
    }

    /// A progressive JPEG of `scans` repeated AC scans (valid as far as libjpeg checks: each
    /// costs a pass over the coefficients). Gray, `side`², all-zero coefficients.
    static func manyScanJPEG(side: Int, scans: Int) -> [UInt8] {
        func seg(_ marker: UInt8, _ d: [UInt8]) -> [UInt8] {
            [0xFF, marker] + withUnsafeBytes(of: UInt16(d.count + 2).bigEndian, Array.init) + d
        }
        let s16 = withUnsafeBytes(of: UInt16(side).bigEndian, Array.init)
        var j: [UInt8] = [0xFF, 0xD8]
        j += seg(0xDB, [0] + [UInt8](repeating: 1, count: 64))
        j += seg(0xC2, [8] + s16 + s16 + [1, 1, 0x11, 0])
        j += seg(0xC4, [0x00, 1] + [UInt8](repeating: 0, count: 15) + [0])           // DC: one 1-bit code, symbol 0
        j += seg(0xC4, [0x10, 1, 1] + [UInt8](repeating: 0, count: 14) + [0xE0, 0])   // AC: EOB run codes
        let blocks = ((side + 7) / 8) * ((side + 7) / 8)
        func sos(_ ss: UInt8, _ se: UInt8) -> [UInt8] { seg(0xDA, [1, 1, 0, ss, se, 0]) }
        j += sos(0, 0) + [UInt8](repeating: 0, count: (blocks + 7) / 8)
        let bits = blocks / 16384 * 15
        var data = [UInt8](repeating: 0, count: (bits + 7) / 8)
        let pad = data.count * 8 - bits
        if pad > 0 { data[data.count - 1] |= UInt8((1 << pad) - 1) }
        for _ in 0..<scans { j += sos(1, 63) + data }
        return j + [0xFF, 0xD9]
    }

    /// More than 500 scans is refused (10,000 scans of a 4096² image took 10 s to decode);
    /// a few decode.
    func testJPEGScansAreLimited() throws {
        let few = try ImageIO.decode(Data(Self.manyScanJPEG(side: 1024, scans: 3)), path: "few.jpg")
        XCTAssertEqual([few.width, few.height], [1024, 1024])
        XCTAssertThrowsError(try ImageIO.decode(Data(Self.manyScanJPEG(side: 1024, scans: 600)), path: "many.jpg")) {
            XCTAssertTrue("\($0)".contains("more than 500 scans"), "\($0)")
        }
    }
}
