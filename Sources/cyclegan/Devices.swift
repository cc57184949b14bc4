import ArgumentParser
import CycleGAN

/// `cyclegan devices`: every platform and device, and which one `auto` picks.
struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List OpenCL platforms and devices.")

    func run() {
        let devices = openCLDevices()
        let auto = DeviceSpec.autoChoice(devices)
        if devices.isEmpty { print("No OpenCL platform or device found (is an ICD such as pocl-opencl-icd installed?).") }
        var platform = -1
        for d in devices {
            if d.platformIndex != platform {
                platform = d.platformIndex
                print("platform \(platform): \(d.platformName)")
            }
            let mark = d.spec == auto?.spec ? "  <- auto" : ""
            print("  \(d.spec)  \(d.name)\(mark)")
            print("      type \(d.typeName), \(d.computeUnits) compute units, \(d.globalMemory >> 20) MiB global, "
                  + "\(d.localMemory >> 10) KiB local, max work-group \(d.maxWorkGroupSize), "
                  + "preferred float vector width \(d.preferredFloatWidth)")
            print("      \(d.openCLCVersion), driver \(d.driverVersion), fp16 \(d.hasFP16 ? "yes" : "no"), fp64 \(d.hasFP64 ? "yes" : "no")")
            print("      precisions: \(d.precisionSupport)")
        }
        print("cpu-ref  CPU reference backend (plain Swift)\(auto == nil ? "  <- auto" : "")")
        switch Distributed.availability() {
        case .success(let version): print("MPI: available for `mpirun -np N cyclegan train`: \(version)")
        case .failure(let why): print("MPI: not available (\(why))")
        }
    }
}
