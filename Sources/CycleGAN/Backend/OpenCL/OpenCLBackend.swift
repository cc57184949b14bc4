import COpenCL
import Foundation

/// Runs every op as an OpenCL kernel from Kernels/*.cl on one device. Launchers live in
/// extensions, one file per kernel file (OpenCLConv2d.swift ↔ Kernels/conv2d.cl, …).
/// All kernels are compiled when the backend is made, so a build failure surfaces at once.
public final class OpenCLBackend: Backend {
    public let device: OpenCLDeviceInfo
    let cl: OpenCLContext
    let pool: OpenCLBufferPool
    /// Whether the kernels take their GPU shape (work-group reductions, small GEMM tiles,
    /// many work-items) or their CPU shape: the device type, unless `tuning.kernelShape` or
    /// $CYCLEGAN_KERNEL_SHAPE says `cpu` or `gpu` (tests and oclgrind run both shapes so).
    public let gpuShaped: Bool
    /// The overrides this backend was made with (`tuning.kernelShape` decides `gpuShaped`
    /// before $CYCLEGAN_KERNEL_SHAPE; the launchers read the split count and norm chunk).
    public let tuning: OpenCLTuning
    /// What this backend builds and how it launches (`KernelPlan`: the programs, the GEMM
    /// version and tiles, the work-groups), made from the device when the backend is.
    public let plan: KernelPlan
    /// Work-group size of the reduction kernels: a power of two within every reduction
    /// kernel's limit on the device.
    public var reduceGroup: Int { plan.reduceGroup }
    /// Work-items per group of the element-wise kernels: 128 in the GPU shape (a multiple of
    /// every GPU's warp or wavefront, and enough to hide latency), 64 in the CPU shape;
    /// rounded to the kernels' preferred multiple and within their limit.
    public var elementGroup: Int { plan.elementGroup }
    /// Local size of the 2-D/3-D elementwise-style grids.
    var tile2D: [Int] { plan.tile2D }
    /// The GEMM tiling compiled into gemm.cl for this device.
    public var gemmTile: GEMMTile { plan.gemmTile }
    /// The tiling of the convolutions with at most 4 output channels (the generator's 64→3
    /// output, the discriminator's 512→1, the input gradients of the 3-channel input convs):
    /// 4 rows of M per register tile, and in GEMM version 2 work-groups of 64 × 1 work-items,
    /// where `gemmTile` would leave 13/16 (v1) or 61/64 (v2) of each tile's rows unused.
    /// conv2d.cl is built a second time with it; nil where `gemmTile` is that narrow already
    /// or the device cannot run it.
    public var narrowTile: GEMMTile? { plan.narrowTile }
    /// How convolutions run (CYCLEGAN_CONV=direct selects the baseline kernels).
    public let convAlgorithm: ConvAlgorithm
    /// Whether 3×3 stride-1 convolutions run as Winograd F(2×2, 3×3) (default) or as the
    /// direct stride-1 GEMM (`CYCLEGAN_WINOGRAD=0`, kept for comparison in `bench`). Read
    /// once here, not per convolution.
    public let useWinograd: Bool
    /// The GEMM kernel every convolution's products run on (`tuning.gemmVersion`, else by
    /// the kernel shape and what the device allows).
    public var gemmVersion: OpenCLTuning.GEMMVersion { plan.gemmVersion }
    /// The row-offset tables of the implicit-GEMM convolutions, made once per layout
    /// (OpenCLConv2d.swift).
    var offsetTables: [String: Buffer] = [:]
    /// The operands derived from convolution weights, kept while each weight is unchanged
    /// (`tuning.weightCacheLimit` bytes, else an eighth of the device's memory, at most 512 MiB).
    let derived: DerivedWeightCache
    /// The most floats a convolution's scratch buffer holds before the pass runs in bands of
    /// output rows: `tuning.scratchLimit`, else $CYCLEGAN_SCRATCH_LIMIT (for oclgrind's bounds
    /// check of the bands), else 16M (64 MiB).
    public let scratchLimit: Int
    /// How the ops compute (`Precision`): `tf32` builds the convolution files with
    /// -DROUND_TF32; `mixed` builds the files with FP16 activations a second time with
    /// -DACT_HALF (`KernelFile.activations`), whose kernels run when a launch has an FP16 buffer.
    public let precision: Precision

    public var name: String { "\(device.spec) \(device.name)" }

    /// The device, the kernel shape, the GEMM version and tiling, the conv algorithm.
    public var kernelConfiguration: String {
        let t = gemmTile
        return "\(device.name) \(gpuShaped ? "gpu" : "cpu")-shaped, gemm v\(gemmVersion.rawValue) tile \(t.description), "
            + "work-group tile \(t.wgm)x\(t.wgn) slice \(t.ks), conv \(convAlgorithm.rawValue)\(useWinograd ? ", winograd" : "")"
            + (precision == .fp32 ? "" : ", \(precision.rawValue)")
    }

    /// `gemmTile` overrides the tiling chosen for the device type (tests run the GPU
    /// tiling on PoCL this way); `convAlgorithm` overrides $CYCLEGAN_CONV; `tuning` overrides
    /// the kernel shape, the weight gradients' split count and the instance norm's chunk.
    public init(device: OpenCLDeviceInfo, profiling: Bool = false, gemmTile: GEMMTile? = nil,
                convAlgorithm: ConvAlgorithm? = nil, tuning: OpenCLTuning = OpenCLTuning(), precision: Precision = .fp32) throws {
        self.device = device
        self.precision = precision
        cl = try OpenCLContext(device: device, profiling: profiling)
        pool = OpenCLBufferPool(context: cl)
        derived = DerivedWeightCache(limitBytes: max(0, tuning.weightCacheLimit ?? min(512 << 20, device.globalMemory / 8)))
        self.tuning = tuning
        gpuShaped = try tuning.isGPUShaped(on: device)
        cl.groupLimitCap = tuning.workGroupLimit
        let tile = try gemmTile ?? GEMMTile.forDevice(DeviceLimits(device), gpuShaped: gpuShaped)
        self.convAlgorithm = try convAlgorithm
            ?? Self.environmentChoice("CYCLEGAN_CONV", ConvAlgorithm.allCases.map(\.rawValue)).flatMap(ConvAlgorithm.init) ?? .gemm
        useWinograd = try Self.environmentChoice("CYCLEGAN_WINOGRAD", ["0", "1"]) != "0"
        if let limit = tuning.scratchLimit {
            scratchLimit = max(1, limit)
        } else if let v = ProcessInfo.processInfo.environment["CYCLEGAN_SCRATCH_LIMIT"], !v.isEmpty {
            guard let limit = Int(v), limit >= 1 else {
                throw OptionError("CYCLEGAN_SCRATCH_LIMIT: expected a positive number of floats, got \"\(v)\"")
            }
            scratchLimit = limit
        } else {
            scratchLimit = 16 << 20
        }
        plan = try Self.plan(cl, gpuShaped: gpuShaped, gemmTile: tile, tuning: tuning, precision: precision)
        for note in plan.notes { cl.warnOnce(note) }
        for p in plan.programs {
            _ = try cl.program(p.file, options: p.options)
            try cl.checkArgumentCounts(plan.kernels(in: p), file: p.file, options: p.options)
        }
        cl.onOutOfMemory = { [unowned pool, unowned derived] in
            derived.clear()
            let freed = pool.cachedBytes
            pool.releaseFree()
            return freed
        }
    }

    /// The plan of a backend on `cl`'s device: each kernel's limit and each program's spills
    /// asked of the driver, which builds the programs on demand (the backend then builds every
    /// program of the plan, so that a build failure surfaces when it is made).
    static func plan(_ cl: OpenCLContext, gpuShaped: Bool, gemmTile: GEMMTile, tuning: OpenCLTuning = OpenCLTuning(),
                     precision: Precision) throws -> KernelPlan {
        try KernelPlan(limits: DeviceLimits(cl.device), gpuShaped: gpuShaped, gemmTile: gemmTile, tuning: tuning, precision: precision,
                       groupLimit: { p, name in cl.groupLimit(try cl.kernel(p.file, name, options: p.options)) },
                       groupMultiple: { p, name in cl.preferredGroupMultiple(try cl.kernel(p.file, name, options: p.options)) },
                       spills: { p in
                           // Intel's NEO: "kernel gemm_tiled  compiled SIMD32 allocated 128 regs and spilled around 14"
                           cl.buildLog(try cl.program(p.file, options: p.options)).matches(of: #/kernel (\w+)\s+compiled[^\n]*spilled/#)
                               .map { String($0.output.1) }
                       })
    }

    /// Throws the first device failure (an allocation, launch or transfer that failed) since
    /// the backend was made. Results read back after a failure are not valid.
    public func throwIfFailed() throws {
        if let failure = cl.failure { throw failure }
    }

    /// The value of the environment variable `name` (nil when unset or empty), which must be
    /// one of `choices`.
    static func environmentChoice(_ name: String, _ choices: [String]) throws -> String? {
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
        guard choices.contains(v) else {
            throw OptionError("\(name): expected \(choices.joined(separator: " or ")), got \"\(v)\"")
        }
        return v
    }

    /// The vector width of the FMA ceiling kernels (`KernelPlan.fmaWidth`).
    var fmaWidth: Int { plan.fmaWidth }

    /// Build options of a kernel file on this device (`KernelPlan.options`).
    func options(for file: String, half: Bool = false, tile: GEMMTile? = nil) -> String {
        plan.options(for: file, half: half, tile: tile)
    }

    /// Whether a launch with `args` runs the FP16 program: when one of its buffers is FP16.
    static func hasHalf(_ args: [KernelArg]) -> Bool {
        args.contains { if case .buffer(let b) = $0 { return b.dtype == .float16 } else { return false } }
    }

    /// Creates (once) and returns a kernel; the sources were built in init, so a failure
    /// here (a kernel name missing from its file) is recorded like any device failure.
    func kernel(_ file: String, _ name: String, half: Bool = false) -> cl_kernel? {
        do { return try cl.kernel(file, name, options: options(for: file, half: half)) } catch let e as OpenCLError {
            cl.record(e.code, e.operation)
        } catch {
            cl.record(CL_INVALID_KERNEL, "creating kernel \(name) of \(file).cl: \(error)")
        }
        return nil
    }

    /// Launches `name` from `file`: from its FP16 program when `half` says so, else when one
    /// of `args` is an FP16 buffer (a weight packer beside FP16 activations is told). Every
    /// buffer of `args` counts as written, but those in `reading` (`written`).
    func run(_ file: String, _ name: String, half: Bool? = nil, global: [Int], local: [Int]?, reading: [Buffer] = [],
             _ args: [KernelArg]) {
        let half = half ?? Self.hasHalf(args)
        // the tensor ops cast to FP32 before these (the losses and reductions are FP32-only)
        precondition(!half || KernelTable.file(file)?.activations == true, "\(name) of \(file).cl has no FP16 program")
        written(args, except: reading)
        checkLaunch(name, tile: gemmTile, local: local, half: half, args)
        cl.launch(kernel(file, name, half: half), name, global: global, local: local, args)
    }

    /// Gives the buffers of `args` but those in `except` a new version (`OpenCLBuffer.version`),
    /// dropping what `derived` made from them.
    func written(_ args: [KernelArg], except: [Buffer] = []) {
        for case .buffer(let b) in args where !except.contains(where: { $0 === b }) { written(b) }
    }

    func written(_ b: Buffer) {
        guard let o = b as? OpenCLBuffer else { return }
        o.written()
        derived.invalidate(o)
    }

    /// Launches `name` from conv2d.cl built with `tile` (the device's own or `narrowTile`).
    func runConv(_ name: String, tile: GEMMTile, half: Bool? = nil, global: [Int], local: [Int]?, reading: [Buffer] = [],
                 _ args: [KernelArg]) {
        guard tile.buildOptions != gemmTile.buildOptions else {
            return run("conv2d", name, half: half, global: global, local: local, reading: reading, args)
        }
        written(args, except: reading)
        let k: cl_kernel?, half = half ?? Self.hasHalf(args)
        do { k = try cl.kernel("conv2d", name, options: options(for: "conv2d", half: half, tile: tile)) } catch {
            cl.record(CL_INVALID_KERNEL, "creating kernel \(name) of conv2d.cl for the narrow tile: \(error)")
            k = nil
        }
        checkLaunch(name, tile: tile, local: local, half: half, args)
        cl.launch(k, name, global: global, local: local, args)
    }

    /// Debug builds (the tests): records a failure where a launch disagrees with `plan` and
    /// `KernelTable` (a kernel of the other shape, a work-group the table does not say, an
    /// argument list other than the kernel's signature), so the list of programs and
    /// work-groups that `cyclegan programs` prints cannot drift from the launchers.
    @inline(__always) private func checkLaunch(_ name: String, tile: GEMMTile, local: [Int]?, half: Bool, _ args: [KernelArg]) {
        #if DEBUG
        if let problem = plan.launchProblem(name, tile: tile, local: local) { cl.record(CL_INVALID_WORK_GROUP_SIZE, problem) }
        if let problem = KernelTable.argumentProblem(name, half: half, args) { cl.record(CL_INVALID_KERNEL_ARGS, problem) }
        #endif
    }

    /// A 1-D launch over `count` elements in groups of `elementGroup`.
    func run1D(_ file: String, _ name: String, count: Int, _ args: [KernelArg]) {
        run(file, name, global: [count], local: [elementGroup], args)
    }

    // MARK: memory

    public func makeBuffer(count: Int, dtype: DType) -> Buffer { pool.take(count: count, dtype: dtype) }

    /// The device memory of `b`, or nil (with the failure recorded) for a buffer whose
    /// allocation failed or that another backend made.
    func mem(_ b: Buffer, _ operation: String) -> cl_mem? {
        guard let o = b as? OpenCLBuffer else {
            cl.record(CL_INVALID_MEM_OBJECT, "\(operation): a buffer of another backend")
            return nil
        }
        return o.mem
    }

    public func upload(_ values: [Float], to buffer: Buffer) {
        precondition(values.count == buffer.count, "upload of \(values.count) values into a buffer of \(buffer.count)")
        guard !values.isEmpty, cl.failure == nil, let m = mem(buffer, "clEnqueueWriteBuffer") else { return }
        written(buffer)
        let write: (UnsafeRawBufferPointer) -> cl_int = {
            clEnqueueWriteBuffer(self.cl.queue, m, cl_bool(CL_TRUE), 0, $0.count, $0.baseAddress, 0, nil, nil)
        }
        let status = buffer.dtype == .float16 ? values.map { Float16($0).bitPattern }.withUnsafeBytes(write)
                                              : values.withUnsafeBytes(write)
        cl.record(status, "clEnqueueWriteBuffer of \(buffer.dtype.size * values.count) bytes")
    }

    /// The buffer's values; zeros after a device failure, which `throwIfFailed` reports.
    public func download(_ buffer: Buffer) -> [Float] {
        var out = [Float](repeating: 0, count: buffer.count)
        guard !out.isEmpty, cl.failure == nil, let m = mem(buffer, "clEnqueueReadBuffer") else { return out }
        let read: (UnsafeMutableRawBufferPointer) -> cl_int = {
            clEnqueueReadBuffer(self.cl.queue, m, cl_bool(CL_TRUE), 0, $0.count, $0.baseAddress, 0, nil, nil)
        }
        if buffer.dtype == .float16 {
            var bits = [UInt16](repeating: 0, count: buffer.count)
            cl.record(bits.withUnsafeMutableBytes(read), "clEnqueueReadBuffer of \(2 * bits.count) bytes")
            out = bits.map { Float(Float16(bitPattern: $0)) }
        } else {
            cl.record(out.withUnsafeMutableBytes(read), "clEnqueueReadBuffer of \(4 * out.count) bytes")
        }
        return out
    }

    public func fill(_ buffer: Buffer, value: Float) {
        run1D("elementwise", "fill", count: buffer.count, [.buffer(buffer), .float(value), .int(buffer.count)])
    }

    public func copy(_ src: Buffer, srcOffset: Int, to dst: Buffer, dstOffset: Int, count: Int) {
        precondition(src.dtype == dst.dtype, "copy from \(src.dtype) to \(dst.dtype)")
        guard count > 0, cl.failure == nil, let s = mem(src, "clEnqueueCopyBuffer"), let d = mem(dst, "clEnqueueCopyBuffer")
        else { return }
        written(dst)
        let size = src.dtype.size
        cl.record(clEnqueueCopyBuffer(cl.queue, s, d, size * srcOffset, size * dstOffset, size * count, 0, nil, nil),
                  "clEnqueueCopyBuffer of \(size * count) bytes")
    }

    public func synchronize() { cl.finish() }
    public func releaseCachedMemory() {
        cl.finish()
        derived.clear()
        pool.releaseFree()
    }

    /// Bytes held by live buffers now.
    public var liveMemoryBytes: Int { pool.liveBytes }
    /// Bytes in use at the high-water mark since `resetPeakMemory()`.
    public var peakMemoryBytes: Int { pool.peakLiveBytes }
    /// clCreateBuffer calls so far.
    public var bufferAllocations: Int { pool.allocations }
    public func resetPeakMemory() { pool.resetPeak() }

    /// Device seconds spent by the kernels `body` enqueues (profiling events; needs a
    /// backend made with `profiling: true`, else host wall time around a finish).
    public func deviceTime(_ body: () -> Void) -> Double {
        if cl.profiling { return cl.deviceTime(body) }
        synchronize()
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        synchronize()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    }

    /// Device seconds of the kernels `body` enqueues, in total and by `LayerScope` label
    /// (forward, backward, and how many kernels ran under it; "other": under none). Needs a
    /// backend made with `profiling: true`.
    public func deviceTimeByLayer(_ body: () -> Void)
        -> (total: Double, layers: [String: (forward: Double, backward: Double, kernels: Int)]) {
        precondition(cl.profiling, "a per-layer breakdown needs a profiling backend")
        LayerScope.enabled = true
        defer { LayerScope.enabled = false }
        let r = cl.deviceTimeByScope(body)
        return (r.total, r.scopes)
    }

    /// Runs `kernel` of Kernels/bench.cl (the ceilings `cyclegan bench` measures).
    public func runBench(_ kernel: String, global: Int, local: Int?, _ args: [KernelArgValue]) {
        run("bench", kernel, global: [global], local: local.map { [$0] }, args.map { $0.arg })
    }
}
