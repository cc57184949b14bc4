import COpenCL
import CycleGANKernels
import Foundation

/// One argument of a kernel launch.
enum KernelArg {
    case buffer(Buffer)
    case int(Int)
    case float(Float)
    case ulong(UInt64)
    /// `bytes` of __local memory.
    case local(Int)
}

/// A kernel argument as callers outside the backend give it.
public enum KernelArgValue {
    case buffer(Buffer), int(Int), float(Float)
    var arg: KernelArg {
        switch self {
        case .buffer(let b): return .buffer(b)
        case .int(let i): return .int(i)
        case .float(let f): return .float(f)
        }
    }
}

/// A context and in-order queue on one device, with its compiled programs.
/// Programs are compiled once per (source, build options) and cached for the process.
///
/// Commands inside a running op (an allocation, a launch, a transfer) cannot throw through
/// the ops' signatures. The context records the first failure, enqueues nothing after it,
/// and the code that reads results back (the training step, the translation, `check`,
/// `bench`) throws it through `Backend.throwIfFailed()`.
final class OpenCLContext {
    let device: OpenCLDeviceInfo
    let context: cl_context
    let queue: cl_command_queue
    let profiling: Bool
    /// The first failed command; once set, launches and transfers are skipped.
    private(set) var failure: OpenCLError?
    /// The test-only fault of $CYCLEGAN_FAULT.
    let fault = InjectedFault(ProcessInfo.processInfo.environment["CYCLEGAN_FAULT"])
    /// Called when a launch reports that memory ran out, before its one retry: frees the
    /// buffer pool's cache. Returns the bytes freed.
    var onOutOfMemory: () -> Int = { 0 }
    /// Kernel launches so far (for the injected fault).
    private var launches = 0
    /// When non-nil (and the queue profiles), every launch's event is collected here; no
    /// event is created otherwise.
    private var eventLog: [cl_event]? = nil
    private var eventNames: [String] = []
    /// The `LayerScope` each collected event was enqueued under.
    private var eventScopes: [(label: String, backward: Bool)?] = []
    /// CL_KERNEL_WORK_GROUP_SIZE of each kernel, queried once.
    private var kernelGroupLimits: [OpaquePointer: Int] = [:]
    /// A lower limit on every kernel's work-group than the driver's (`OpenCLTuning.workGroupLimit`:
    /// the tests run a large device's limits this way).
    var groupLimitCap: Int? = nil
    /// CYCLEGAN_PROFILE_KERNELS=1: `deviceTime` also prints each kernel's time.
    private let printKernelTimes = ProcessInfo.processInfo.environment["CYCLEGAN_PROFILE_KERNELS"] == "1"
    private var programs: [String: cl_program] = [:]
    private var kernels: [String: cl_kernel] = [:]

    init(device: OpenCLDeviceInfo, profiling: Bool) throws {
        self.device = device
        self.profiling = profiling
        var err: cl_int = 0
        var dev: cl_device_id? = device.id
        guard let ctx = clCreateContext(nil, 1, &dev, nil, nil, &err), err == CL_SUCCESS else {
            throw OpenCLError(code: err, operation: "clCreateContext on \(device.name)")
        }
        context = ctx
        let props = profiling ? cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE) : 0
        guard let q = clCreateCommandQueue(ctx, device.id, props, &err), err == CL_SUCCESS else {
            clReleaseContext(ctx)
            throw OpenCLError(code: err, operation: "clCreateCommandQueue on \(device.name)")
        }
        queue = q
    }

    deinit {
        for k in kernels.values { clReleaseKernel(k) }
        for p in programs.values { clReleaseProgram(p) }
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// The program text of Kernels/<name>.cl: common.cl followed by the file.
    static func programSource(named name: String) throws -> String {
        try source(named: "common") + "\n" + source(named: name)
    }

    /// The text of Kernels/<name>.cl: from $CYCLEGAN_KERNELS when set (for kernel
    /// development), else the copy embedded in the binary.
    static func source(named name: String) throws -> String {
        if let dir = ProcessInfo.processInfo.environment["CYCLEGAN_KERNELS"], !dir.isEmpty {
            let path = (dir as NSString).appendingPathComponent("\(name).cl")
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw OpenCLError(code: CL_INVALID_VALUE, operation: "reading \(path) (CYCLEGAN_KERNELS)")
            }
            return text
        }
        guard let s = embeddedKernelSources[name] else {
            throw OpenCLError(code: CL_INVALID_VALUE, operation: "no kernel source named \(name)")
        }
        return s.text
    }

    /// Compiles Kernels/<file>.cl with `options` (once per process) and returns the program.
    func program(_ file: String, options: String = "") throws -> cl_program {
        let key = file + "|" + options
        if let p = programs[key] { return p }
        let (program, status) = try build(file, options: options)
        if status != CL_SUCCESS {
            var e = OpenCLError(code: status, operation: "building \(file).cl for \(device.name)")
            e.detail = "build log:\n" + buildLog(program)
            clReleaseProgram(program)
            throw e
        }
        programs[key] = program
        return program
    }

    /// A new program of Kernels/<file>.cl and the status of clBuildProgram with `options`
    /// (the caller owns the program, built or not: its log says why).
    func build(_ file: String, options: String) throws -> (program: cl_program, status: cl_int) {
        let text = try Self.programSource(named: file)
        var err: cl_int = 0
        let program: cl_program? = text.withCString { cstr in
            var ptr: UnsafePointer<CChar>? = cstr
            var len = strlen(cstr)
            return clCreateProgramWithSource(context, 1, &ptr, &len, &err)
        }
        guard let program, err == CL_SUCCESS else {
            throw OpenCLError(code: err, operation: "clCreateProgramWithSource \(file).cl")
        }
        var dev: cl_device_id? = device.id
        return (program, clBuildProgram(program, 1, &dev, options, nil, nil))
    }

    /// The names of the kernels a built program holds (CL_PROGRAM_KERNEL_NAMES).
    func kernelNames(_ program: cl_program) -> [String] {
        var size = 0
        guard clGetProgramInfo(program, cl_program_info(CL_PROGRAM_KERNEL_NAMES), 0, nil, &size) == CL_SUCCESS, size > 0 else { return [] }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard clGetProgramInfo(program, cl_program_info(CL_PROGRAM_KERNEL_NAMES), size, &bytes, nil) == CL_SUCCESS else { return [] }
        return String(cString: bytes).split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The device binary of a built program (CL_PROGRAM_BINARIES: NVIDIA's is PTX text).
    func binary(_ program: cl_program) -> [UInt8] {
        var size = 0
        guard clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil) == CL_SUCCESS,
              size > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: size)
        let status: cl_int = bytes.withUnsafeMutableBufferPointer { buf in
            var ptr: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            return clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES), MemoryLayout<UnsafeMutablePointer<UInt8>?>.size, &ptr, nil)
        }
        return status == CL_SUCCESS ? bytes : []
    }

    /// A kernel's CL_KERNEL_WORK_GROUP_SIZE, CL_KERNEL_LOCAL_MEM_SIZE, CL_KERNEL_PRIVATE_MEM_SIZE
    /// and CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE (0 where the driver does not say).
    func workGroupInfo(_ kernel: cl_kernel) -> (workGroupSize: Int, localBytes: Int, privateBytes: Int, multiple: Int) {
        func size(_ what: Int32) -> Int {
            var n = 0
            return clGetKernelWorkGroupInfo(kernel, device.id, cl_kernel_work_group_info(what), MemoryLayout<Int>.size, &n, nil)
                == CL_SUCCESS ? n : 0
        }
        func bytes(_ what: Int32) -> Int {
            var n: cl_ulong = 0
            return clGetKernelWorkGroupInfo(kernel, device.id, cl_kernel_work_group_info(what), MemoryLayout<cl_ulong>.size, &n, nil)
                == CL_SUCCESS ? Int(n) : 0
        }
        return (size(CL_KERNEL_WORK_GROUP_SIZE), bytes(CL_KERNEL_LOCAL_MEM_SIZE), bytes(CL_KERNEL_PRIVATE_MEM_SIZE),
                size(CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE))
    }

    func buildLog(_ program: cl_program) -> String {
        var size = 0
        guard clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size) == CL_SUCCESS,
              size > 0 else { return "(the driver gave no build log)" }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil) == CL_SUCCESS
        else { return "(the driver gave no build log)" }
        return String(cString: bytes)
    }

    /// The kernel `name` of Kernels/<file>.cl, created once.
    func kernel(_ file: String, _ name: String, options: String = "") throws -> cl_kernel {
        let key = file + "|" + options + "|" + name
        if let k = kernels[key] { return k }
        let p = try program(file, options: options)
        var err: cl_int = 0
        guard let k = clCreateKernel(p, name, &err), err == CL_SUCCESS else {
            throw OpenCLError(code: err, operation: "clCreateKernel \(name) in \(file).cl")
        }
        kernels[key] = k
        return k
    }

    /// Records `code` as the context's failure unless it is CL_SUCCESS or a failure is
    /// already recorded; returns whether `code` is CL_SUCCESS.
    @discardableResult
    func record(_ code: cl_int, _ operation: @autoclosure () -> String) -> Bool {
        if code == CL_SUCCESS { return true }
        if failure == nil { failure = OpenCLError(code: code, operation: operation()) }
        return false
    }

    /// Sets the arguments and enqueues `kernel` over `global` (rounded up to a multiple
    /// of `local`, which the kernels bound-check). Does nothing once a failure is recorded.
    /// A launch that reports exhausted memory frees the buffer cache and is retried once.
    func launch(_ kernel: cl_kernel?, _ name: String, global: [Int], local: [Int]?, _ args: [KernelArg]) {
        guard failure == nil, let kernel else { return }
        var local = local
        if let chosen = local, case let limit = groupLimit(kernel), chosen.reduce(1, *) > limit {
            // Kernels that index by global id alone run in smaller groups, said once; the
            // group-shaped ones had their sizes fitted at start-up, so this is a failure.
            guard !KernelTable.indexedByGroup.contains(name) else {
                record(CL_INVALID_WORK_GROUP_SIZE, "launching \(name): a work-group of \(chosen.reduce(1, *)) items, "
                    + "more than this kernel allows on \(device.name) (\(limit))")
                return
            }
            var fitted = chosen
            while fitted.reduce(1, *) > limit, let d = fitted.indices.max(by: { fitted[$0] < fitted[$1] }) { fitted[d] = max(1, fitted[d] / 2) }
            warnOnce("note: \(name) runs in work-groups of \(fitted.map(String.init).joined(separator: "x")) instead of "
                + "\(chosen.map(String.init).joined(separator: "x")): \(device.name) allows it \(limit) work-items")
            local = fitted
        }
        for (i, arg) in args.enumerated() {
            let idx = cl_uint(i)
            var status: cl_int
            switch arg {
            case .buffer(let b):
                guard let buffer = b as? OpenCLBuffer else {
                    record(CL_INVALID_MEM_OBJECT, "\(name): a buffer of another backend as argument \(i)")
                    return
                }
                var mem: cl_mem? = buffer.mem
                status = clSetKernelArg(kernel, idx, MemoryLayout<cl_mem?>.size, &mem)
            case .int(let v):
                guard var x = cl_int(exactly: v) else {
                    record(CL_INVALID_ARG_VALUE, "\(name): argument \(i) is \(v), past the 32-bit int the kernel takes")
                    return
                }
                status = clSetKernelArg(kernel, idx, MemoryLayout<cl_int>.size, &x)
            case .float(let v):
                var x = v
                status = clSetKernelArg(kernel, idx, MemoryLayout<Float>.size, &x)
            case .ulong(let v):
                var x = cl_ulong(v)
                status = clSetKernelArg(kernel, idx, MemoryLayout<cl_ulong>.size, &x)
            case .local(let bytes):
                status = clSetKernelArg(kernel, idx, bytes, nil)
            }
            guard record(status, "clSetKernelArg \(i) of \(name)") else { return }
        }
        var g = global
        if let local { for d in 0..<g.count { g[d] = (g[d] + local[d] - 1) / local[d] * local[d] } }
        if g.contains(0) { return }
        launches += 1
        var status = enqueue(kernel, name, global: g, local: local, attempt: 0)
        if OpenCLError.isOutOfMemory(status) {
            // Drivers that allocate lazily (NVIDIA's) report exhausted memory here.
            clFinish(queue)
            let freed = onOutOfMemory()
            status = enqueue(kernel, name, global: g, local: local, attempt: 1)
            if status == CL_SUCCESS {
                warnOnce("note: the device ran out of memory launching \(name); freed \(freed >> 20) MiB of cached buffers and retried")
            }
        }
        record(status, "clEnqueueNDRangeKernel \(name)")
    }

    /// One clEnqueueNDRangeKernel; collects its event only while `deviceTime` runs.
    private func enqueue(_ kernel: cl_kernel, _ name: String, global g: [Int], local: [Int]?, attempt: Int) -> cl_int {
        if let code = fault?.code(.launch, count: launches, attempt: attempt) { return code }
        let timing = profiling && eventLog != nil
        var event: cl_event? = nil
        let status: cl_int = withUnsafeMutablePointer(to: &event) { ep in
            let eventOut: UnsafeMutablePointer<cl_event?>? = timing ? ep : nil
            return g.withUnsafeBufferPointer { gp in
                guard let local else {
                    return clEnqueueNDRangeKernel(queue, kernel, cl_uint(g.count), nil, gp.baseAddress, nil, 0, nil, eventOut)
                }
                return local.withUnsafeBufferPointer { lp in
                    clEnqueueNDRangeKernel(queue, kernel, cl_uint(g.count), nil, gp.baseAddress, lp.baseAddress, 0, nil, eventOut)
                }
            }
        }
        if let event { eventLog!.append(event); eventNames.append(name); eventScopes.append(LayerScope.current) }
        return status
    }

    /// The largest work-group `kernel` may be launched with on this device
    /// (CL_KERNEL_WORK_GROUP_SIZE, at most `groupLimitCap`).
    func groupLimit(_ kernel: cl_kernel) -> Int {
        let key = kernel
        if let n = kernelGroupLimits[key] { return n }
        var n = 0
        let status = clGetKernelWorkGroupInfo(kernel, device.id, cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE),
                                              MemoryLayout<Int>.size, &n, nil)
        if status != CL_SUCCESS || n <= 0 { n = device.maxWorkGroupSize }
        n = min(n, groupLimitCap ?? n)
        kernelGroupLimits[key] = n
        return n
    }

    /// CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE of `kernel` (1 where the driver does not say).
    func preferredGroupMultiple(_ kernel: cl_kernel) -> Int {
        var n = 0
        let status = clGetKernelWorkGroupInfo(kernel, device.id, cl_kernel_work_group_info(CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE),
                                              MemoryLayout<Int>.size, &n, nil)
        return status == CL_SUCCESS && n > 0 ? n : 1
    }

    private var warned = Set<String>()
    /// Says `message` on stderr once per process.
    func warnOnce(_ message: String) {
        guard warned.insert(message).inserted else { return }
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Waits for the queue; a failure is recorded.
    func finish() {
        guard failure == nil else { return }
        record(clFinish(queue), "clFinish")
    }

    /// Runs `body` and returns the device time of the kernels it enqueued: from the first
    /// one's start to the last one's end (in-order queue), in seconds. Needs profiling.
    func deviceTime(_ body: () -> Void) -> Double { deviceTimeByScope(body).total }

    /// As `deviceTime`, with each kernel's time also summed by the `LayerScope` it was
    /// enqueued under (label → forward and backward seconds; "other" where none).
    func deviceTimeByScope(_ body: () -> Void) -> (total: Double, scopes: [String: (forward: Double, backward: Double, kernels: Int)]) {
        eventLog = []
        eventNames = []
        eventScopes = []
        body()
        finish()
        let events = eventLog ?? []
        eventLog = nil
        var first = UInt64.max, last = UInt64(0)
        var perKernel: [String: Double] = [:]
        var scopes: [String: (forward: Double, backward: Double, kernels: Int)] = [:]
        for ((e, name), scope) in zip(zip(events, eventNames), eventScopes) {
            var start: cl_ulong = 0, end: cl_ulong = 0
            if record(clGetEventProfilingInfo(e, cl_profiling_info(CL_PROFILING_COMMAND_START), 8, &start, nil), "clGetEventProfilingInfo"),
               record(clGetEventProfilingInfo(e, cl_profiling_info(CL_PROFILING_COMMAND_END), 8, &end, nil), "clGetEventProfilingInfo"),
               end >= start {
                first = min(first, start); last = max(last, end)
                let t = Double(end - start) * 1e-9
                perKernel[name, default: 0] += t
                var entry = scopes[scope?.label ?? "other"] ?? (0, 0, 0)
                if scope?.backward == true { entry.backward += t } else { entry.forward += t }
                entry.kernels += 1
                scopes[scope?.label ?? "other"] = entry
            }
            clReleaseEvent(e)
        }
        if printKernelTimes {
            print(perKernel.sorted { $0.value > $1.value }.map { String(format: "  %@ %.3f ms", $0.key, $0.value * 1000) }.joined(separator: "\n"))
        }
        return (last > first ? Double(last - first) * 1e-9 : 0, scopes)
    }
}
