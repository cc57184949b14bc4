import Foundation

/// One row of `cyclegan bench`.
public struct BenchRow: Codable, Sendable {
    public var op: String
    public var shape: String
    public var pass: String
    /// Median device seconds.
    public var seconds: Double
    /// GFLOP/s for compute ops, GB/s for memory-bound ones.
    public var rate: Double
    public var unit: String
    /// Share of the measured ceiling (FMA throughput or copy bandwidth), in percent.
    public var percentOfCeiling: Double
    /// ‖dev − cpu‖/‖cpu‖ of this op's output, checked before timing (nil: not checked).
    public var relativeError: Double?
    /// What `relativeError` must not pass (nil: 1e-4): the parity tolerance of the output in
    /// the backend's precision.
    public var tolerance: Double? = nil
    /// Whether the check passed (true when not checked).
    public var passed: Bool { (relativeError ?? 0) <= (tolerance ?? Tolerance.fp32.rtol) }
}

/// A full training iteration's timing.
public struct IterationBench: Codable, Sendable {
    public var size: Int, ngf: Int, nBlocks: Int, batch: Int
    public var medianMs: Double
    public var imagesPerSecond: Double
    public var peakDeviceBytes: Int
    /// Share of the iteration's wall time the host spends outside device work (enqueue,
    /// bookkeeping), measured as wall − device time of the same step.
    public var hostShare: Double?
}

/// Kernel and training-step measurements on one OpenCL device.
public enum Benchmark {
    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
    }

    /// The FMA ceiling (GFLOP/s) and copy bandwidth (GB/s) of the device.
    /// The ceiling is the best of the 8-, 12- and 16-chain FMA kernels at the device's
    /// preferred vector width (which count reaches the peak depends on the register file).
    /// `quick` shrinks both measurements to a smoke test (CI, oclgrind): the figures are
    /// then meaningless, only the kernels run.
    public static func ceilings(_ b: OpenCLBackend, repeats: Int = 5, quick: Bool = false) -> (gflops: Double, gbs: Double) {
        // ~40 ms per run on a 2-core CPU: long enough that scheduling noise does not matter
        let items = quick ? 16 : max(2048, b.device.computeUnits * 1024)
        let iters = quick ? 4 : 8192 * 16 / b.fmaWidth
        let out = b.makeBuffer(count: items)
        let local = b.gpuShaped ? 64 : Int(ProcessInfo.processInfo.environment["CYCLEGAN_FMA_LOCAL"] ?? "") ?? 1
        var gflops = 0.0
        for chains in [8, 12, 16] {
            // every launched work-item computes, also those past `items` in the last group
            let flops = Double((items + local - 1) / local * local) * Double(iters) * Double(chains * b.fmaWidth) * 2
            var times: [Double] = []
            for _ in 0..<(repeats + 1) {
                times.append(b.deviceTime { b.runBench("fma_peak_\(chains)", global: items, local: local, [.buffer(out), .float(0.999), .float(0.001), .int(iters), .int(items)]) })
            }
            gflops = max(gflops, flops / median(Array(times.dropFirst())) / 1e9)
        }
        let n4 = quick ? 1024 : 16 << 20  // 64M floats = 256 MB per buffer
        let src = b.makeBuffer(count: n4 * 4), dst = b.makeBuffer(count: n4 * 4)
        b.fill(src, value: 1)
        var times: [Double] = []
        for _ in 0..<(repeats + 1) {
            times.append(b.deviceTime { b.runBench("copy_bandwidth", global: n4, local: 64, [.buffer(src), .buffer(dst), .int(n4)]) })
        }
        let gbs = Double(n4) * 16 * 2 / median(Array(times.dropFirst())) / 1e9
        return (gflops, gbs)
    }

    /// The conv passes of CycleGAN's layers at `size`² and width `ngf`, each checked
    /// against the CPU reference in the backend's precision (unless `check` is false) then
    /// timed, on activations of the precision's type; with `filter`, only the layers whose
    /// "op shape" text contains it.
    public static func convRows(_ b: OpenCLBackend, size: Int, ngf: Int, repeats: Int, ceiling: Double,
                                check: Bool, filter: String? = nil, progress: (BenchRow) -> Void) -> [BenchRow] {
        var rows: [BenchRow] = []
        for c in OpCases.cyclegan(size: size, ngf: ngf) where c.op == "conv2d" || c.op == "conv_transpose2d" {
            if let filter, !(c.op + " " + c.shape).contains(filter) { continue }
            var checked: [String: ParityResult] = [:]
            if check { for r in checkParity([c], on: b) { checked[r.output] = r } }
            let bufs = c.inputs.mapValues { b.upload($0) }.merging(["x", "gy"].map { ($0, b.uploadActivation(c.inputs[$0]!)) }) { $1 }
            let isT = c.op == "conv_transpose2d"
            let g = geometry(of: c)
            let y = b.makeActivation(count: isT ? g.inputCount : g.outputCount)
            let gx = b.makeActivation(count: isT ? g.outputCount : g.inputCount)
            let gw = b.makeBuffer(count: g.weightCount)
            let passes: [(String, String, () -> Void)] = isT ? [
                ("forward", "y", { b.convTranspose2dForward(x: bufs["x"]!, weight: bufs["weight"]!, bias: bufs["bias"], y: y, g) }),
                ("backward-data", "grad_x", { b.convTranspose2dBackwardData(gy: bufs["gy"]!, weight: bufs["weight"]!, gx: gx, g) }),
                ("backward-weight", "grad_weight", { b.convTranspose2dBackwardWeight(x: bufs["x"]!, gy: bufs["gy"]!, gw: gw, g) }),
            ] : [
                ("forward", "y", { b.conv2dForward(x: bufs["x"]!, weight: bufs["weight"]!, bias: bufs["bias"], y: y, g) }),
                ("backward-data", "grad_x", { b.conv2dBackwardData(gy: bufs["gy"]!, weight: bufs["weight"]!, gx: gx, g) }),
                ("backward-weight", "grad_weight", { b.conv2dBackwardWeight(x: bufs["x"]!, gy: bufs["gy"]!, gw: gw, g) }),
            ]
            for (pass, output, body) in passes {
                _ = b.deviceTime(body)  // warm: first launch compiles for the local size
                let t = median((0..<repeats).map { _ in b.deviceTime(body) })
                let rate = g.flops / t / 1e9
                let row = BenchRow(op: c.op, shape: c.shape, pass: pass, seconds: t, rate: rate, unit: "GFLOP/s",
                                   percentOfCeiling: 100 * rate / ceiling, relativeError: checked[output]?.relativeError,
                                   tolerance: checked[output]?.tolerance)
                rows.append(row)
                progress(row)
            }
        }
        return rows
    }

    /// Each GEMM version (`OpenCLTuning.GEMMVersion`) on packed panels of an m × n × r
    /// product (the residual conv's 256 × 256 × 2304 by default): checked against a
    /// Double-precision product, then timed. Versions other than the device's own run on a
    /// second backend of the same device with that version forced (v2 in the GPU shape,
    /// whose 4 × 8 panels its 64 × 128 work-group tiles are made of).
    public static func gemmRows(_ b: OpenCLBackend, m: Int = 256, n: Int = 256, r: Int = 2304, repeats: Int,
                                ceiling: Double, progress: (BenchRow) -> Void) throws -> [BenchRow] {
        let a = randomHostTensor([m, r], seed: 11).values, bm = randomHostTensor([r, n], seed: 12).values
        // under tf32 the packers round the operands (ROUND_W): so does the expected product
        let operand: (Float) -> Float = b.precision == .tf32 ? Rounding.tf32 : { $0 }
        var expected = [Float](repeating: 0, count: m * n)
        a.map(operand).withUnsafeBufferPointer { a in
            bm.map(operand).withUnsafeBufferPointer { bm in
                for i in 0..<m {
                    var row = [Double](repeating: 0, count: n)
                    for q in 0..<r {
                        let x = Double(a[i * r + q])
                        for j in 0..<n { row[j] += x * Double(bm[q * n + j]) }
                    }
                    for j in 0..<n { expected[i * n + j] = Float(row[j]) }
                }
            }
        }
        var rows: [BenchRow] = []
        for version in [OpenCLTuning.GEMMVersion.packed, .tiled] {
            var tuning = b.tuning
            tuning.gemmVersion = version
            if version == .tiled { tuning.kernelShape = .gpu }  // its tiles are built from the GPU's panels
            let d = version == b.gemmVersion ? b : try OpenCLBackend(device: b.device, profiling: true, tuning: tuning, precision: b.precision)
            let (t, u) = (d.gemmTile.tm, d.gemmTile.tn)
            let (ha, hb) = (d.makeBuffer(count: m * r), d.makeBuffer(count: r * n))
            d.upload(a, to: ha); d.upload(bm, to: hb)
            let pa = d.packRows(ha, offset: 0, p: m, r: r, tile: t), pb = d.packCols(hb, offset: 0, p: n, r: r, tile: u)
            let c = d.makeBuffer(count: m * n)
            let body = { d.gemm(pa, pb, c, cOffset: 0, m: m, n: n, r: r, ldc: n) }
            body()
            let err = relativeError(d.download(c), expected)
            try d.throwIfFailed()
            let time = median((0..<repeats).map { _ in d.deviceTime(body) })
            let rate = 2 * Double(m) * Double(n) * Double(r) / time / 1e9
            let name = version == .packed ? "gemm v1 packed" : "gemm v2 tiled"
            let row = BenchRow(op: name, shape: "\(m)x\(n)x\(r) tile \(t)x\(u)", pass: "forward", seconds: time, rate: rate,
                               unit: "GFLOP/s", percentOfCeiling: 100 * rate / ceiling, relativeError: err)
            rows.append(row)
            progress(row)
        }
        return rows
    }

    /// Instance norm forward and backward at CycleGAN's sizes, in GB/s.
    public static func normRows(_ b: OpenCLBackend, size: Int, ngf: Int, repeats: Int, bandwidth: Double,
                                progress: (BenchRow) -> Void) -> [BenchRow] {
        var rows: [BenchRow] = []
        for (c, s) in [(ngf, size), (2 * ngf, size / 2), (4 * ngf, size / 4)] {
            let n = c * s * s
            let x = b.makeActivation(count: n), y = b.makeActivation(count: n), gy = b.makeActivation(count: n)
            let gx = b.makeActivation(count: n)
            let mean = b.makeBuffer(count: c), rstd = b.makeBuffer(count: c)
            b.randomNormal(x, count: n, seed: 1, mean: 0, std: 1); b.randomNormal(gy, count: n, seed: 2, mean: 0, std: 1)
            let passes: [(String, Double, () -> Void)] = [
                ("forward", 3, { b.instanceNormForward(x: x, y: y, mean: mean, rstd: rstd, planes: c, hw: s * s, eps: 1e-5) }),
                ("backward", 4, { b.instanceNormBackward(y: y, gy: gy, rstd: rstd, gx: gx, planes: c, hw: s * s) }),
            ]
            for (pass, touches, body) in passes {
                _ = b.deviceTime(body)
                let t = median((0..<repeats).map { _ in b.deviceTime(body) })
                let rate = touches * Double(n) * Double(b.precision.activationType.size) / t / 1e9
                let row = BenchRow(op: "instance_norm2d", shape: "1x\(c)x\(s)x\(s)", pass: pass, seconds: t, rate: rate,
                                   unit: "GB/s", percentOfCeiling: 100 * rate / bandwidth, relativeError: nil)
                rows.append(row)
                progress(row)
            }
        }
        return rows
    }

    /// Median wall time of full training iterations (G and D steps, losses read back).
    public static func iteration(_ backend: Backend, size: Int, ngf: Int, nBlocks: Int, batch: Int = 1, repeats: Int) throws -> IterationBench {
        let (model, a, bb) = iterationModel(backend, size: size, ngf: ngf, nBlocks: nBlocks, batch: batch)
        try model.step(realA: a, realB: bb)  // warm-up: compiles, fills the buffer pool
        try model.step(realA: a, realB: bb)
        let ocl = backend as? OpenCLBackend
        ocl?.resetPeakMemory()
        var times: [Double] = []
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try model.step(realA: a, realB: bb)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        var hostShare: Double? = nil
        if let ocl {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let device = ocl.deviceTime { _ = try? model.step(realA: a, realB: bb) }
            try ocl.throwIfFailed()
            let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            hostShare = max(0, (wall - device) / wall)
        }
        let t = median(times)
        return IterationBench(size: size, ngf: ngf, nBlocks: nBlocks, batch: batch, medianMs: t * 1000, imagesPerSecond: Double(batch) / t,
                              peakDeviceBytes: ocl?.peakMemoryBytes ?? 0, hostShare: hostShare)
    }

    /// One layer (an op at a shape) of a training iteration: its kernels' device time,
    /// forward and backward, summed over every call in the step (a generator layer runs in
    /// six generator passes).
    public struct LayerTime: Codable, Sendable {
        public var layer: String
        public var forwardMs: Double, backwardMs: Double
        /// Of the step's device time.
        public var share: Double
        /// Kernels launched under it in the step.
        public var kernels: Int
    }

    /// Per-layer device time of one training iteration (profiling events filed by
    /// `LayerScope`), largest first, and the step's device time in ms.
    public static func iterationBreakdown(_ ocl: OpenCLBackend, size: Int, ngf: Int, nBlocks: Int,
                                          batch: Int = 1) throws -> (layers: [LayerTime], stepMs: Double) {
        let (model, a, bb) = iterationModel(ocl, size: size, ngf: ngf, nBlocks: nBlocks, batch: batch)
        try model.step(realA: a, realB: bb)  // warm-up
        var failure: Error? = nil
        let (total, scopes) = ocl.deviceTimeByLayer { do { try model.step(realA: a, realB: bb) } catch { failure = error } }
        if let failure { throw failure }
        try ocl.throwIfFailed()
        let sum = scopes.values.reduce(0) { $0 + $1.forward + $1.backward }
        let layers = scopes.map { LayerTime(layer: $0.key, forwardMs: $0.value.forward * 1000, backwardMs: $0.value.backward * 1000,
                                            share: sum > 0 ? ($0.value.forward + $0.value.backward) / sum : 0, kernels: $0.value.kernels) }
        return (layers.sorted { $0.forwardMs + $0.backwardMs > $1.forwardMs + $1.backwardMs }, total * 1000)
    }

    static func geometry(of c: OpCase) -> Conv2dGeometry { c.geometry! }

    /// CycleGAN at ngf (both widths), seed 1, and a batch of random images of each domain.
    static func iterationModel(_ backend: Backend, size: Int, ngf: Int, nBlocks: Int,
                               batch: Int) -> (CycleGANModel, Tensor, Tensor) {
        var c = CycleGANConfig()
        c.ngf = ngf; c.ndf = ngf; c.nBlocks = nBlocks; c.seed = 1
        let shape = [batch, 3, size, size]
        let a = Tensor(shape: shape, values: randomHostTensor(shape, seed: 1).values, on: backend)
        let b = Tensor(shape: shape, values: randomHostTensor(shape, seed: 2).values, on: backend)
        return (CycleGANModel(c, on: backend), a, b)
    }
}
