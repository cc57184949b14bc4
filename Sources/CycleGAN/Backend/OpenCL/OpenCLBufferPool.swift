import COpenCL

/// A device buffer. Released buffers return to the pool they came from, so a training
/// loop that repeats the same shapes creates no buffers once warm. `mem` is nil when the
/// allocation failed: the context has recorded the failure and launches nothing more.
public final class OpenCLBuffer: Buffer {
    public let count: Int
    public let dtype: DType
    let mem: cl_mem?
    private let pool: OpenCLBufferPool
    /// Changes whenever the buffer may have been written (a launch that takes it, an upload,
    /// a copy into it): a number its backend never gave before, so an operand derived from
    /// the buffer at one version (`DerivedWeightCache`) is known stale at any other.
    private(set) var version: UInt64

    init(count: Int, dtype: DType, mem: cl_mem?, pool: OpenCLBufferPool) {
        self.count = count
        self.dtype = dtype
        self.mem = mem
        self.pool = pool
        version = pool.nextVersion()
    }
    /// Marks the buffer written.
    func written() { version = pool.nextVersion() }
    /// The bytes of the device allocation.
    var bytes: Int { OpenCLBufferPool.bytes(count, dtype) }
    deinit { pool.recycle(mem, bytes: bytes) }
}

/// Free device buffers by size in bytes (an FP16 buffer reuses an FP32 one of half the
/// elements), bounded, and the memory statistics `bench` reports.
///
/// The cache keeps at most `cacheLimit` bytes of free buffers, none over `largestCached`,
/// and releases the least recently used ones past it, so a loop that repeats its shapes allocates nothing once
/// warm, while a run over many shapes (`test` over images of many sizes) holds about twice
/// its largest need rather than the sum over sizes. An allocation that fails releases the
/// whole cache and tries once more.
final class OpenCLBufferPool {
    private let cl: OpenCLContext
    /// Free buffers by bytes, oldest first, each with the tick it was freed at.
    private var free: [Int: [(mem: cl_mem, tick: Int)]] = [:]
    private var tick = 0
    /// Bytes of free buffers in the cache, and bytes in use by live buffers.
    private(set) var cachedBytes = 0
    private(set) var liveBytes = 0
    /// The most bytes in use at once since the last `resetPeak()`, and ever.
    private(set) var peakLiveBytes = 0
    private(set) var maxLiveBytes = 0
    /// Device allocations made (clCreateBuffer calls that succeeded).
    private(set) var allocations = 0
    /// Buffer allocations asked of the driver, for the injected test fault.
    private var attempts = 0
    /// The last buffer version given (`OpenCLBuffer.version`).
    private var lastVersion: UInt64 = 0
    func nextVersion() -> UInt64 {
        lastVersion += 1
        return lastVersion
    }

    /// The cache's high-water mark: the most bytes ever in use at once, at least 64 MiB.
    var cacheLimit: Int { max(64 << 20, maxLiveBytes) }

    init(context: OpenCLContext) { cl = context }

    deinit {
        for list in free.values { for entry in list { clReleaseMemObject(entry.mem) } }
    }

    /// The allocation of `count` elements of `dtype` (at least one).
    static func bytes(_ count: Int, _ dtype: DType) -> Int { max(count, 1) * dtype.size }

    func take(count: Int, dtype: DType) -> OpenCLBuffer {
        let bytes = Self.bytes(count, dtype)
        liveBytes += bytes
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        maxLiveBytes = max(maxLiveBytes, liveBytes)
        if var list = free[bytes], let entry = list.popLast() {
            free[bytes] = list.isEmpty ? nil : list
            cachedBytes -= bytes
            return OpenCLBuffer(count: count, dtype: dtype, mem: entry.mem, pool: self)
        }
        if cl.failure != nil { return OpenCLBuffer(count: count, dtype: dtype, mem: nil, pool: self) }
        guard bytes <= cl.device.maxMemAllocSize else {
            cl.record(CL_INVALID_BUFFER_SIZE, "clCreateBuffer: \(bytes >> 20) MiB in one buffer, more than the device's "
                + "largest allocation (\(cl.device.maxMemAllocSize >> 20) MiB); lower --crop_size, --batch_size or --ngf")
            return OpenCLBuffer(count: count, dtype: dtype, mem: nil, pool: self)
        }
        attempts += 1
        var (mem, err) = create(bytes, attempt: 0)
        if mem == nil {
            releaseFree()
            (mem, err) = create(bytes, attempt: 1)
        }
        guard let mem else {
            cl.record(err, "clCreateBuffer of \(bytes) bytes")
            return OpenCLBuffer(count: count, dtype: dtype, mem: nil, pool: self)
        }
        allocations += 1
        return OpenCLBuffer(count: count, dtype: dtype, mem: mem, pool: self)
    }

    private func create(_ bytes: Int, attempt: Int) -> (cl_mem?, cl_int) {
        if let code = cl.fault?.code(.alloc, count: attempts, attempt: attempt) { return (nil, code) }
        var err: cl_int = 0
        let mem = clCreateBuffer(cl.context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &err)
        if mem == nil && err == CL_SUCCESS { err = CL_MEM_OBJECT_ALLOCATION_FAILURE }
        return (err == CL_SUCCESS ? mem : nil, err)
    }

    /// Freed buffers larger than this go back to the driver at once: the work on a buffer that
    /// size dwarfs its allocation, and caching it would hold a large photograph's activations
    /// twice over.
    static let largestCached = 256 << 20

    func recycle(_ mem: cl_mem?, bytes: Int) {
        liveBytes -= bytes
        guard let mem else { return }
        guard bytes <= Self.largestCached else {
            clReleaseMemObject(mem)
            return
        }
        tick += 1
        free[bytes, default: []].append((mem, tick))
        cachedBytes += bytes
        // Least recently freed first: each list's oldest entry is its first.
        while cachedBytes > cacheLimit, let oldest = free.min(by: { $0.value[0].tick < $1.value[0].tick }) {
            var list = oldest.value
            clReleaseMemObject(list.removeFirst().mem)
            free[oldest.key] = list.isEmpty ? nil : list
            cachedBytes -= oldest.key
        }
    }

    /// Gives every cached buffer back to the driver.
    func releaseFree() {
        for list in free.values { for entry in list { clReleaseMemObject(entry.mem) } }
        free = [:]
        cachedBytes = 0
    }

    func resetPeak() { peakLiveBytes = liveBytes }
}
