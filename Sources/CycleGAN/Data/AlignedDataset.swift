import Foundation

/// The official aligned dataset (data/aligned_dataset.py), pix2pix's: images under
/// `<dataroot>/<phase>/`, each holding an A image and its B counterpart side by side, split
/// at w/2 (A = columns [0, w/2), B = [w/2, w)). One set of random parameters (crop position,
/// flip) is drawn per item and applied to both halves. Both halves are w/2 wide: of an odd
/// width, B's last column is left out (the official code gives B that column and resizes it
/// with the rest), so that the same transform makes one size of both. An epoch visits every
/// file once, shuffled unless serial.
///
/// As for the unaligned dataset, an item's randomness comes from a stream of (seed, epoch,
/// index) alone, and every file's header is checked (its halves' size against the
/// transform) when the dataset is made. Safe to use from several threads.
public final class AlignedDataset: TrainingDataset, @unchecked Sendable {
    /// The pair files, sorted by path, at most `maxDatasetSize`.
    public let paths: [String]
    /// The transforms of the left (A) and right (B) halves (they differ when one side is gray).
    public let optionsA: TransformOptions, optionsB: TransformOptions
    public let serialBatches: Bool
    private let loader: SkippingLoader

    public var count: Int { paths.count }

    /// Lists `<dataroot>/<phase>` recursively and checks each file's header: it must open as
    /// an image at least 2 pixels wide whose halves the transform can use (with
    /// `skipBadImages`, such files are left out with a warning).
    public init(dataroot: String, phase: String = "train", options: TransformOptions, optionsB: TransformOptions? = nil,
                maxDatasetSize: Int = Int.max, serialBatches: Bool = false, skipBadImages: Bool = false) throws {
        guard maxDatasetSize >= 1 else { throw DatasetError("max_dataset_size must be at least 1, not \(maxDatasetSize)") }
        let folder = (dataroot as NSString).appendingPathComponent(phase)
        let listed = Array(try ImageFolder.files(in: folder).prefix(maxDatasetSize))
        let optionsB = optionsB ?? options
        paths = try usableFiles(listed, in: folder, skipBadImages: skipBadImages, maxPixels: options.maxPixels) { path, header in
            try Self.checkHalves(path, width: header.width, height: header.height, options, optionsB)
        }
        optionsA = options
        self.optionsB = optionsB
        self.serialBatches = serialBatches
        loader = SkippingLoader(skipBadImages: skipBadImages)
    }

    /// The dataset a pix2pix run with `options` reads from `dataroot`.
    public convenience init(training options: TrainOptions, dataroot: String) throws {
        let (a, b) = UnalignedDataset.transforms(training: options)
        try self.init(dataroot: dataroot, phase: options.phase, options: a, optionsB: b, maxDatasetSize: options.maxDatasetSize,
                      serialBatches: options.serialBatches, skipBadImages: options.skipBadImages)
    }

    /// What a pair image narrower than 2 pixels lacks.
    static let tooNarrow = "an aligned pair needs A and B side by side, at least 2 pixels wide"

    /// Throws if a w×h pair image cannot be split into halves the transforms can use.
    static func checkHalves(_ path: String, width: Int, height: Int, _ a: TransformOptions, _ b: TransformOptions) throws {
        guard width >= 2 else { throw ImageSizeError(path: path, width: width, height: height, problem: tooNarrow) }
        try UnalignedDataset.checkSize(path, width: width / 2, height: height, a)
        try UnalignedDataset.checkSize(path, width: width / 2, height: height, b)
    }

    /// The A (left) and B (right) halves of a pair image, each w/2 wide (of an odd width, B's
    /// last column left out).
    static func halves(_ pair: Image) -> (a: Image, b: Image) {
        let half = pair.width / 2
        return (crop(pair, x: 0, y: 0, width: half, height: pair.height), crop(pair, x: half, y: 0, width: half, height: pair.height))
    }

    public func item(_ index: Int, epoch: Int, seed: UInt64) throws -> DatasetItem {
        var rng = RandomStream(seed: CPUBackend.mix64(CPUBackend.mix64(seed, UInt64(truncatingIfNeeded: epoch)),
                                                      UInt64(truncatingIfNeeded: index)))
        let (path, image) = try loader.load(paths, from: index) { path in
            let image = try ImageIO.load(path, maxPixels: optionsA.maxPixels)
            try Self.checkHalves(path, width: image.width, height: image.height, optionsA, optionsB)
            return image
        }
        // halves of one size and the same stream state: the same crop position and flip
        let (imageA, imageB) = Self.halves(image)
        var rngB = rng
        let a = applyTransform(imageA, optionsA, rng: &rng)
        let b = applyTransform(imageB, optionsB, rng: &rngB)
        return DatasetItem(a: a.values, b: b.values, shapeA: a.shape, shapeB: b.shape, pathA: path, pathB: path)
    }

    public func epochOrder(epoch: Int, seed: UInt64) -> [Int] { shuffledOrder(count: count, serial: serialBatches, epoch: epoch, seed: seed) }
}
