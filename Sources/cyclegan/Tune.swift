import ArgumentParser
import CycleGAN
import Foundation

/// `cyclegan tune`: finds the fastest correct GEMM tiling for a device and caches it.
struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search the GEMM tiling for a device at CycleGAN's shapes and cache the winner (used by train, test and bench).")

    @OptionGroup var device: DeviceOption

    @Option(help: "Image size of the conv passes timed.")
    var size = 128

    @Option(help: "Generator/discriminator width of the conv passes timed.")
    var ngf = 64

    @Option(help: "Timed repetitions per conv pass (the median counts).")
    var repeats = 3

    @Option(help: "Try at most this many candidates (default: all).")
    var candidates: Int?

    func run() {
        runReportingErrors {
            guard size >= 32, size <= 1024, size % 8 == 0 else { throw ValidationError("--size must be a multiple of 8 from 32 to 1024 (got \(size))") }
            guard (1...512).contains(ngf) else { throw ValidationError("--ngf must be 1 to 512 (got \(ngf))") }
            guard (1...100).contains(repeats) else { throw ValidationError("--repeats must be 1 to 100 (got \(repeats))") }
            if let c = candidates, c < 1 { throw ValidationError("--candidates must be positive (got \(c))") }
            guard let ocl = try device.backend(tuned: false) as? OpenCLBackend else {
                throw ValidationError("tune needs an OpenCL device (--device cpu-ref has no kernels to tune)")
            }
            print("device: \(ocl.name), \(ocl.gpuShaped ? "GPU" : "CPU")-shaped kernels; conv passes at \(size)² with ngf \(ngf)")
            let best = try Tuner.tune(device: ocl.device, size: size, ngf: ngf, repeats: repeats, limit: candidates) { print("  " + $0) }
            let path = try Tuner.save(best, for: ocl.device)
            print(String(format: "best: tile %@, work-group tile %dx%d panels, slice %d (%.3f ms); cached in %@",
                         best.tile.description, best.wgm, best.wgn, best.ks, best.seconds * 1000, path))
        }
    }
}
