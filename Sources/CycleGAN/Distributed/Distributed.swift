import Foundation

/// A data-parallel run under `mpirun`: this process's rank among `size`, and the
/// collectives the trainer needs, over MPI (`MPILibrary`). Every rank holds the same model;
/// each trains on its own share of every batch round, and gradients are averaged before
/// each optimiser step, so every rank takes the same steps.
public final class Distributed {
    public let rank: Int, size: Int
    /// This process's rank among those on its host, and how many there are.
    public let localRank: Int, localSize: Int
    let mpi: MPILibrary

    /// Whether this process was started by mpirun (Open MPI's, or any launcher that sets PMIx's variables).
    public static var isLaunched: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil
    }

    /// The ranks mpirun started, from its environment (1 when not started by mpirun).
    public static var launchedSize: Int {
        let env = ProcessInfo.processInfo.environment
        return Int(env["OMPI_COMM_WORLD_SIZE"] ?? env["PMIX_SIZE"] ?? "") ?? 1
    }

    /// The run this process belongs to: nil when not started by mpirun; otherwise MPI is
    /// loaded and initialised (throws, saying what is missing, if it cannot be).
    public static func fromEnvironment() throws -> Distributed? {
        guard isLaunched else { return nil }
        return try Distributed(mpi: try MPILibrary.load())
    }

    /// Whether MPI could be loaded here (for `cyclegan devices`): the library's version, or why not.
    public static func availability() -> Result<String, DistributedError> {
        do { return .success("\(try MPILibrary.load().version) (through \(MPILibrary.searchPaths[0]))") } catch let e as DistributedError {
            return .failure(e)
        } catch { return .failure(DistributedError("\(error)")) }
    }

    private init(mpi: MPILibrary) throws {
        self.mpi = mpi
        var r: Int32 = 0, s: Int32 = 0, lr: Int32 = 0, ls: Int32 = 0
        let code = mpi.initialize(&r, &s, &lr, &ls)
        guard code == 0 else { throw DistributedError("MPI_Init failed: \(mpi.describe(code))") }
        rank = Int(r); size = Int(s); localRank = Int(lr); localSize = Int(ls)
    }

    public var isRoot: Bool { rank == 0 }

    /// Throws a failed MPI call as one line naming this rank, the operation and MPI's reason.
    func check(_ code: Int32, _ what: String) throws {
        guard code != 0 else { return }
        throw DistributedError("rank \(rank) of \(size): \(what) failed: \(mpi.describe(code))")
    }

    /// Sums `values` over the ranks, in place; every rank gets the same sums.
    public func allreduceSum(_ values: inout [Float]) throws {
        let code = values.withUnsafeMutableBufferPointer { mpi.allreduceFloat($0.baseAddress!, Int64($0.count)) }
        try check(code, "allreduce of \(values.count) values")
    }

    public func allreduceSum(_ values: inout [Double]) throws {
        let code = values.withUnsafeMutableBufferPointer { mpi.allreduceDouble($0.baseAddress!, Int64($0.count)) }
        try check(code, "allreduce of \(values.count) values")
    }

    /// Every rank's `value`, in rank order.
    public func allgather(_ value: UInt64) throws -> [UInt64] {
        var all = [UInt64](repeating: 0, count: size)
        try check(all.withUnsafeMutableBufferPointer { mpi.allgather(value, $0.baseAddress!) }, "allgather")
        return all
    }

    /// The root's bytes on every rank (`bytes` must have the root's length everywhere).
    public func broadcast(_ bytes: inout [UInt8], root: Int = 0) throws {
        guard !bytes.isEmpty else { return }
        try check(bytes.withUnsafeMutableBytes { mpi.bcast($0.baseAddress!, Int64($0.count), Int32(root)) }, "broadcast")
    }

    /// Every rank's bytes at the root, in rank order (nil elsewhere): each rank sends its own
    /// in turn (any size; no single MPI call carries more than 256 MiB).
    public func gather(_ bytes: [UInt8], root: Int = 0) throws -> [[UInt8]]? {
        let counts = try allgather(UInt64(bytes.count))
        guard rank == root else {
            try check(bytes.withUnsafeBytes { mpi.send($0.baseAddress, Int64(bytes.count), Int32(root)) }, "sending \(bytes.count) bytes to rank \(root)")
            return nil
        }
        var parts: [[UInt8]] = []
        for (r, c) in counts.enumerated() {
            if r == root { parts.append(bytes); continue }
            var part = [UInt8](repeating: 0, count: Int(c))
            try check(part.withUnsafeMutableBytes { mpi.recv($0.baseAddress, Int64(c), Int32(r)) }, "receiving \(c) bytes from rank \(r)")
            parts.append(part)
        }
        return parts
    }

    public func barrier() throws { try check(mpi.barrier(), "barrier") }

    /// Rank 0's values of `tensors` on every rank (batch norm's running statistics after each
    /// step, as PyTorch DDP broadcasts buffers from rank 0).
    public func broadcast(_ tensors: [Tensor], root: Int = 0) throws {
        guard !tensors.isEmpty else { return }
        var values = tensors.flatMap { $0.toArray() }
        var bytes = values.withUnsafeBytes { [UInt8]($0) }
        try broadcast(&bytes, root: root)
        bytes.withUnsafeBytes { src in values.withUnsafeMutableBytes { $0.copyMemory(from: src) } }
        var at = 0
        for t in tensors {
            t.backend.upload(Array(values[at..<(at + t.count)]), to: t.buffer)
            at += t.count
        }
    }

    /// Ends every rank of the job (after this rank has said why).
    public func abort(_ code: Int32 = 1) -> Never {
        mpi.abort(code)
        exit(code)
    }

    public func finalize() { _ = mpi.finalize() }

    /// Checks that every rank holds bit-identical tensors (a hash of their bits, compared
    /// across ranks); throws naming the first rank that differs from rank 0.
    public func checkIdentical(_ tensors: [(String, Tensor)], what: String) throws {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for (_, t) in tensors {
            for v in t.toArray() { h = (h ^ UInt64(v.bitPattern)) &* 0x0000_0100_0000_01B3 }
        }
        let all = try allgather(h)
        if let r = all.firstIndex(where: { $0 != all[0] }) {
            throw DistributedError("rank \(r) holds other \(what) than rank 0 (checksums \(String(all[r], radix: 16)) and "
                + "\(String(all[0], radix: 16))): every rank must build the same model from the same seed and options")
        }
    }
}

/// Averages the gradients of `parameters` over the ranks in buckets of about `bucketBytes`
/// (parameters in reverse order, as the backward pass completes them, PyTorch DDP's way).
/// `ready` is the backward pass's leaf hook: once every parameter of a bucket has its final
/// gradient, the bucket is read back and its allreduce started, so communication overlaps
/// the rest of the backward; `finish` completes every bucket and writes the averages back.
/// The sums are MPI's, the same on every rank; the order of a fixed rank count is fixed.
public final class GradientBuckets {
    let distributed: Distributed
    let buckets: [[Tensor]]
    private var pending: [Set<ObjectIdentifier>]
    /// Each bucket's values on the host, owned here (MPI reads and writes them while a
    /// reduction is in flight).
    private let host: [UnsafeMutableBufferPointer<Float>]
    private var requests: [UnsafeMutableRawPointer?]
    /// Buckets start in index order on every rank (MPI needs one order of collectives): the
    /// first not started yet.
    private var nextToStart = 0
    private var failure: (Int32, Int)? = nil
    private let bucketOf: [ObjectIdentifier: Int]

    /// The default bucket: 25 MB, as PyTorch DDP's `bucket_cap_mb`.
    public static let defaultBucketBytes = 25 << 20

    public init(_ parameters: [Tensor], distributed: Distributed, bucketBytes: Int = defaultBucketBytes) {
        self.distributed = distributed
        var buckets: [[Tensor]] = [[]], bytes = 0
        for p in parameters.reversed() {
            if bytes > 0 && bytes + 4 * p.count > bucketBytes { buckets.append([]); bytes = 0 }
            buckets[buckets.count - 1].append(p)
            bytes += 4 * p.count
        }
        self.buckets = buckets.filter { !$0.isEmpty }
        pending = self.buckets.map { Set($0.map(ObjectIdentifier.init)) }
        host = self.buckets.map { ps in
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: ps.reduce(0) { $0 + $1.count })
            b.initialize(repeating: 0)
            return b
        }
        requests = Array(repeating: nil, count: self.buckets.count)
        var map: [ObjectIdentifier: Int] = [:]
        for (b, ps) in self.buckets.enumerated() { for p in ps { map[ObjectIdentifier(p)] = b } }
        bucketOf = map
    }

    deinit {
        for r in requests { if let r { _ = distributed.mpi.wait(r) } }
        for h in host { h.deallocate() }
    }

    /// The backward pass's hook: `leaf` has its final gradient.
    public func ready(_ leaf: Tensor) {
        guard let b = bucketOf[ObjectIdentifier(leaf)] else { return }
        pending[b].remove(ObjectIdentifier(leaf))
        while nextToStart < buckets.count && pending[nextToStart].isEmpty { start(nextToStart); nextToStart += 1 }
        // let MPI progress what has started
        for k in requests.indices {
            if let r = requests[k] { var done: Int32 = 0; if distributed.mpi.test(r, &done) == 0 && done != 0 { requests[k] = nil } }
        }
    }

    /// Reads bucket `b`'s gradients back (a parameter without one counts as zeros) and starts their sum.
    private func start(_ b: Int) {
        var at = 0
        for p in buckets[b] {
            let values = p.grad?.toArray() ?? [Float](repeating: 0, count: p.count)
            _ = UnsafeMutableBufferPointer(rebasing: host[b][at..<(at + p.count)]).update(from: values)
            at += p.count
        }
        var request: UnsafeMutableRawPointer? = nil
        let code = distributed.mpi.startAllreduce(host[b].baseAddress!, Int64(host[b].count), &request)
        if code != 0 { failure = failure ?? (code, b) } else { requests[b] = request }
    }

    /// Completes every bucket (starting, in order, those the hook never completed) and sets
    /// each parameter's gradient to the average over the ranks.
    public func finish() throws {
        while nextToStart < buckets.count { start(nextToStart); nextToStart += 1 }
        if let (code, b) = failure { try distributed.check(code, "starting the allreduce of gradient bucket \(b)") }
        for b in buckets.indices {
            if let r = requests[b] {
                requests[b] = nil
                try distributed.check(distributed.mpi.wait(r), "allreduce of gradient bucket \(b)")
            }
            let scale = 1 / Float(distributed.size)
            var at = 0
            for p in buckets[b] {
                let avg = host[b][at..<(at + p.count)].map { $0 * scale }
                at += p.count
                // (a parameter no backward reached keeps no gradient on any rank, as PyTorch's)
                if let g = p.grad { p.backend.upload(avg, to: g.buffer) }
            }
        }
        // ready for the next step
        pending = buckets.map { Set($0.map(ObjectIdentifier.init)) }
        nextToStart = 0
    }

    public var bucketCount: Int { buckets.count }
}
