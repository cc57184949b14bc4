import ArgumentParser
import CycleGAN
import Foundation

/// `cyclegan programs`: the OpenCL programs the backend builds for a device or a GPU profile,
/// and each kernel's work-group; `--build` builds them on the device with its driver's report.
struct Programs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the OpenCL programs the backend builds for a device or a GPU profile, and each kernel's work-group.",
        discussion: """
            --profile lists what a GPU would build without one (the GPU compilers' check, \
            scripts/gpu-compilers.sh, compiles that list with NVIDIA's, AMD's and Intel's compilers). \
            Without it, the device's own list; --build DIR builds it there and writes each build log, \
            binary and the driver's kernel limits to DIR.
            """)

    @Option(help: "A GPU profile: \(DeviceProfile.all.map(\.name).joined(separator: ", ")) (default: the device of --device).")
    var profile: String?

    @Option(name: .customLong("device"), help: "The device whose list to print or build (as train's --device; default auto).")
    var device: String?

    @Option(name: .customLong("precision"), help: "fp32, tf32, mixed or all (default all).")
    var precisionText: String = "all"

    @Flag(help: "Also the programs of every tiling `cyclegan tune` tries.")
    var candidates = false

    @Flag(help: "Print the list as JSON.")
    var json = false

    @Option(help: "Build every program of the device's list on it and write the build logs, binaries and kernels.tsv here.")
    var build: String?

    func run() {
        runReportingErrors { try list() }
    }

    private func list() throws {
        let precisions = precisionText == "all" ? [Precision.fp32, .tf32, .mixed] : [try Precision.parse(precisionText, source: "--precision")]
        let list: ProgramList
        var target: OpenCLDeviceInfo? = nil
        if let name = profile {
            guard let p = DeviceProfile.named(name) else {
                throw ValidationError("--profile: expected \(DeviceProfile.all.map(\.name).joined(separator: ", ")), got \"\(name)\"")
            }
            if build != nil { throw ValidationError("--build builds on a device: give --device instead of --profile") }
            if device != nil { throw ValidationError("--profile and --device: give one of them") }
            list = try ProgramList.offline(p, precisions: precisions, candidates: candidates)
        } else {
            let spec = try device.map { try DeviceSpec(parsing: $0) } ?? defaultDeviceSpec()
            guard let d = try openCLDevice(spec) else {
                throw ValidationError("--device: \(spec) is not an OpenCL device; the CPU reference builds no programs")
            }
            target = d
            // the tiling train and test would take: the tuned one where `cyclegan tune` cached it
            let tuned = Tuner.cached(for: d, gpuShaped: try OpenCLTuning().isGPUShaped(on: d))?.tile
            list = try ProgramList.onDevice(d, tile: tuned, precisions: precisions, candidates: candidates)
        }
        if json {
            FileHandle.standardOutput.write(try list.json())
            print()
        } else {
            printList(list)
        }
        if let dir = build, let d = target {
            let problems = try ProgramBuild.run(list, on: d, directory: dir) { print($0) }
            for p in problems { print("problem: \(p)") }
            print("\(list.programs.count) programs built on \(d.name) into \(dir): \(problems.isEmpty ? "no problem" : "\(problems.count) problems")")
            if !problems.isEmpty { throw ExitCode(1) }
        }
    }

    private func printList(_ list: ProgramList) {
        print("\(list.profile) (\(list.target)): \(list.device), \(list.kernelShape)-shaped kernels, "
              + "work-groups up to \(list.maxWorkGroupSize), \(list.localMemory >> 10) KiB local memory")
        for n in list.notes { print(n) }
        for p in list.programs {
            print("\(p.id)  [\(p.variant)]  \(p.options)")
            for k in p.kernels {
                let wg = k.workGroup.map { "\($0) work-items" } ?? (k.use == "bench" ? "bench's" : "driver's choice")
                print("    \(k.name)  \(wg)\(k.localArgumentBytes > 0 ? " + \(k.localArgumentBytes) B local" : "")  \(k.use)")
            }
            if !p.notBuilt.isEmpty { print("    not built: \(p.notBuilt.joined(separator: " "))") }
        }
    }
}
