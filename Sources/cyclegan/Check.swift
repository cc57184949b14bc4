import ArgumentParser
import CycleGAN
import Foundation

/// `cyclegan check`: every op's forward and backward on the chosen device against the
/// CPU reference, at CycleGAN's layer shapes; exit status 1 if any differs by more than
/// the tolerance. How a user verifies a new GPU.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check every op on a device against the CPU reference.")

    @OptionGroup var device: DeviceOption

    @Option(help: "Image size of the CycleGAN layer shapes.")
    var size = 64

    @Option(help: "Generator/discriminator width of the layer shapes (the model uses 64; the CPU reference is slow at 64).")
    var ngf = 16

    @Flag(help: "Use the small awkward shapes of the parity tests instead (fast; used under oclgrind in CI).")
    var small = false

    @Option(help: "rtol: ‖dev − cpu‖/‖cpu‖ at most this, and every element within rtol·(|cpu| + max|cpu|) (default 1e-4).")
    var tolerance = Tolerance.fp32.rtol

    @Option(help: "Instead, compare with PyTorch's reference values in this folder (Tests/Fixtures): every op case, two training steps of the fixture's CycleGAN, a U-Net with batch norm and dropout, and two pix2pix steps.")
    var fixtures: String?

    func run() {
        runReportingErrors {
            guard size >= 16, size <= 1024, size % 8 == 0 else {
                throw ValidationError("--size must be a multiple of 8 from 16 to 1024 (got \(size))")
            }
            guard (1...512).contains(ngf) else { throw ValidationError("--ngf must be 1 to 512 (got \(ngf))") }
            guard tolerance.isFinite, tolerance > 0 else { throw ValidationError("--tolerance must be a positive number (got \(tolerance))") }
            if fixtures != nil, try device.precision() != .fp32 {
                throw ValidationError("--fixtures compares with PyTorch's FP32 values: run it with --precision fp32 "
                    + "(other precisions check against the CPU reference in the same precision: omit --fixtures)")
            }
            let backend = try device.backend(tuned: false)  // what CI exercises, whatever a cache says
            print("device: \(backend.name)")
            if let fixtures {
                try checkFixtures(fixtures, on: backend)
                return
            }
            let cases = small ? OpCases.parity : OpCases.cyclegan(size: size, ngf: ngf)
            let header = "op".padding(toLength: 20, withPad: " ", startingAt: 0) + " "
                + "shape".padding(toLength: 38, withPad: " ", startingAt: 0) + " "
                + "output".padding(toLength: 12, withPad: " ", startingAt: 0) + "   max abs err    rel err  result"
            print(header)
            var failures = 0
            _ = checkParity(cases, on: backend, tolerance: tolerance) { r in
                if !r.passed { failures += 1 }
                print(r.op.padding(toLength: 20, withPad: " ", startingAt: 0) + " "
                      + r.shape.padding(toLength: 38, withPad: " ", startingAt: 0) + " "
                      + r.output.padding(toLength: 12, withPad: " ", startingAt: 0)
                      + String(format: " %12.3e %10.3e  %@", r.maxAbsError, r.relativeError, r.passed ? "pass" : "FAIL"))
            }
            try backend.throwIfFailed()
            if failures > 0 {
                print("\(failures) check(s) failed on \(backend.name)")
                throw ExitCode(1)
            }
            print("all checks passed on \(backend.name)")
        }
    }

    /// `--fixtures`: the op cases at `--tolerance`, the model at its own tolerances (forward
    /// values at `--tolerance`, gradients and weights as the fixture tests hold them).
    func checkFixtures(_ directory: String, on backend: Backend) throws {
        let fixture = try PyTorchFixture(directory: directory)
        let pix2pix = try Pix2PixFixture(directory: directory)
        let results = try fixture.compareOps(on: backend, tolerance: tolerance)
            + fixture.compareModel(on: backend, forwardTolerance: tolerance)
            + pix2pix.compareUnet(on: backend, forwardTolerance: tolerance)
            + pix2pix.compareTraining(on: backend, forwardTolerance: tolerance).map { r in
                var r = r
                r.group = "pix2pix " + r.group
                return r
            }
        var groups: [String: (count: Int, worst: PyTorchFixture.Comparison)] = [:]
        for r in results {
            if let g = groups[r.group] {
                groups[r.group] = (g.count + 1, r.error / r.tolerance > g.worst.error / g.worst.tolerance ? r : g.worst)
            } else {
                groups[r.group] = (1, r)
            }
        }
        print("group".padding(toLength: 40, withPad: " ", startingAt: 0) + " count  worst      key")
        for (name, g) in groups.sorted(by: { $0.key < $1.key }) {
            print(name.padding(toLength: 40, withPad: " ", startingAt: 0)
                  + String(format: " %5d  %.2e  ", g.count, g.worst.error) + g.worst.key
                  + String(format: " (limit %.0e)", g.worst.tolerance))
        }
        let failed = results.filter { !$0.passed }
        for r in failed { print(String(format: "FAIL %@ %@: error %.3e, limit %.0e", r.group, r.key, r.error, r.tolerance)) }
        if !failed.isEmpty {
            print("\(failed.count) of \(results.count) comparisons with PyTorch failed on \(backend.name)")
            throw ExitCode(1)
        }
        print("all \(results.count) comparisons with PyTorch passed on \(backend.name)")
    }
}
