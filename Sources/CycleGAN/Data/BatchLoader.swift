import Foundation

/// A batch of training examples, stacked in NCHW order.
public struct Batch: Sendable {
    /// The A images, shape `shapeA` = [n, c, h, w].
    public var a: [Float]
    /// The B images, shape `shapeB` = [n, c, h, w].
    public var b: [Float]
    public var shapeA: [Int]
    public var shapeB: [Int]
    /// The files of the n examples.
    public var pathsA: [String]
    public var pathsB: [String]
    /// The batch's position in its epoch (0-based).
    public var index: Int
    /// How long `next()` blocked waiting for this batch, in seconds (the "data" time).
    public var waitSeconds: Double
}

/// Prepares the batches of one epoch on a background thread, in the dataset's epoch
/// order, keeping at most `prefetch` ready. Every item of the epoch is served once; the
/// last batch is smaller when the batch size does not divide the item count.
///
/// Items are deterministic in (seed, epoch, index), so what the loader has prepared ahead
/// never changes what the trainer sees; a resumed run starts at `startBatch`.
public final class BatchLoader {
    /// Batches in the epoch, the last one possibly smaller.
    public let batchCount: Int
    private let queue: BatchQueue

    /// Starts preparing batches `startBatch..<batchCount` of `epoch`.
    /// In a data-parallel run, rank `rank` of `worldSize` takes positions rank, rank + N, …
    /// of the epoch's order (PyTorch's DistributedSampler), the last incomplete round
    /// dropped on every rank, so every rank has as many batches of the same sizes.
    public init(dataset: any TrainingDataset, batchSize: Int, epoch: Int, seed: UInt64,
                startBatch: Int = 0, prefetch: Int = 2, rank: Int = 0, worldSize: Int = 1) {
        precondition(batchSize > 0, "batch size must be positive")
        precondition(worldSize >= 1 && (0..<worldSize).contains(rank), "rank \(rank) of \(worldSize)")
        let full = dataset.epochOrder(epoch: epoch, seed: seed)
        let order = worldSize == 1 ? full : (0..<(full.count / worldSize)).map { full[rank + $0 * worldSize] }
        let count = (order.count + batchSize - 1) / batchSize
        batchCount = count
        let queue = BatchQueue(capacity: max(1, prefetch))
        self.queue = queue
        let thread = Thread {
            for b in max(0, startBatch)..<max(count, startBatch) {
                if queue.isStopped { break }
                let items = Array(order[(b * batchSize)..<min((b + 1) * batchSize, order.count)])
                let result = Result { try Self.makeBatch(dataset, items: items, index: b, epoch: epoch, seed: seed) }
                guard queue.put(result) else { break }
                if case .failure = result { break }
            }
            queue.finish()
        }
        thread.name = "cyclegan.data"
        thread.start()
    }

    /// The next batch, waiting for it if need be; nil at the end of the epoch (or after
    /// `stop()`). Rethrows the error that prevented a batch (a file that does not decode).
    public func next() throws -> Batch? {
        let start = DispatchTime.now().uptimeNanoseconds
        guard let result = queue.take() else { return nil }
        var batch = try result.get()
        batch.waitSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return batch
    }

    /// Stops the background thread (after the batch it is preparing) and drops what it
    /// prepared; waits until it has exited.
    public func stop() { queue.stop() }

    deinit { queue.stop() }

    /// Loads `items` of the epoch and stacks them, refusing images of different sizes.
    private static func makeBatch(_ dataset: any TrainingDataset, items: [Int], index: Int,
                                  epoch: Int, seed: UInt64) throws -> Batch {
        var batch = Batch(a: [], b: [], shapeA: [], shapeB: [], pathsA: [], pathsB: [], index: index, waitSeconds: 0)
        for i in items {
            let item = try dataset.item(i, epoch: epoch, seed: seed)
            if let first = batch.pathsA.first {
                try checkSameShape(batch.shapeA.dropFirst(), item.shapeA, first, item.pathA, dataset)
                try checkSameShape(batch.shapeB.dropFirst(), item.shapeB, batch.pathsB[0], item.pathB, dataset)
            } else {
                batch.shapeA = [0] + item.shapeA
                batch.shapeB = [0] + item.shapeB
            }
            batch.a += item.a
            batch.b += item.b
            batch.pathsA.append(item.pathA)
            batch.pathsB.append(item.pathB)
            batch.shapeA[0] += 1
            batch.shapeB[0] += 1
        }
        return batch
    }

    private static func checkSameShape(_ expected: ArraySlice<Int>, _ shape: [Int], _ firstPath: String,
                                       _ path: String, _ dataset: any TrainingDataset) throws {
        guard Array(expected) != shape else { return }
        func size(_ s: [Int]) -> String { s.map(String.init).joined(separator: "x") }
        throw DatasetError("images in one batch differ in size: \(firstPath) gives \(size(Array(expected))) "
            + "but \(path) gives \(size(shape)) (with --preprocess \(dataset.optionsA.preprocess.rawValue) "
            + "images keep their own sizes: use --batch_size 1, or a mode that crops)")
    }
}

/// The bounded queue between the loader's thread and `next()`, guarded by a condition.
private final class BatchQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var ready: [Result<Batch, Error>] = []
    private let capacity: Int
    private var finished = false  // the producer has exited
    private var stopped = false   // the consumer asked it to stop

    init(capacity: Int) { self.capacity = capacity }

    var isStopped: Bool {
        condition.lock(); defer { condition.unlock() }
        return stopped
    }

    /// Producer: waits for room; false if stopped meanwhile.
    func put(_ result: Result<Batch, Error>) -> Bool {
        condition.lock(); defer { condition.unlock() }
        while ready.count >= capacity && !stopped { condition.wait() }
        if stopped { return false }
        ready.append(result)
        condition.broadcast()
        return true
    }

    /// Producer: there will be nothing more.
    func finish() {
        condition.lock(); defer { condition.unlock() }
        finished = true
        condition.broadcast()
    }

    /// Consumer: the next result, waiting for it; nil when the producer is done or stopped.
    func take() -> Result<Batch, Error>? {
        condition.lock(); defer { condition.unlock() }
        while ready.isEmpty && !finished && !stopped { condition.wait() }
        if stopped || ready.isEmpty { return nil }
        let result = ready.removeFirst()
        condition.broadcast()
        return result
    }

    /// Consumer: stop the producer and wait until it has exited.
    func stop() {
        condition.lock(); defer { condition.unlock() }
        stopped = true
        ready.removeAll()
        condition.broadcast()
        while !finished { condition.wait() }
    }
}
