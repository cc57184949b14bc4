import COpenCL
import Foundation

/// `cyclegan programs --build DIR`: every program of a device's `ProgramList` built on the
/// device itself, in a context of its own and without the program cache, with the driver's
/// own report of each kernel. On NVIDIA the programs are built with `-cl-nv-verbose` too, so
/// the build log holds ptxas's registers, spills and shared memory, and the binary is the
/// driver's PTX, which scripts/gpu-compilers.sh can assemble with ptxas offline.
public enum ProgramBuild {
    /// Builds the programs of `list` on `device` and writes into `directory`, per program,
    /// `<id>.log` (options, status, seconds, build log) and `<id>.ptx` (NVIDIA) or `<id>.bin`
    /// (CL_PROGRAM_BINARIES), and `kernels.tsv` with each kernel's planned work-group and use
    /// beside the driver's CL_KERNEL_WORK_GROUP_SIZE, CL_KERNEL_LOCAL_MEM_SIZE,
    /// CL_KERNEL_PRIVATE_MEM_SIZE and preferred multiple. Returns one line per problem: a
    /// program that does not build, a kernel the list names and the program lacks or the
    /// reverse, a planned work-group past the kernel's limit.
    public static func run(_ list: ProgramList, on device: OpenCLDeviceInfo, directory: String,
                           progress: (String) -> Void) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let cl = try OpenCLContext(device: device, profiling: false)
        let nvidia = DeviceLimits(device).vendor == .nvidia
        var problems: [String] = []
        var tsv = "program\tkernel\tplanned_work_group\tuse\tkernel_work_group_size\tlocal_mem_bytes\tprivate_mem_bytes\tpreferred_multiple\n"
        for p in list.programs {
            let options = nvidia ? p.options + " -cl-nv-verbose" : p.options
            let t0 = DispatchTime.now().uptimeNanoseconds
            let (program, status) = try cl.build(p.file, options: options)
            defer { clReleaseProgram(program) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            let log = cl.buildLog(program)
            let header = "program \(p.id): \(p.file).cl \(p.variant), \(p.precision)\noptions: \(options)\n"
                + "status: \(OpenCLError.name(of: status)), \(String(format: "%.2f", seconds)) s\n\n"
            try Data((header + log).utf8).write(to: URL(fileURLWithPath: "\(directory)/\(p.id).log"))
            guard status == CL_SUCCESS else {
                problems.append("\(p.id): \(OpenCLError.name(of: status)) (see \(p.id).log)")
                progress("\(p.id): does not build")
                continue
            }
            let bin = cl.binary(program)
            try Data(bin).write(to: URL(fileURLWithPath: "\(directory)/\(p.id).\(nvidia ? "ptx" : "bin")"))
            let names = Set(cl.kernelNames(program)), listed = Set(p.kernels.map(\.name))
            for n in listed.subtracting(names).sorted() { problems.append("\(p.id): the list names \(n), the program has no such kernel") }
            for n in names.subtracting(listed).sorted() { problems.append("\(p.id): the program holds \(n), which the list does not name") }
            for k in p.kernels where names.contains(k.name) {
                var err: cl_int = 0
                guard let kernel = clCreateKernel(program, k.name, &err), err == CL_SUCCESS else {
                    problems.append("\(p.id): clCreateKernel \(k.name): \(OpenCLError.name(of: err))")
                    continue
                }
                defer { clReleaseKernel(kernel) }
                let info = cl.workGroupInfo(kernel)
                if let wg = k.workGroup, k.use != "bench", k.use != "unused", info.workGroupSize > 0, wg > info.workGroupSize {
                    problems.append("\(p.id): \(k.name) is launched with \(wg) work-items; the driver allows it \(info.workGroupSize)")
                }
                tsv += "\(p.id)\t\(k.name)\t\(k.workGroup.map(String.init) ?? "driver")\t\(k.use)\t\(info.workGroupSize)\t"
                    + "\(info.localBytes)\t\(info.privateBytes)\t\(info.multiple)\n"
            }
            progress(String(format: "%@: built in %.2f s, %d kernels, %d bytes of binary", p.id, seconds, names.count, bin.count))
        }
        try Data(tsv.utf8).write(to: URL(fileURLWithPath: "\(directory)/kernels.tsv"))
        return problems
    }
}
