import Foundation
import XCTest
@testable import CycleGAN

/// Decoding and encoding, PIL-exact resizing, the training transform, the unaligned
/// dataset, the background batch loader and the demo data.
final class DataTests: XCTestCase {
    // MARK: PNG

    func testPNGRoundTripRGBAndGray() throws {
        let dir = makeTempFolder(self)
        let rgb = randomImage(width: 13, height: 7, seed: 1)
        try ImageIO.savePNG(rgb, to: dir + "/rgb.png")
        XCTAssertEqual(try ImageIO.load(dir + "/rgb.png"), rgb)

        let gray = randomImage(width: 5, height: 9, channels: 1, seed: 2)
        try ImageIO.savePNG(gray, to: dir + "/gray.png")
        let loaded = try ImageIO.load(dir + "/gray.png")
        XCTAssertEqual(loaded.channels, 3, "load always gives RGB")
        XCTAssertEqual(loaded.pixels, gray.pixels.flatMap { [$0, $0, $0] }, "gray repeats into R, G and B")
        XCTAssertEqual(errorDescription { try ImageIO.savePNG(rgb, to: dir + "/no/such/folder/x.png") },
                       "cannot write \(dir)/no/such/folder/x.png: No such file or directory")
    }

    func testPNG16BitRoundsEveryValue() throws {
        // One pixel for each of the 65536 values: each must come out as round(v / 257).
        let values = (0..<65536).map { UInt16($0) }
        let bytes = values.withUnsafeBytes { [UInt8]($0) }
        let png = try ImageIO.encodePNG(bytes, width: 256, height: 256, colorType: 0, bitDepth: 16)
        let image = try ImageIO.decode(Data(png), path: "gray16.png")
        XCTAssertEqual(image.width, 256)
        var wrong = 0
        for v in 0..<65536 where image.pixels[3 * v] != UInt8((v + 128) / 257) || image.pixels[3 * v + 2] != image.pixels[3 * v] {
            wrong += 1
        }
        XCTAssertEqual(wrong, 0)

        // RGBA, 16-bit: alpha dropped, each channel rounded.
        let rgba: [UInt16] = [0, 65535, 32896, 1, 1000, 60000, 128, 65535]
        let png2 = try ImageIO.encodePNG(rgba.withUnsafeBytes { [UInt8]($0) }, width: 2, height: 1, colorType: 6, bitDepth: 16)
        XCTAssertEqual(try ImageIO.decode(Data(png2), path: "rgba16.png").pixels,
                       [0, 255, 128, 4, 233, 0])
    }

    func testPNGAlphaPaletteLowBitDepthAndInterlacedDecode() throws {
        func decode(_ samples: [UInt8], _ w: Int, _ h: Int, type: Int, depth: Int = 8,
                    palette: [UInt8] = [], alpha: [UInt8] = [], interlaced: Bool = false) throws -> [UInt8] {
            let png = try ImageIO.encodePNG(samples, width: w, height: h, colorType: type, bitDepth: depth,
                                            palette: palette, paletteAlpha: alpha, interlaced: interlaced)
            let image = try ImageIO.decode(Data(png), path: "t.png")
            XCTAssertEqual([image.width, image.height, image.channels], [w, h, 3])
            return image.pixels
        }
        // RGBA and gray+alpha: alpha dropped (PIL's convert("RGB")), colours unchanged.
        XCTAssertEqual(try decode([10, 20, 30, 0, 40, 50, 60, 255], 2, 1, type: 6), [10, 20, 30, 40, 50, 60])
        XCTAssertEqual(try decode([7, 0, 200, 128], 2, 1, type: 4), [7, 7, 7, 200, 200, 200])
        // Palette, with transparency on one entry (ignored), and a 4-bit palette.
        let palette: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255]
        XCTAssertEqual(try decode([2, 0, 1], 3, 1, type: 3, palette: palette, alpha: [0, 128]),
                       [0, 0, 255, 255, 0, 0, 0, 255, 0])
        XCTAssertEqual(try decode([1, 2, 0], 3, 1, type: 3, depth: 4, palette: palette),
                       [0, 255, 0, 0, 0, 255, 255, 0, 0])
        // 1- and 2-bit gray scale to the full 8-bit range.
        XCTAssertEqual(try decode([0, 1, 1], 3, 1, type: 0, depth: 1), [0, 0, 0, 255, 255, 255, 255, 255, 255])
        XCTAssertEqual(try decode([0, 1, 2, 3], 4, 1, type: 0, depth: 2),
                       [0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255])
        // Adam7 interlacing.
        let image = randomImage(width: 11, height: 9, seed: 3)
        XCTAssertEqual(try decode(image.pixels, 11, 9, type: 2, interlaced: true), image.pixels)
    }

    // MARK: JPEG

    func testJPEGDecodeMatchesPIL() throws {
        for case let entry as [String: Any] in PILReference.json["jpeg"] as! [Any] {
            let name = entry["file"] as! String
            let expected = PILReference.image(entry)
            let image = try ImageIO.load(PILReference.directory.appendingPathComponent(name).path)
            // ISLOW is exact integer arithmetic: libjpeg-turbo 2.1 here matches PIL's 3.2 exactly;
            // one level of slack for other builds.
            XCTAssertLessThanOrEqual(maxLevelDifference(image, expected), 1, name)
        }
    }

    func testJPEGWrittenByUsDecodes() throws {
        // A flat colour survives JPEG almost exactly; CMYK is read as Adobe-inverted.
        let rgb = Image(width: 19, height: 13, filledWith: [200, 100, 50])
        let jpeg = try ImageIO.encodeJPEG(rgb.pixels, width: 19, height: 13, channels: 3)
        XCTAssertLessThanOrEqual(maxLevelDifference(try ImageIO.decode(Data(jpeg), path: "rgb.jpg"), rgb), 2)

        let gray = try ImageIO.encodeJPEG([UInt8](repeating: 90, count: 8 * 8), width: 8, height: 8, channels: 1)
        XCTAssertLessThanOrEqual(maxLevelDifference(try ImageIO.decode(Data(gray), path: "gray.jpg"),
                                                    Image(width: 8, height: 8, filledWith: [90, 90, 90])), 1)

        // Stored (inverted) C, M, Y, K = 255, 128, 0, 200: R = 255·200/255, G ≈ 128·200/255, B = 0.
        let cmyk = [UInt8]([255, 128, 0, 200].repeated(64))
        let decoded = try ImageIO.decode(Data(try ImageIO.encodeJPEG(cmyk, width: 8, height: 8, channels: 4)), path: "cmyk.jpg")
        XCTAssertLessThanOrEqual(maxLevelDifference(decoded, Image(width: 8, height: 8, filledWith: [200, 100, 0])), 2)
    }

    // MARK: Errors

    func testUnreadableFilesNameTheFile() throws {
        let dir = makeTempFolder(self)
        writeBytes(Array("hello".utf8), to: dir + "/text.png")
        writeBytes([0x42, 0x4D, 0, 0, 0, 0], to: dir + "/x.bmp")
        writeBytes([], to: dir + "/empty.jpg")
        XCTAssertEqual(errorDescription { _ = try ImageIO.load(dir + "/text.png") },
                       "cannot read \(dir)/text.png: not a JPEG or PNG file")
        XCTAssertEqual(errorDescription { _ = try ImageIO.load(dir + "/x.bmp") },
                       "cannot read \(dir)/x.bmp: not a JPEG or PNG file")
        XCTAssertEqual(errorDescription { _ = try ImageIO.load(dir + "/empty.jpg") },
                       "cannot read \(dir)/empty.jpg: not a JPEG or PNG file")
        XCTAssertEqual(errorDescription { _ = try ImageIO.load(dir + "/missing.png") },
                       "cannot read \(dir)/missing.png: no such file")
        // The format comes from the contents, not the name.
        try ImageIO.savePNG(randomImage(width: 3, height: 2, seed: 4), to: dir + "/png-named.jpg")
        XCTAssertEqual(try ImageIO.load(dir + "/png-named.jpg").width, 3)
    }

    func testTruncatedFilesFail() throws {
        let dir = makeTempFolder(self)
        let image = randomImage(width: 32, height: 32, seed: 5)
        let png = try ImageIO.encodePNG(image.pixels, width: 32, height: 32, colorType: 2, bitDepth: 8)
        writeBytes(Array(png.prefix(png.count / 2)), to: dir + "/cut.png")
        let pngError = errorDescription { _ = try ImageIO.load(dir + "/cut.png") }
        XCTAssertEqual(pngError, "cannot read \(dir)/cut.png: file is truncated")

        let jpeg = try ImageIO.encodeJPEG(image.pixels, width: 32, height: 32, channels: 3)
        writeBytes(Array(jpeg.prefix(jpeg.count * 2 / 3)), to: dir + "/cut.jpg")
        XCTAssertEqual(errorDescription { _ = try ImageIO.load(dir + "/cut.jpg") },
                       "cannot read \(dir)/cut.jpg: Premature end of JPEG file")
    }

    func testHeadersClaimingHugeImagesAreRefusedBeforeAllocating() throws {
        // 200000×200000 RGB would need 120 GB: the header alone must stop it.
        let dir = makeTempFolder(self)
        writeBytes(pngHeader(width: 200_000, height: 200_000), to: dir + "/big.png")
        XCTAssertEqual(errorDescription { _ = try ImageIO.load(dir + "/big.png") },
                       "cannot read \(dir)/big.png: image is 200000x200000 (40000000000 pixels), more than --max_pixels 50000000")

        // A JPEG whose frame header is patched to 20000×20000.
        var jpeg = try ImageIO.encodeJPEG([UInt8](repeating: 0, count: 8 * 8 * 3), width: 8, height: 8, channels: 3)
        let sof = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [0x4E, 0x20, 0x4E, 0x20])
        writeBytes(jpeg, to: dir + "/big.jpg")
        XCTAssertEqual(errorDescription { _ = try ImageIO.load(dir + "/big.jpg") },
                       "cannot read \(dir)/big.jpg: image is 20000x20000 (400000000 pixels), more than --max_pixels 50000000")
    }

    // MARK: Resizing

    func testBicubicResizeMatchesPIL() {
        // Up, down, mixed, 1x1, and shapes where Pillow runs the vertical pass first.
        for (sourceKey, key) in [("source", "resize"), ("smooth", "resize_smooth"), ("gray", "gray_resize")] {
            let source = PILReference.image(PILReference.json[sourceKey]!)
            for expected in PILReference.images(key) {
                let ours = resizeBicubic(source, width: expected.width, height: expected.height)
                XCTAssertEqual(maxLevelDifference(ours, expected), 0, "\(sourceKey) to \(expected.width)x\(expected.height)")
            }
        }
    }

    func testGrayscaleMatchesPIL() {
        let source = PILReference.image(PILReference.json["source"]!)
        XCTAssertEqual(toGrayscale(source), PILReference.image(PILReference.json["gray"]!))
    }

    func testResizeKeepsConstantImagesAndAveragesOnShrink() {
        let flat = Image(width: 7, height: 5, filledWith: [10, 128, 250])
        for (w, h) in [(20, 3), (2, 2), (7, 11), (1, 1)] {
            XCTAssertEqual(resizeBicubic(flat, width: w, height: h), Image(width: w, height: h, filledWith: [10, 128, 250]))
        }
        // A 1-pixel checkerboard shrunk 8 times averages to mid-gray; the same size is a copy.
        let board = Image(width: 64, height: 64, channels: 1,
                          pixels: (0..<(64 * 64)).map { ($0 % 64 + $0 / 64) % 2 == 0 ? 0 : 255 })
        let small = resizeBicubic(board, width: 8, height: 8)
        XCTAssertTrue(small.pixels.allSatisfy { abs(Int($0) - 128) <= 2 }, "\(small.pixels)")
        XCTAssertEqual(resizeBicubic(board, width: 64, height: 64), board)
        // Mirror symmetry: resizing the mirror image gives the mirror of the resized image.
        let image = randomImage(width: 17, height: 6, seed: 6)
        XCTAssertEqual(resizeBicubic(flipHorizontal(image), width: 29, height: 4),
                       flipHorizontal(resizeBicubic(image, width: 29, height: 4)))
    }

    // MARK: Transform

    func testEveryPreprocessModeGivesTheOfficialShape() {
        func shape(_ mode: PreprocessMode, _ w: Int, _ h: Int, load: Int = 286, crop: Int = 256, gray: Bool = false) -> [Int] {
            var options = TransformOptions()
            options.preprocess = mode
            options.loadSize = load
            options.cropSize = crop
            options.grayscale = gray
            var rng = RandomStream(seed: 1)
            let out = applyTransform(Image(width: w, height: h, filledWith: [1, 2, 3]), options, rng: &rng)
            XCTAssertEqual(out.values.count, out.shape.reduce(1, *))
            return out.shape
        }
        XCTAssertEqual(shape(.resize_and_crop, 300, 200), [3, 256, 256])
        XCTAssertEqual(shape(.resize_and_crop, 300, 200, gray: true), [1, 256, 256])
        XCTAssertEqual(shape(.crop, 300, 280), [3, 256, 256])
        XCTAssertEqual(shape(.crop, 300, 200), [3, 200, 256], "a side shorter than the crop is kept whole")
        // scale_width: 286 wide, height 286·200/300 = 190.7 raised to the crop size.
        XCTAssertEqual(shape(.scale_width, 300, 200), [3, 256, 286])
        XCTAssertEqual(shape(.scale_width, 300, 600), [3, 572, 286])
        XCTAssertEqual(shape(.scale_width_and_crop, 300, 600), [3, 256, 256])
        // none: each side to the nearest multiple of 4, halves to even as Python's round.
        XCTAssertEqual(shape(.none, 301, 203), [3, 204, 300])
        XCTAssertEqual(shape(.none, 6, 10), [3, 8, 8])
        XCTAssertEqual(shape(.none, 14, 1), [3, 4, 16])
    }

    func testFlipIsRandomDeterministicAndAMirror() {
        var options = TransformOptions()
        options.preprocess = .crop  // a crop the size of the image: the flip is the only randomness
        options.cropSize = 8
        let image = randomImage(width: 8, height: 8, seed: 7)
        let plain = chwValues(image), mirrored = chwValues(flipHorizontal(image))
        var flips = 0
        for seed in 0..<64 as Range<UInt64> {
            var rng = RandomStream(seed: seed), again = RandomStream(seed: seed)
            let out = applyTransform(image, options, rng: &rng).values
            XCTAssertEqual(out, applyTransform(image, options, rng: &again).values)
            XCTAssertTrue(out == plain || out == mirrored)
            if out == mirrored { flips += 1 }
        }
        XCTAssertTrue((16...48).contains(flips), "\(flips) flips in 64")
        options.flip = false
        for seed in 0..<16 as Range<UInt64> {
            var rng = RandomStream(seed: seed)
            XCTAssertEqual(applyTransform(image, options, rng: &rng).values, plain)
        }
    }

    func testScalingToMinusOneOneAndBack() {
        let image = Image(width: 4, height: 1, channels: 3, pixels: [0, 255, 51, 127, 128, 1, 2, 3, 4, 5, 6, 7])
        let values = chwValues(image)
        XCTAssertEqual(values[0], -1)  // R of pixel 0
        XCTAssertEqual(values[4], 1)   // G of pixel 0 (channel 1 starts at 4)
        XCTAssertEqual(values[1], Float(127) / 127.5 - 1)
        XCTAssertEqual(imageFromCHW(values, shape: [3, 1, 4]), image)

        var options = TransformOptions()
        options.preprocess = .none
        options.flip = false
        for channels in [1, 3] {
            let original = randomImage(width: 12, height: 8, channels: channels, seed: 8)
            var rng = RandomStream(seed: 0)
            let out = applyTransform(original, options, rng: &rng)
            XCTAssertTrue(out.values.allSatisfy { (-1...1).contains($0) })
            XCTAssertEqual(imageFromCHW(out.values, shape: out.shape), original)
            XCTAssertEqual(imageFromCHW(out.values, shape: [1] + out.shape), original)
        }
        // Out of range, and NaN, clamp.
        XCTAssertEqual(imageFromCHW([-3, 2.5, .nan], shape: [1, 1, 3]).pixels, [0, 255, 0])
    }

    // MARK: Dataset

    /// A dataset root with `a` and `b` random w×h PNGs in trainA and trainB.
    func makeDataset(a: Int, b: Int, width: Int = 20, height: Int = 18) throws -> String {
        let root = makeTempFolder(self)
        for (domain, n) in [("A", a), ("B", b)] {
            try FileManager.default.createDirectory(atPath: root + "/train" + domain, withIntermediateDirectories: true)
            for i in 0..<n {
                try ImageIO.savePNG(randomImage(width: width, height: height, seed: UInt64(i * 2 + (domain == "A" ? 0 : 1) + 100)),
                                    to: root + "/train\(domain)/\(String(format: "%02d", i)).png")
            }
        }
        return root
    }

    func smallOptions() -> TransformOptions {
        var options = TransformOptions()
        options.loadSize = 24
        options.cropSize = 16
        options.minimumSide = 8  // the generator's (with the pixel discriminator): these tests are about the data
        return options
    }

    func testDatasetFolderErrors() throws {
        let root = makeTempFolder(self)
        XCTAssertEqual(errorDescription { _ = try UnalignedDataset(dataroot: root, options: TransformOptions()) },
                       "dataset folder \(root)/trainA does not exist")
        writeBytes(Array("notes".utf8), to: root + "/trainA/readme.txt")
        XCTAssertEqual(errorDescription { _ = try UnalignedDataset(dataroot: root, options: TransformOptions()) },
                       "dataset folder \(root)/trainA has no images (.jpg, .jpeg, .png, .ppm, .bmp, .tif, .tiff)")
        writeBytes([1], to: root + "/trainA/x.PNG")
        XCTAssertEqual(errorDescription { _ = try UnalignedDataset(dataroot: root, options: TransformOptions(), maxDatasetSize: 0) },
                       "max_dataset_size must be at least 1, not 0")
        XCTAssertEqual(errorDescription { _ = try UnalignedDataset(dataroot: root + "/", options: TransformOptions()) },
                       "dataset folder \(root)/trainB does not exist")
    }

    func testDatasetListsImagesRecursivelySortedAndTruncated() throws {
        let root = makeTempFolder(self)
        let names = ["b.jpg", "a/z.PNG", "a/y.Jpeg", "c.tiff", "notes.txt", "d.bmp", "sub/deeper/e.ppm"]
        for name in names {
            writeBytes([0], to: root + "/testA/" + name)
        }
        try FileManager.default.createDirectory(atPath: root + "/testA/folder.png", withIntermediateDirectories: true)
        writeBytes([0], to: root + "/testB/only.png")
        let listed = try ImageFolder.files(in: root + "/testA")
        XCTAssertEqual(listed, ["a/y.Jpeg", "a/z.PNG", "b.jpg", "c.tiff", "d.bmp", "sub/deeper/e.ppm"].map { root + "/testA/" + $0 })
        // A .bmp is listed (as the official code lists it) but refused when the dataset is
        // made (every header is read then), naming the file.
        XCTAssertEqual(errorDescription { _ = try UnalignedDataset(dataroot: root, phase: "test", options: smallOptions()) },
                       "cannot read \(root)/testA/a/y.Jpeg: not a JPEG or PNG file")
        // The same names, as real images: the dataset keeps them all, in that order.
        for (i, name) in names.enumerated() where name != "notes.txt" {
            try ImageIO.savePNG(randomImage(width: 20, height: 18, seed: UInt64(i)), to: root + "/testA/" + name)
        }
        try ImageIO.savePNG(randomImage(width: 20, height: 18, seed: 9), to: root + "/testB/only.png")
        let dataset = try UnalignedDataset(dataroot: root, phase: "test", options: smallOptions())
        XCTAssertEqual(dataset.pathsA, listed)
        XCTAssertEqual(dataset.pathsB, [root + "/testB/only.png"])
        XCTAssertEqual(dataset.count, 6)
        let truncated = try UnalignedDataset(dataroot: root, phase: "test", options: smallOptions(), maxDatasetSize: 2)
        XCTAssertEqual(truncated.pathsA, Array(dataset.pathsA.prefix(2)))
        XCTAssertEqual(truncated.count, 2)
    }

    func testItemsAreDeterministicInSeedEpochAndIndex() throws {
        let dataset = try UnalignedDataset(dataroot: try makeDataset(a: 3, b: 4), options: smallOptions())
        XCTAssertEqual(dataset.count, 4)
        let first = try dataset.item(2, epoch: 5, seed: 9)
        let again = try dataset.item(2, epoch: 5, seed: 9)
        XCTAssertEqual(first.a, again.a)
        XCTAssertEqual(first.b, again.b)
        XCTAssertEqual(first.pathB, again.pathB)
        XCTAssertEqual(first.shapeA, [3, 16, 16])
        XCTAssertEqual(first.pathA, dataset.pathsA[2])
        // Another epoch (or seed) crops and flips the same A file differently.
        let otherEpoch = try dataset.item(2, epoch: 6, seed: 9)
        XCTAssertEqual(otherEpoch.pathA, first.pathA)
        XCTAssertNotEqual(otherEpoch.a, first.a)
        XCTAssertNotEqual(try dataset.item(2, epoch: 5, seed: 10).a, first.a)
        // Index 3 wraps around A.
        XCTAssertEqual(try dataset.item(3, epoch: 0, seed: 9).pathA, dataset.pathsA[0])
    }

    func testSerialAndRandomBPairing() throws {
        let root = try makeDataset(a: 2, b: 5, width: 16, height: 16)
        var options = smallOptions()
        options.preprocess = .crop
        let serial = try UnalignedDataset(dataroot: root, options: options, serialBatches: true)
        for i in 0..<serial.count {
            XCTAssertEqual(try serial.item(i, epoch: 0, seed: 3).pathB, serial.pathsB[i % 5])
        }
        XCTAssertEqual(serial.epochOrder(epoch: 4, seed: 3), Array(0..<5))

        let random = try UnalignedDataset(dataroot: root, options: options)
        let drawn = try (0..<40).map { try random.item($0 % 5, epoch: $0 / 5, seed: 3).pathB }
        XCTAssertEqual(Set(drawn).count, 5, "every B is drawn sometime")
        XCTAssertNotEqual(drawn.prefix(5).map { $0 }, random.pathsB, "not the serial pairing")
        let order = random.epochOrder(epoch: 1, seed: 3)
        XCTAssertEqual(order.sorted(), Array(0..<5))
        XCTAssertEqual(order, random.epochOrder(epoch: 1, seed: 3))
        let orders = Set((0..<10).map { random.epochOrder(epoch: $0, seed: 3) })
        XCTAssertGreaterThan(orders.count, 3, "epochs are shuffled differently")
    }

    func testSkipBadImages() throws {
        let root = try makeDataset(a: 3, b: 2)
        let bad = root + "/trainA/01.png"
        writeBytes(Array(pngHeader(width: 20, height: 18).prefix(40)), to: bad)  // truncated in its header
        // Its header is read when the dataset is made: refused then, or left out.
        XCTAssertEqual(errorDescription { _ = try UnalignedDataset(dataroot: root, options: smallOptions()) },
                       "cannot read \(bad): file is truncated")
        let lenient = try UnalignedDataset(dataroot: root, options: smallOptions(), skipBadImages: true)
        XCTAssertEqual(lenient.pathsA, [root + "/trainA/00.png", root + "/trainA/02.png"])

        // A file whose header is whole but whose pixels are cut off fails when decoded.
        let png = try ImageIO.encodePNG(randomImage(width: 20, height: 18, seed: 3).pixels, width: 20, height: 18, colorType: 2, bitDepth: 8)
        writeBytes(Array(png.prefix(png.count / 2)), to: bad)
        let strict = try UnalignedDataset(dataroot: root, options: smallOptions())
        XCTAssertEqual(errorDescription { _ = try strict.item(1, epoch: 0, seed: 1) },
                       "cannot read \(bad): file is truncated")
        let skipping = try UnalignedDataset(dataroot: root, options: smallOptions(), skipBadImages: true)
        XCTAssertEqual(try skipping.item(1, epoch: 0, seed: 1).pathA, root + "/trainA/02.png")
        XCTAssertEqual(try skipping.item(1, epoch: 1, seed: 1).pathA, root + "/trainA/02.png")
        XCTAssertEqual(try skipping.item(0, epoch: 0, seed: 1).pathA, root + "/trainA/00.png")
    }

    // MARK: Batch loader

    func testBatchLoaderServesTheEpochInOrder() throws {
        let dataset = try UnalignedDataset(dataroot: try makeDataset(a: 5, b: 3), options: smallOptions())
        let order = dataset.epochOrder(epoch: 2, seed: 11)
        let loader = BatchLoader(dataset: dataset, batchSize: 2, epoch: 2, seed: 11, prefetch: 1)
        XCTAssertEqual(loader.batchCount, 3)
        var seen: [String] = []
        var sizes: [Int] = []
        var index = 0
        while let batch = try loader.next() {
            XCTAssertEqual(batch.index, index)
            let n = batch.pathsA.count
            sizes.append(n)
            XCTAssertEqual(batch.shapeA, [n, 3, 16, 16])
            XCTAssertEqual(batch.shapeB, [n, 3, 16, 16])
            XCTAssertEqual(batch.a.count, n * 3 * 16 * 16)
            XCTAssertGreaterThanOrEqual(batch.waitSeconds, 0)
            // Exactly the dataset's items, stacked.
            let items = try order[(index * 2)..<(index * 2 + n)].map { try dataset.item($0, epoch: 2, seed: 11) }
            XCTAssertEqual(batch.a, items.flatMap(\.a))
            XCTAssertEqual(batch.b, items.flatMap(\.b))
            XCTAssertEqual(batch.pathsB, items.map(\.pathB))
            seen += batch.pathsA
            index += 1
        }
        XCTAssertEqual(sizes, [2, 2, 1], "nothing dropped: the last batch is smaller")
        XCTAssertEqual(seen, order.map { dataset.pathsA[$0 % 5] })
        XCTAssertNil(try loader.next())
    }

    func testBatchLoaderResumesAndStops() throws {
        let dataset = try UnalignedDataset(dataroot: try makeDataset(a: 6, b: 2), options: smallOptions())
        let resumed = BatchLoader(dataset: dataset, batchSize: 2, epoch: 0, seed: 1, startBatch: 2)
        let batch = try XCTUnwrap(try resumed.next())
        XCTAssertEqual(batch.index, 2)
        XCTAssertEqual(batch.pathsA, dataset.epochOrder(epoch: 0, seed: 1)[4...].map { dataset.pathsA[$0] })
        XCTAssertNil(try resumed.next())

        let stopped = BatchLoader(dataset: dataset, batchSize: 1, epoch: 0, seed: 1)
        XCTAssertNotNil(try stopped.next())
        stopped.stop()
        XCTAssertNil(try stopped.next())
        // Dropped while its thread is blocked on a full queue: deinit must stop it.
        _ = BatchLoader(dataset: dataset, batchSize: 1, epoch: 0, seed: 1, prefetch: 1)
    }

    func testBatchLoaderPassesErrorsThrough() throws {
        let root = try makeDataset(a: 2, b: 2)
        // A whole header (the dataset accepts it) over pixels that are cut off.
        let png = try ImageIO.encodePNG(randomImage(width: 20, height: 18, seed: 3).pixels, width: 20, height: 18, colorType: 2, bitDepth: 8)
        writeBytes(Array(png.prefix(png.count / 2)), to: root + "/trainA/00.png")
        let dataset = try UnalignedDataset(dataroot: root, options: smallOptions(), serialBatches: true)
        let loader = BatchLoader(dataset: dataset, batchSize: 1, epoch: 0, seed: 1)
        XCTAssertEqual(errorDescription { _ = try loader.next() }, "cannot read \(root)/trainA/00.png: file is truncated")
        XCTAssertNil(try loader.next())
    }

    func testBatchOfDifferentSizesAsksForBatchSizeOne() throws {
        let root = try makeDataset(a: 1, b: 2, width: 8, height: 8)
        try ImageIO.savePNG(randomImage(width: 12, height: 8, seed: 1), to: root + "/trainA/01.png")
        var options = smallOptions()
        options.preprocess = .none
        let dataset = try UnalignedDataset(dataroot: root, options: options, serialBatches: true)
        let loader = BatchLoader(dataset: dataset, batchSize: 2, epoch: 0, seed: 1)
        let message = try XCTUnwrap(errorDescription { _ = try loader.next() })
        XCTAssertTrue(message.hasPrefix("images in one batch differ in size: \(root)/trainA/00.png gives 3x8x8 but \(root)/trainA/01.png gives 3x8x12"), message)
        XCTAssertTrue(message.contains("--batch_size 1"), message)
    }

    // MARK: Demo data

    func testDemoDataIsReadableDeterministicAndDayIsBrighter() throws {
        let root = makeTempFolder(self)
        XCTAssertFalse(DemoData.isComplete(root, trainCount: 3, testCount: 2))
        try DemoData.write(to: root, trainCount: 3, testCount: 2, size: 32, seed: 5)
        XCTAssertTrue(DemoData.isComplete(root, trainCount: 3, testCount: 2))
        XCTAssertFalse(DemoData.isComplete(root, trainCount: 4, testCount: 2))
        var means: [String: [Double]] = [:]
        for (folder, count) in [("trainA", 3), ("trainB", 3), ("testA", 2), ("testB", 2)] {
            for i in 0..<count {
                let image = try ImageIO.load(root + "/\(folder)/\(String(format: "%04d", i)).png")
                XCTAssertEqual([image.width, image.height], [32, 32])
                means[String(folder.last!), default: []].append(meanLevel(image))
            }
        }
        // Every day scene is clearly brighter than every night scene.
        XCTAssertGreaterThan(means["A"]!.min()!, means["B"]!.max()! + 40, "\(means)")
        let dataset = try UnalignedDataset(dataroot: root, options: smallOptions())
        XCTAssertEqual(dataset.count, 3)

        // Same seed, same files; another seed, other scenes.
        let again = makeTempFolder(self)
        try DemoData.write(to: again, trainCount: 3, testCount: 2, size: 32, seed: 5)
        let other = makeTempFolder(self)
        try DemoData.write(to: other, trainCount: 1, testCount: 0, size: 32, seed: 6)
        let file = "/trainA/0000.png"
        XCTAssertEqual(FileManager.default.contents(atPath: root + file), FileManager.default.contents(atPath: again + file))
        XCTAssertNotEqual(FileManager.default.contents(atPath: root + file), FileManager.default.contents(atPath: other + file))
    }
}

private extension Array {
    /// The array repeated `n` times.
    func repeated(_ n: Int) -> [Element] { (0..<n).flatMap { _ in self } }
}
