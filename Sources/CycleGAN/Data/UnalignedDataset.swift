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
public final class UnalignedDataset: @unchecked Sendable {
    /// The extensions (any case) the official `is_image_file` accepts; only PNG and JPEG
    /// contents decode.
    public static let imageExtensions = ["jpg", "jpeg", "png", "ppm", "bmp", "tif", "tiff"]

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
    /// Replace an undecodable file by the next decodable one instead of failing.
    public let skipBadImages: Bool

    /// Items per epoch: max(|A|, |B|).
    public var count: Int { max(pathsA.count, pathsB.count) }

    private let lock = NSLock()
    private var badFiles = Set<String>()  // undecodable files already warned about

    /// Lists the files of `<dataroot>/<phase>A` and `<dataroot>/<phase>B` recursively.
    /// Throws `DatasetError` if a folder is missing or holds no image file.
    /// `optionsB` is B's transform when it differs from A's (nil: the same).
    public init(dataroot: String, phase: String = "train", options: TransformOptions,
                optionsB: TransformOptions? = nil, maxDatasetSize: Int = Int.max,
                serialBatches: Bool = false, skipBadImages: Bool = false) throws {
        guard maxDatasetSize >= 1 else { throw DatasetError("max_dataset_size must be at least 1, not \(maxDatasetSize)") }
        let root = dataroot.hasSuffix("/") ? dataroot : dataroot + "/"
        pathsA = Array(try Self.imageFiles(in: root + phase + "A").prefix(maxDatasetSize))
        pathsB = Array(try Self.imageFiles(in: root + phase + "B").prefix(maxDatasetSize))
        optionsA = options
        self.optionsB = optionsB ?? options
        self.serialBatches = serialBatches
        self.skipBadImages = skipBadImages
    }

    /// Item `index` (0..<count) of `epoch`: decoded, transformed, deterministic in
    /// (seed, epoch, index).
    public func item(_ index: Int, epoch: Int, seed: UInt64) throws -> DatasetItem {
        var rng = RandomStream(seed: CPUBackend.mix64(CPUBackend.mix64(seed, UInt64(truncatingIfNeeded: epoch)),
                                                      UInt64(truncatingIfNeeded: index)))
        let indexA = index % pathsA.count
        let indexB = serialBatches ? index % pathsB.count : rng.int(below: pathsB.count)
        let (pathA, imageA) = try load(pathsA, from: indexA)
        let (pathB, imageB) = try load(pathsB, from: indexB)
        let a = applyTransform(imageA, optionsA, rng: &rng)
        let b = applyTransform(imageB, optionsB, rng: &rng)
        return DatasetItem(a: a.values, b: b.values, shapeA: a.shape, shapeB: b.shape, pathA: pathA, pathB: pathB)
    }

    /// The order items are visited in during `epoch`: 0..<count, shuffled (Fisher-Yates)
    /// from a stream of (seed, epoch) unless serial.
    public func epochOrder(epoch: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<count)
        if serialBatches { return order }
        let shuffleSalt: UInt64 = 0x5348_5546_464C_4531  // keeps this stream apart from the items'
        var rng = RandomStream(seed: CPUBackend.mix64(seed ^ shuffleSalt, UInt64(truncatingIfNeeded: epoch)))
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, rng.int(below: i + 1))
        }
        return order
    }

    /// Decodes `paths[start]`; with `skipBadImages`, the first decodable file from there on
    /// (wrapping around), warning once on stderr about each file skipped.
    private func load(_ paths: [String], from start: Int) throws -> (String, Image) {
        guard skipBadImages else { return (paths[start], try ImageIO.load(paths[start])) }
        for k in 0..<paths.count {
            let path = paths[(start + k) % paths.count]
            if isKnownBad(path) { continue }
            do {
                return (path, try ImageIO.load(path))
            } catch let error as ImageError {
                markBad(path, error)
            }
        }
        let folder = (paths[start] as NSString).deletingLastPathComponent
        throw DatasetError("no image in the folder of \(folder) could be decoded (all \(paths.count) skipped)")
    }

    private func isKnownBad(_ path: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return badFiles.contains(path)
    }

    private func markBad(_ path: String, _ error: ImageError) {
        lock.lock()
        let isNew = badFiles.insert(path).inserted
        lock.unlock()
        if isNew { FileHandle.standardError.write(Data("warning: skipping \(error)\n".utf8)) }
    }

    /// The image files under `folder`, recursively, sorted by path as Python sorts strings
    /// (by code point).
    static func imageFiles(in folder: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir) else {
            throw DatasetError("dataset folder \(folder) does not exist")
        }
        guard isDir.boolValue else { throw DatasetError("dataset folder \(folder) is not a folder") }
        guard let walker = FileManager.default.enumerator(atPath: folder) else {
            throw DatasetError("dataset folder \(folder) cannot be listed")
        }
        var paths: [String] = []
        while let relative = walker.nextObject() as? String {
            if (walker.fileAttributes?[.type] as? FileAttributeType) == .typeDirectory { continue }
            let ext = (relative as NSString).pathExtension.lowercased()
            if imageExtensions.contains(ext) { paths.append(folder + "/" + relative) }
        }
        guard !paths.isEmpty else {
            let list = imageExtensions.map { "." + $0 }.joined(separator: ", ")
            throw DatasetError("dataset folder \(folder) has no images (\(list))")
        }
        return paths.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
    }
}
