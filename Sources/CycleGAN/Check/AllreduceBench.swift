import Foundation

/// `cyclegan bench --allreduce`: under mpirun, the allreduce of one CycleGAN iteration's
/// gradients between the ranks, in the buckets training uses (`GradientBuckets`), against
/// the backward pass it can hide behind (one rank's iteration time less its forward time).
public struct AllreduceBench: Codable, Sendable {
    public var size: Int, ngf: Int, nBlocks: Int, ranks: Int
    /// Gradient bytes of the generators' and the discriminators' optimiser steps.
    public var generatorBytes: Int, discriminatorBytes: Int
    public var buckets: Int
    /// Median time to allreduce every bucket of one iteration (G's and D's), blocking.
    public var allreduceMs: Double
    /// Bus bandwidth of that: 2(N−1)/N · bytes / time (what each rank's link carries).
    public var busGBs: Double
    /// One rank's training iteration, and its forward passes alone.
    public var iterationMs: Double, forwardMs: Double
    /// iteration − forward: the backward passes and optimiser steps the allreduce overlaps.
    public var backwardMs: Double { iterationMs - forwardMs }

    public static func run(_ backend: Backend, distributed d: Distributed, size: Int, ngf: Int, nBlocks: Int,
                           repeats: Int) throws -> AllreduceBench {
        var c = CycleGANConfig()
        c.ngf = ngf; c.ndf = ngf; c.nBlocks = nBlocks; c.seed = 1
        let model = CycleGANModel(c, on: backend)
        let sets = [model.optimizerG.params, model.optimizerD.params]
        var bucketSizes: [Int] = []
        for params in sets {
            var bytes = 0
            for p in params.reversed() {
                if bytes > 0 && bytes + 4 * p.count > GradientBuckets.defaultBucketBytes { bucketSizes.append(bytes / 4); bytes = 0 }
                bytes += 4 * p.count
            }
            if bytes > 0 { bucketSizes.append(bytes / 4) }
        }
        var host = bucketSizes.map { [Float](repeating: 1, count: $0) }
        func allreduceAll() throws { for i in host.indices { try d.allreduceSum(&host[i]) } }
        try allreduceAll()  // warm-up: connections made
        var times: [Double] = []
        for _ in 0..<repeats {
            try d.barrier()
            let t0 = DispatchTime.now().uptimeNanoseconds
            try allreduceAll()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        let t = Benchmark.median(times)
        let totalBytes = bucketSizes.reduce(0, +) * 4
        // one rank's own iteration and forward passes (no communication)
        let a = Tensor(shape: [1, 3, size, size], values: randomHostTensor([1, 3, size, size], seed: 1).values, on: backend)
        let b = Tensor(shape: [1, 3, size, size], values: randomHostTensor([1, 3, size, size], seed: 2).values, on: backend)
        try model.step(realA: a, realB: b)
        var iters: [Double] = [], forwards: [Double] = []
        for _ in 0..<max(1, repeats / 2) {
            var t0 = DispatchTime.now().uptimeNanoseconds
            try model.step(realA: a, realB: b)
            iters.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            t0 = DispatchTime.now().uptimeNanoseconds
            try withNoGrad {
                // the forward passes of one iteration: four translations, two identities, six judgements
                let fakeB = model.netG_A(a), fakeA = model.netG_B(b)
                let outs = [model.netG_B(fakeB), model.netG_A(fakeA), model.netG_A(b), model.netG_B(a),
                            model.netD_A(fakeB), model.netD_B(fakeA), model.netD_A(b), model.netD_A(fakeB), model.netD_B(a), model.netD_B(fakeA)]
                _ = outs.map { $0.toArray().count }
                try backend.throwIfFailed()
            }
            forwards.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return AllreduceBench(size: size, ngf: ngf, nBlocks: nBlocks, ranks: d.size,
                              generatorBytes: sets[0].reduce(0) { $0 + 4 * $1.count },
                              discriminatorBytes: sets[1].reduce(0) { $0 + 4 * $1.count },
                              buckets: bucketSizes.count, allreduceMs: t * 1000,
                              busGBs: 2 * Double(d.size - 1) / Double(d.size) * Double(totalBytes) / t / 1e9,
                              iterationMs: Benchmark.median(iters) * 1000, forwardMs: Benchmark.median(forwards) * 1000)
    }
}
