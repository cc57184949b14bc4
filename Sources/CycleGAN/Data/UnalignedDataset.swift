import Foundation

/// A dataset folder that cannot serve images, or a batch that cannot be formed, as one
/// line: `dataset folder ./x/trainA does not exist`.
public struct DatasetError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One training example: an A image and a B image, transformed, in CHW order.
public struct DatasetItem: Sendable {
    /// The A image's values in [-1, 1], shape `shapeA` = [c, h, w].
    public var a: [Float]
    /// The B image's values in [-1, 1], shape `shapeB` = [c, h, w].
    public var b: [Float]
    public var shapeA: [Int]
    public var shapeB: [Int]
    /// The files the images came from.
    public var pathA: String
    public var pathB: String
}

/// The official unaligned dataset (data/unaligned_dataset.py): images under
/// `<dataroot>/<phase>A` and `<dataroot>/<phase>B`, unpaired. Item i pairs A[i mod |A|]
/// with a uniformly random B (B[i mod |B|] with serial batches); an epoch has
/// max(|A|, |B|) items, visited in a shuffled order unless serial.
///
/// All randomness of an item (the B draw, then A's crop and flip, then B's) comes from a
/// stream seeded by (seed, epoch, index) alone, so items come out the same whatever order
/// or thread they are prepared in. Safe to use from several threads.
///
/// Every file's header is read when the dataset is made, so that a file that does not
/// open as an image, or whose size the transform cannot make into a network input
/// (`TransformOptions.sizeProblem`), stops the run before its first step, or is left out
/// with a warning with `skipBadImages`.
public final class UnalignedDataset: TrainingDataset, @unchecked Sendable {
    /// The A files, sorted by path, at most `maxDatasetSize` of them.
    public let pathsA: [String]
    /// The B files, sorted by path, at most `maxDatasetSize` of them.
    public let pathsB: [String]
    /// The transform applied to A images.
    public let optionsA: TransformOptions
    /// The transform applied to B images (differs from A's when one side is gray).
    public let optionsB: TransformOptions
    /// Pair A[i] with B[i mod |B|] and keep the epoch unshuffled.
    public let serialBatches: Bool
    /// Leave out, with a warning, files that do not open as images or whose size the
    /// transform cannot use, and replace one that fails to decode later by the next one
    /// that decodes, instead of failing.
    public let skipBadImages: Bool

    /// Items per epoch: max(|A|, |B|).
    public var count: Int { max(pathsA.count, pathsB.count) }

    private let loader: SkippingLoader

    /// Lists the files of `<dataroot>/<phase>A` and `<dataroot>/<phase>B` recursively and
    /// checks their headers. Throws `DatasetError` if a folder is missing or holds no image
    /// file, `ImageError` for a file that does not open as a PNG or JPEG and `ImageSizeError`
    /// for one of a size the transform cannot use (with `skipBadImages`: warns and leaves
    /// them out, throwing only when a folder has none left). `optionsB` is B's transform
    /// when it differs from A's (nil: the same).
    public init(dataroot: String, phase: String = "train", options: TransformOptions,
                optionsB: TransformOptions? = nil, maxDatasetSize: Int = Int.max,
                serialBatches: Bool = false, skipBadImages: Bool = false) throws {
        guard maxDatasetSize >= 1 else { throw DatasetError("max_dataset_size must be at least 1, not \(maxDatasetSize)") }
        let root = dataroot.hasSuffix("/") ? dataroot : dataroot + "/"
        let optionsB = optionsB ?? options
        let folderA = root + phase + "A", folderB = root + phase + "B"
        let listedA = Array(try ImageFolder.files(in: folderA).prefix(maxDatasetSize))
        let listedB = Array(try ImageFolder.files(in: folderB).prefix(maxDatasetSize))
        pathsA = try usableFiles(listedA, in: folderA, skipBadImages: skipBadImages, maxPixels: options.maxPixels) { path, header in
            try Self.checkSize(path, width: header.width, height: header.height, options)
        }
        pathsB = try usableFiles(listedB, in: folderB, skipBadImages: skipBadImages, maxPixels: optionsB.maxPixels) { path, header in
            try Self.checkSize(path, width: header.width, height: header.height, optionsB)
        }
        optionsA = options
        self.optionsB = optionsB
        self.serialBatches = serialBatches
        self.skipBadImages = skipBadImages
        loader = SkippingLoader(skipBadImages: skipBadImages)
    }

    /// The dataset a training run with `options` reads from `dataroot`: its transforms (A
    /// and B swap with `--direction BtoA`, one side gray when its channel count is 1), the
    /// networks' minimum side, `--max_pixels`, and the other dataset options.
    public convenience init(training options: TrainOptions, dataroot: String) throws {
        let (a, b) = Self.transforms(training: options)
        try self.init(dataroot: dataroot, phase: options.phase, options: a, optionsB: b,
                      maxDatasetSize: options.maxDatasetSize, serialBatches: options.serialBatches,
                      skipBadImages: options.skipBadImages)
    }

    /// The transforms of the dataset's A and B images in a run with `options`. With BtoA the
    /// sides swap roles (A of the model is the dataset's B; `modelConfig` swaps the channel
    /// counts to match).
    static func transforms(training options: TrainOptions) -> (a: TransformOptions, b: TransformOptions) {
        var a = TransformOptions()
        a.preprocess = options.preprocess; a.loadSize = options.loadSize; a.cropSize = options.cropSize
        a.flip = !options.noFlip
        a.minimumSide = options.minimumImageSide
        a.multiple = NetworkSize.multiple(netG: options.netG)
        a.maxPixels = options.maxPixels
        var b = a
        let aToB = options.direction == "AtoB"
        a.grayscale = (aToB ? options.inputNC : options.outputNC) == 1
        b.grayscale = (aToB ? options.outputNC : options.inputNC) == 1
        return aToB ? (a, b) : (b, a)
    }

    /// Throws `ImageSizeError` if the transform cannot make a w×h image into a network input.
    static func checkSize(_ path: String, width: Int, height: Int, _ options: TransformOptions) throws {
        if let problem = options.sizeProblem(width: width, height: height) {
            throw ImageSizeError(path: path, width: width, height: height, problem: problem)
        }
    }

    /// Item `index` (0..<count) of `epoch`: decoded, transformed, deterministic in
    /// (seed, epoch, index).
    public func item(_ index: Int, epoch: Int, seed: UInt64) throws -> DatasetItem {
        var rng = RandomStream(seed: CPUBackend.mix64(CPUBackend.mix64(seed, UInt64(truncatingIfNeeded: epoch)),
                                                      UInt64(truncatingIfNeeded: index)))
        let indexA = index % pathsA.count
        let indexB = serialBatches ? index % pathsB.count : rng.int(below: pathsB.count)
        let (pathA, imageA) = try loader.load(pathsA, from: indexA) { try Self.decode($0, optionsA) }
        let (pathB, imageB) = try loader.load(pathsB, from: indexB) { try Self.decode($0, optionsB) }
        let a = applyTransform(imageA, optionsA, rng: &rng)
        let b = applyTransform(imageB, optionsB, rng: &rng)
        return DatasetItem(a: a.values, b: b.values, shapeA: a.shape, shapeB: b.shape, pathA: pathA, pathB: pathB)
    }

    /// The order items are visited in during `epoch`: 0..<count, shuffled (Fisher-Yates)
    /// from a stream of (seed, epoch) unless serial.
    public func epochOrder(epoch: Int, seed: UInt64) -> [Int] { shuffledOrder(count: count, serial: serialBatches, epoch: epoch, seed: seed) }

    /// Decodes `path` and checks its decoded size (the file may have changed since its header was read).
    static func decode(_ path: String, _ options: TransformOptions) throws -> Image {
        let image = try ImageIO.load(path, maxPixels: options.maxPixels)
        try checkSize(path, width: image.width, height: image.height, options)
        return image
    }
}

/// The files of `listed` whose header opens as an image of at most `maxPixels` and passes
/// `check`; with `skipBadImages` the others are
/// left out with a warning, else the first one throws. Throws `DatasetError` if none is left.
func usableFiles(_ listed: [String], in folder: String, skipBadImages: Bool, maxPixels: UInt64,
                 _ check: (String, (width: Int, height: Int)) throws -> Void) throws -> [String] {
    let kept = try listed.filter { path in
        do {
            let header = try ImageIO.probe(path, maxPixels: maxPixels)
            try check(path, (header.width, header.height))
            return true
        } catch let error as ImageError where skipBadImages {
            printWarning("skipping \(error)")
        } catch let error as ImageSizeError where skipBadImages {
            printWarning("skipping \(error.brief)")
        }
        return false
    }
    guard !kept.isEmpty else { throw DatasetError("no usable image in \(folder): all \(listed.count) skipped") }
    return kept
}

/// A dataset of training items, as the batch loader reads it.
public protocol TrainingDataset: AnyObject, Sendable {
    /// Items per epoch.
    var count: Int { get }
    /// The transform of the A side (named in errors about batch shapes).
    var optionsA: TransformOptions { get }
    /// Item `index` of `epoch`, deterministic in (seed, epoch, index).
    func item(_ index: Int, epoch: Int, seed: UInt64) throws -> DatasetItem
    /// The order items are visited in during `epoch`.
    func epochOrder(epoch: Int, seed: UInt64) -> [Int]
}

/// 0..<count, shuffled (Fisher-Yates) from a stream of (seed, epoch) unless `serial`.
func shuffledOrder(count: Int, serial: Bool, epoch: Int, seed: UInt64) -> [Int] {
    var order = Array(0..<count)
    if serial { return order }
    let shuffleSalt: UInt64 = 0x5348_5546_464C_4531  // keeps this stream apart from the items'
    var rng = RandomStream(seed: CPUBackend.mix64(seed ^ shuffleSalt, UInt64(truncatingIfNeeded: epoch)))
    for i in stride(from: order.count - 1, to: 0, by: -1) {
        order.swapAt(i, rng.int(below: i + 1))
    }
    return order
}

/// Decodes dataset files; with `skipBadImages`, a file that fails is replaced by the next
/// one that decodes (wrapping around), with one warning per file on stderr. Safe to use
/// from several threads.
final class SkippingLoader: @unchecked Sendable {
    let skipBadImages: Bool
    private let lock = NSLock()
    private var badFiles = Set<String>()  // undecodable files already warned about

    init(skipBadImages: Bool) { self.skipBadImages = skipBadImages }

    /// `decode(paths[start])`, or with `skipBadImages` the first file from there on that decodes.
    func load(_ paths: [String], from start: Int, _ decode: (String) throws -> Image) throws -> (String, Image) {
        guard skipBadImages else { return (paths[start], try decode(paths[start])) }
        for k in 0..<paths.count {
            let path = paths[(start + k) % paths.count]
            if isKnownBad(path) { continue }
            do {
                return (path, try decode(path))
            } catch let error as ImageError {
                markBad(path, "\(error)")
            } catch let error as ImageSizeError {
                markBad(path, error.brief)
            }
        }
        let folder = (paths[start] as NSString).deletingLastPathComponent
        throw DatasetError("no image in the folder of \(folder) could be decoded (all \(paths.count) skipped)")
    }

    private func isKnownBad(_ path: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return badFiles.contains(path)
    }

    private func markBad(_ path: String, _ message: String) {
        lock.lock()
        let isNew = badFiles.insert(path).inserted
        lock.unlock()
        if isNew { printWarning("skipping \(message)") }
    }
}

/// An image whose size the training transform cannot make into a network input, as one
/// line naming the file, its size, the reason and the option to change.
public struct ImageSizeError: Error, CustomStringConvertible {
    public var path: String
    public var width: Int, height: Int
    /// What is wrong and which option to change (`TransformOptions.sizeProblem`).
    public var problem: String

    /// The file, its size and the problem (the warning when it is skipped).
    public var brief: String { "\(path) (\(width)x\(height)): \(problem)" }

    public var description: String { "cannot train on \(brief) (or pass --skip_bad_images to leave such images out)" }
}
