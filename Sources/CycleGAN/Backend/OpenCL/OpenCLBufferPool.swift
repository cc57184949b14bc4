import COpenCL

/// A device buffer. Released buffers return to the pool they came from, so a training
/// loop that repeats the same shapes creates no buffers once warm.
public final class OpenCLBuffer: Buffer {
    public let count: Int
    let mem: cl_mem
    private let pool: OpenCLBufferPool

    init(count: Int, mem: cl_mem, pool: OpenCLBufferPool) {
        self.count = count
        self.mem = mem
        self.pool = pool
    }
    deinit { pool.recycle(mem, count: count) }
}

/// Free device buffers by element count, and the memory statistics `bench` reports.
final class OpenCLBufferPool {
    private let context: cl_context
    private var free: [Int: [cl_mem]] = [:]
    /// Bytes held on the device (in use plus pooled), and bytes in use by live buffers.
    private(set) var heldBytes = 0
    private(set) var liveBytes = 0
    /// The most bytes in use at once since the last `resetPeak()`.
    private(set) var peakLiveBytes = 0
    /// Device allocations made (clCreateBuffer calls).
    private(set) var allocations = 0

    init(context: cl_context) { self.context = context }

    deinit {
        for list in free.values { for m in list { clReleaseMemObject(m) } }
    }

    func take(count: Int) -> OpenCLBuffer {
        let bytes = max(count, 1) * 4
        liveBytes += bytes
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        if var list = free[count], let m = list.popLast() {
            free[count] = list
            return OpenCLBuffer(count: count, mem: m, pool: self)
        }
        var err: cl_int = 0
        var mem = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &err)
        if mem == nil || err != CL_SUCCESS {
            // Give the pooled buffers back to the driver and try once more.
            releaseFree()
            mem = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &err)
        }
        if mem == nil && err == CL_SUCCESS { err = CL_MEM_OBJECT_ALLOCATION_FAILURE }
        clFatal(err, "clCreateBuffer of \(bytes) bytes")
        heldBytes += bytes
        allocations += 1
        return OpenCLBuffer(count: count, mem: mem!, pool: self)
    }

    func recycle(_ mem: cl_mem, count: Int) {
        liveBytes -= max(count, 1) * 4
        free[count, default: []].append(mem)
    }

    func releaseFree() {
        for (count, list) in free {
            for m in list { clReleaseMemObject(m); heldBytes -= max(count, 1) * 4 }
        }
        free = [:]
    }

    func resetPeak() { peakLiveBytes = liveBytes }
}
