import ArgumentParser
import CycleGAN
import Foundation

/// `cyclegan bench`: device ceilings, every conv pass and instance norm at CycleGAN's
/// shapes (checked against the CPU reference, then timed by profiling events), and full
/// training iterations.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmark the kernels and the training step on a device.")

    @OptionGroup var device: DeviceOption

    @Option(help: "Image sizes for the op and iteration benchmarks (comma-separated).")
    var sizes = "128,256"

    @Option(help: "Generator/discriminator width.")
    var ngf = 64

    @Option(name: .customLong("n_blocks"), help: "Residual blocks of the generator for the iteration benchmark.")
    var nBlocks = 9

    @Option(name: .customLong("batch_size"), help: "Images per training iteration of the iteration benchmark.")
    var batchSize = 1

    @Option(help: "Timed repetitions per measurement (the median is reported).")
    var repeats = 5

    @Flag(name: .customLong("no-check"), help: "Skip the CPU-reference check before timing (it is slow at large sizes).")
    var noCheck = false

    @Flag(help: "Skip the training-iteration benchmark.")
    var noIteration = false

    @Option(help: "Which op rows to run: all, none, or those whose op and shape contain this text (e.g. \"k3x3 s1\").")
    var ops = "all"

    @Option(help: "The product of the GEMM rows, MxNxK (default 256x256x2304, the residual conv's; 40x72x50 with --quick).")
    var gemm: String?

    @Flag(help: "Smoke test: tiny ceiling kernels (their figures mean nothing); combine with small --sizes and --ngf.")
    var quick = false

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    @Flag(help: "Under mpirun: only time the allreduce of one iteration's gradients (G and D buckets) between the ranks, against one rank's backward time that it can overlap.")
    var allreduce = false

    struct Report: Codable {
        var device: String
        /// `--precision`.
        var precision: String
        var date: String
        var fmaGFLOPS: Double
        var copyGBs: Double
        var ops: [BenchRow]
        var iterations: [IterationBench]
        /// Per iteration size, each layer's forward and backward device time.
        var layers: [[Benchmark.LayerTime]]
    }

    func run() {
        if allreduce { return runAllreduce() }
        runReportingErrors {
            let sizeList = sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !sizeList.isEmpty, sizeList.allSatisfy({ $0 >= 32 && $0 <= 2048 && $0 % 8 == 0 }) else {
                throw ValidationError("--sizes must be multiples of 8 from 32 to 2048 (got \(sizes))")
            }
            guard (1...512).contains(ngf), nBlocks == 6 || nBlocks == 9, (1...1000).contains(repeats) else {
                throw ValidationError("--ngf must be 1 to 512, --repeats 1 to 1000 and --n_blocks 6 or 9")
            }
            guard (1...64).contains(batchSize) else { throw ValidationError("--batch_size: expected 1 to 64, got \(batchSize)") }
            let backend = try device.backend(profiling: true)
            guard let ocl = backend as? OpenCLBackend else {
                throw ValidationError("bench needs an OpenCL device (--device cpu-ref has no kernels to time)")
            }
            print("device: \(ocl.name)   gemm v\(ocl.gemmVersion.rawValue) tile \(ocl.gemmTile.description), conv \(ocl.convAlgorithm.rawValue), "
                  + "precision \(ocl.precision.rawValue)")
            let (gflops, gbs) = Benchmark.ceilings(ocl, repeats: repeats, quick: quick)
            print(String(format: "ceilings: FMA %.1f GFLOP/s, copy %.1f GB/s", gflops, gbs))
            print("op                 shape                                   pass               median ms        rate   %ceil   rel err")
            var rows: [BenchRow] = []
            let show: (BenchRow) -> Void = { r in
                print(r.op.padding(toLength: 18, withPad: " ", startingAt: 0) + " "
                      + r.shape.padding(toLength: 39, withPad: " ", startingAt: 0) + " "
                      + r.pass.padding(toLength: 16, withPad: " ", startingAt: 0)
                      + String(format: " %11.3f %9.1f %@ %5.1f%%  %@", r.seconds * 1000, r.rate, r.unit == "GB/s" ? "GB/s   " : "GFLOP/s",
                               r.percentOfCeiling, r.relativeError.map { String(format: "%.1e", $0) } ?? "-"))
            }
            let filter: String? = ops == "all" ? nil : ops
            if ops != "none" && (filter.map { "gemm".contains($0) || $0.hasPrefix("gemm") } ?? true) {
                let dims = (gemm ?? (quick ? "40x72x50" : "256x256x2304")).split(separator: "x").compactMap { Int($0) }
                guard dims.count == 3, dims.allSatisfy({ (1...8192).contains($0) }) else {
                    throw ValidationError("--gemm: expected MxNxK with each from 1 to 8192, got \"\(gemm ?? "")\"")
                }
                rows += try Benchmark.gemmRows(ocl, m: dims[0], n: dims[1], r: dims[2], repeats: repeats, ceiling: gflops, progress: show)
            }
            for s in sizeList where ops != "none" {
                rows += Benchmark.convRows(ocl, size: s, ngf: ngf, repeats: repeats, ceiling: gflops, check: !noCheck,
                                           filter: filter, progress: show)
                if filter.map({ "instance_norm2d".contains($0) }) ?? true {
                    rows += Benchmark.normRows(ocl, size: s, ngf: ngf, repeats: repeats, bandwidth: gbs, progress: show)
                }
            }
            try ocl.throwIfFailed()
            if let bad = rows.first(where: { !$0.passed }) {
                print("check failed: \(bad.op) \(bad.shape) \(bad.pass) relative error \(bad.relativeError!)")
                throw ExitCode(1)
            }
            var iterations: [IterationBench] = []
            var breakdowns: [[Benchmark.LayerTime]] = []
            if !noIteration {
                for s in sizeList {
                    let it = try Benchmark.iteration(ocl, size: s, ngf: ngf, nBlocks: nBlocks, batch: batchSize, repeats: max(1, repeats / 2))
                    iterations.append(it)
                    print(String(format: "training iteration %d² ngf %d, %d blocks, batch %d: median %.0f ms, %.2f images/s, peak device memory %.0f MiB, host share %.1f%%",
                                 s, ngf, nBlocks, batchSize, it.medianMs, it.imagesPerSecond, Double(it.peakDeviceBytes) / 1048576, 100 * (it.hostShare ?? 0)))
                    let (layers, stepMs) = try Benchmark.iterationBreakdown(ocl, size: s, ngf: ngf, nBlocks: nBlocks, batch: batchSize)
                    print(String(format: "  by layer (device time of one step, %.0f ms; each layer summed over its calls):", stepMs))
                    print("  layer                                                      forward ms  backward ms   share")
                    for l in layers {
                        print("  " + l.layer.padding(toLength: 58, withPad: " ", startingAt: 0)
                              + String(format: " %10.1f  %11.1f  %5.1f%%", l.forwardMs, l.backwardMs, 100 * l.share))
                    }
                    breakdowns.append(layers)
                }
            }
            if let json {
                let report = Report(device: ocl.name, precision: ocl.precision.rawValue, date: ISO8601DateFormatter().string(from: Date()), fmaGFLOPS: gflops,
                                    copyGBs: gbs, ops: rows, iterations: iterations, layers: breakdowns)
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                try writeAtomically(try enc.encode(report), to: json)
                print("wrote \(json)")
            }
        }
    }

    /// `--allreduce`: the gradients' allreduce between the ranks, per size (printed by rank 0).
    func runAllreduce() {
        var distributed: Distributed? = nil
        runReportingErrors { distributed = try Distributed.fromEnvironment() }
        guard let d = distributed else { fail("--allreduce measures communication between ranks: run it under mpirun -np N") }
        defer { d.finalize() }
        runReportingErrors(distributed: d) {
            let sizeList = sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !sizeList.isEmpty, sizeList.allSatisfy({ $0 >= 32 && $0 <= 2048 && $0 % 8 == 0 }),
                  (1...512).contains(ngf), nBlocks == 6 || nBlocks == 9, (1...1000).contains(repeats) else {
                throw ValidationError("--sizes must be multiples of 8 from 32 to 2048, --ngf 1 to 512, --n_blocks 6 or 9, --repeats 1 to 1000")
            }
            let backend = try device.backend(localRank: d.localRank)
            if d.isRoot {
                print("allreduce over \(d.size) ranks (\(d.localSize) on rank 0's host), device \(backend.name)")
                print("size  ngf  G grads MB  D grads MB  buckets  allreduce ms  bus GB/s  iteration ms  forward ms  backward ms  hidden")
            }
            var results: [AllreduceBench] = []
            for s in sizeList {
                let r = try AllreduceBench.run(backend, distributed: d, size: s, ngf: ngf, nBlocks: nBlocks, repeats: repeats)
                results.append(r)
                if d.isRoot {
                    print(String(format: "%4d  %3d  %10.1f  %10.1f  %7d  %12.2f  %8.2f  %12.1f  %10.1f  %11.1f  %5.0f%%", s, ngf,
                                 Double(r.generatorBytes) / 1e6, Double(r.discriminatorBytes) / 1e6, r.buckets, r.allreduceMs,
                                 r.busGBs, r.iterationMs, r.forwardMs, r.backwardMs, 100 * min(1, r.backwardMs / max(r.allreduceMs, 1e-9))))
                }
            }
            if d.isRoot, let json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                try writeAtomically(try enc.encode(results), to: json)
                print("wrote \(json)")
            }
        }
    }
}
