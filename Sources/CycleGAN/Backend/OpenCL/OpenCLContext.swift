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
final class OpenCLContext {
    let device: OpenCLDeviceInfo
    let context: cl_context
    let queue: cl_command_queue
    let profiling: Bool
    /// When non-nil (and the queue profiles), every launch's event is collected here.
    var eventLog: [cl_event]? = nil
    private var eventNames: [String] = []
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
        let status = clBuildProgram(program, 1, &dev, options, nil, nil)
        if status != CL_SUCCESS {
            var e = OpenCLError(code: status, operation: "building \(file).cl for \(device.name)")
            e.detail = "build log:\n" + buildLog(program)
            clReleaseProgram(program)
            throw e
        }
        programs[key] = program
        return program
    }

    private func buildLog(_ program: cl_program) -> String {
        var size = 0
        clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
        var bytes = [CChar](repeating: 0, count: max(size, 1))
        clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil)
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

    /// Sets the arguments and enqueues `kernel` over `global` (rounded up to a multiple
    /// of `local`, which the kernels bound-check). Returns the event when profiling.
    @discardableResult
    func launch(_ kernel: cl_kernel, _ name: String, global: [Int], local: [Int]?, _ args: [KernelArg]) -> cl_event? {
        for (i, arg) in args.enumerated() {
            let idx = cl_uint(i)
            var status: cl_int
            switch arg {
            case .buffer(let b):
                var mem: cl_mem? = (b as! OpenCLBuffer).mem
                status = clSetKernelArg(kernel, idx, MemoryLayout<cl_mem?>.size, &mem)
            case .int(let v):
                var x = cl_int(v)
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
            clFatal(status, "clSetKernelArg \(i) of \(name)")
        }
        var g = global
        if let local { for d in 0..<g.count { g[d] = (g[d] + local[d] - 1) / local[d] * local[d] } }
        if g.contains(0) { return nil }
        var event: cl_event? = nil
        let status: cl_int = withUnsafeMutablePointer(to: &event) { ep in
            let eventOut: UnsafeMutablePointer<cl_event?>? = profiling ? ep : nil
            return g.withUnsafeBufferPointer { gp in
                guard let local else {
                    return clEnqueueNDRangeKernel(queue, kernel, cl_uint(g.count), nil, gp.baseAddress, nil, 0, nil, eventOut)
                }
                return local.withUnsafeBufferPointer { lp in
                    clEnqueueNDRangeKernel(queue, kernel, cl_uint(g.count), nil, gp.baseAddress, lp.baseAddress, 0, nil, eventOut)
                }
            }
        }
        clFatal(status, "clEnqueueNDRangeKernel \(name)")
        if let event, eventLog != nil { clRetainEvent(event); eventLog!.append(event); eventNames.append(name) }
        return event
    }

    func finish() { clFatal(clFinish(queue), "clFinish") }

    /// Runs `body` and returns the device time of the kernels it enqueued: from the first
    /// one's start to the last one's end (in-order queue), in seconds. Needs profiling.
    func deviceTime(_ body: () -> Void) -> Double {
        eventLog = []
        eventNames = []
        body()
        finish()
        let events = eventLog ?? []
        eventLog = nil
        var first = UInt64.max, last = UInt64(0)
        var perKernel: [String: Double] = [:]
        for (e, name) in zip(events, eventNames) {
            var start: cl_ulong = 0, end: cl_ulong = 0
            clGetEventProfilingInfo(e, cl_profiling_info(CL_PROFILING_COMMAND_START), 8, &start, nil)
            clGetEventProfilingInfo(e, cl_profiling_info(CL_PROFILING_COMMAND_END), 8, &end, nil)
            first = min(first, start); last = max(last, end)
            perKernel[name, default: 0] += Double(end - start) * 1e-9
            clReleaseEvent(e)
        }
        if printKernelTimes {
            print(perKernel.sorted { $0.value > $1.value }.map { String(format: "  %@ %.3f ms", $0.key, $0.value * 1000) }.joined(separator: "\n"))
        }
        return events.isEmpty ? 0 : Double(last - first) * 1e-9
    }
}
