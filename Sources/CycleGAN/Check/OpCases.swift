/// The op cases run by the parity tests (awkward shapes) and by `cyclegan check`
/// (the shapes CycleGAN runs, at a reduced width so that the CPU reference finishes).
public enum OpCases {
    public static func conv2d(_ g: Conv2dGeometry, seed: UInt64, bias: Bool = true) -> OpCase {
        var inputs = [
            "x": randomHostTensor([g.n, g.c, g.h, g.w], seed: seed),
            "weight": randomHostTensor([g.k, g.c, g.kh, g.kw], seed: seed + 1, -0.3, 0.3),
            "gy": randomHostTensor([g.n, g.k, g.oh, g.ow], seed: seed + 2),
        ]
        if bias { inputs["bias"] = randomHostTensor([g.k], seed: seed + 3) }
        return OpCase(op: "conv2d", shape: g.description, inputs: inputs, run: OpRunner.conv2d(g, bias: bias), flops: g.flops,
                      geometry: g, runsOnActivations: true)
    }

    /// A transposed conv x[n][cin][h][w] -> cout channels.
    public static func convTranspose2d(n: Int, cin: Int, h: Int, w: Int, cout: Int, kernel: Int,
                                       stride: Int, pad: Int, outputPadding: Int, seed: UInt64) -> OpCase {
        let g = Conv2dGeometry.transposed(n: n, cin: cin, h: h, w: w, cout: cout, kernel: kernel,
                                          stride: stride, pad: pad, outputPadding: outputPadding)
        let inputs = [
            "x": randomHostTensor([n, cin, h, w], seed: seed),
            "weight": randomHostTensor([cin, cout, kernel, kernel], seed: seed + 1, -0.3, 0.3),
            "bias": randomHostTensor([cout], seed: seed + 2),
            "gy": randomHostTensor([n, cout, g.h, g.w], seed: seed + 3),
        ]
        return OpCase(op: "conv_transpose2d",
                      shape: "\(n)x\(cin)x\(h)x\(w) -> \(cout) k\(kernel) s\(stride) p\(pad) op\(outputPadding)",
                      inputs: inputs, run: OpRunner.convTranspose2d(g), flops: g.flops, geometry: g, runsOnActivations: true)
    }

    /// Instance norm over the planes of x[shape] (inputs in [lo, hi)), gradient random.
    public static func instanceNorm(_ shape: [Int], seed: UInt64, _ lo: Float = -2, _ hi: Float = 3,
                                    fusion: OpRunner.NormFusion = .none) -> OpCase {
        var inputs = ["x": randomHostTensor(shape, seed: seed, lo, hi), "gy": randomHostTensor(shape, seed: seed + 1)]
        let op: String
        switch fusion {
        case .none: op = "instance_norm2d"
        case .leakyReLU(let slope): op = slope == 0 ? "instance_norm2d+relu" : "instance_norm2d+leaky_relu(\(slope))"
        case .residual:
            op = "instance_norm2d+skip"
            inputs["skip"] = randomHostTensor(shape, seed: seed + 2, -1, 1)
        }
        return OpCase(op: op, shape: shape.map(String.init).joined(separator: "x"), inputs: inputs,
                      run: OpRunner.instanceNorm(planes: shape[0] * shape[1], hw: shape[2] * shape[3], fusion: fusion),
                      runsOnActivations: true)
    }

    /// Batch norm of x[shape] (inputs in [lo, hi)), affine parameters and running statistics
    /// random, in training or evaluation mode.
    public static func batchNorm(_ shape: [Int], seed: UInt64, _ lo: Float = -2, _ hi: Float = 3, training: Bool = true) -> OpCase {
        let c = shape[1]
        let inputs = ["x": randomHostTensor(shape, seed: seed, lo, hi), "gy": randomHostTensor(shape, seed: seed + 1),
                      "weight": randomHostTensor([c], seed: seed + 2, 0.5, 1.5), "bias": randomHostTensor([c], seed: seed + 3),
                      "running_mean": randomHostTensor([c], seed: seed + 4), "running_var": randomHostTensor([c], seed: seed + 5, 0.5, 2)]
        return OpCase(op: training ? "batch_norm2d" : "batch_norm2d(eval)", shape: shape.map(String.init).joined(separator: "x"),
                      inputs: inputs, run: OpRunner.batchNorm(n: shape[0], c: c, hw: shape[2] * shape[3], training: training),
                      runsOnActivations: true)
    }

    /// An element-wise op on x (and target), gradient gy; on activations unless `activations`
    /// is false (Adam's parameters).
    static func unary(_ op: String, _ shape: [Int], seed: UInt64, scale: Float = 1, activations: Bool = true,
                      _ run: @escaping (Backend, [String: HostTensor]) -> [String: [Float]]) -> OpCase {
        OpCase(op: op, shape: shape.map(String.init).joined(separator: "x"),
               inputs: ["x": randomHostTensor(shape, seed: seed, -scale, scale),
                        "target": randomHostTensor(shape, seed: seed + 1, -scale, scale),
                        "gy": randomHostTensor(shape, seed: seed + 2)],
               run: run, runsOnActivations: activations)
    }

    /// A loss: x, and gy a scalar.
    static func loss(_ op: String, _ shape: [Int], seed: UInt64,
                     _ run: @escaping (Backend, [String: HostTensor]) -> [String: [Float]]) -> OpCase {
        OpCase(op: op, shape: shape.map(String.init).joined(separator: "x"),
               inputs: ["x": randomHostTensor(shape, seed: seed, -2, 2),
                        "target": randomHostTensor(shape, seed: seed + 1, -2, 2),
                        "gy": HostTensor(shape: [], values: [0.7])],
               run: run)
    }

    /// Awkward shapes: odd sizes, batch 2, channels not a multiple of 4, sizes that do
    /// not divide the work-group.
    public static var parity: [OpCase] {
        let N = 2
        return [
            conv2d(Conv2dGeometry(n: N, c: 3, h: 13, w: 11, k: 5, kh: 7, kw: 7, stride: 1, pad: 3, padding: .reflect), seed: 10),
            conv2d(Conv2dGeometry(n: N, c: 6, h: 9, w: 10, k: 6, kh: 3, kw: 3, stride: 1, pad: 1, padding: .reflect), seed: 20),
            conv2d(Conv2dGeometry(n: N, c: 5, h: 13, w: 11, k: 6, kh: 3, kw: 3, stride: 2, pad: 1), seed: 30),
            conv2d(Conv2dGeometry(n: N, c: 3, h: 15, w: 12, k: 4, kh: 4, kw: 4, stride: 2, pad: 1), seed: 40),
            conv2d(Conv2dGeometry(n: N, c: 4, h: 7, w: 6, k: 1, kh: 4, kw: 4, stride: 1, pad: 1), seed: 50),
            conv2d(Conv2dGeometry(n: N, c: 3, h: 5, w: 7, k: 5, kh: 1, kw: 1), seed: 60),
            conv2d(Conv2dGeometry(n: 1, c: 7, h: 17, w: 19, k: 9, kh: 3, kw: 3, stride: 1, pad: 1, padding: .reflect), seed: 70, bias: false),
            // strided convs run as sums over s*s phases: reflect padding, a non-square kernel
            // with stride 3 (a phase no row tap reaches), 1x1 stride 2 (three empty phases)
            conv2d(Conv2dGeometry(n: N, c: 4, h: 12, w: 9, k: 5, kh: 3, kw: 3, stride: 2, pad: 1, padding: .reflect), seed: 72),
            conv2d(Conv2dGeometry(n: N, c: 3, h: 10, w: 11, k: 4, kh: 2, kw: 5, stride: 3, pad: 2), seed: 74),
            conv2d(Conv2dGeometry(n: N, c: 5, h: 9, w: 8, k: 3, kh: 1, kw: 1, stride: 2), seed: 76),
            // 3x3 stride 1 runs as Winograd F(2x2, 3x3): zero padding, no padding, ragged 2x2 tiles
            conv2d(Conv2dGeometry(n: N, c: 5, h: 8, w: 13, k: 7, kh: 3, kw: 3, stride: 1, pad: 1), seed: 80),
            conv2d(Conv2dGeometry(n: N, c: 4, h: 11, w: 6, k: 3, kh: 3, kw: 3, stride: 1, pad: 0), seed: 90),
            // channels past one 16-lane panel (a full one and a ragged one: the CPU shape's vector lanes)
            conv2d(Conv2dGeometry(n: 1, c: 17, h: 5, w: 6, k: 18, kh: 3, kw: 3, stride: 1, pad: 1, padding: .reflect), seed: 96),
            // tile rows of one whole 16-tile panel (the CPU shape's vector output transform):
            // unpadded, and zero-padded with an odd output height
            conv2d(Conv2dGeometry(n: 1, c: 3, h: 4, w: 34, k: 5, kh: 3, kw: 3, stride: 1, pad: 0), seed: 97),
            conv2d(Conv2dGeometry(n: N, c: 2, h: 3, w: 32, k: 3, kh: 3, kw: 3, stride: 1, pad: 1), seed: 98),
            convTranspose2d(n: N, cin: 6, h: 7, w: 5, cout: 4, kernel: 3, stride: 2, pad: 1, outputPadding: 1, seed: 80),
            convTranspose2d(n: N, cin: 5, h: 6, w: 9, cout: 3, kernel: 3, stride: 2, pad: 1, outputPadding: 1, seed: 90),
            convTranspose2d(n: N, cin: 4, h: 5, w: 6, cout: 3, kernel: 4, stride: 2, pad: 1, outputPadding: 0, seed: 95),
            instanceNorm([2, 5, 9, 7], seed: 100, -3, 5),
            instanceNorm([1, 3, 37, 41], seed: 110, 2, 3),
            // fused with the layer after it (the generator's ReLU, the discriminator's LeakyReLU,
            // the residual block's skip)
            instanceNorm([2, 5, 9, 7], seed: 112, -3, 5, fusion: .leakyReLU(slope: 0)),
            instanceNorm([1, 3, 37, 41], seed: 114, 2, 3, fusion: .leakyReLU(slope: 0.2)),
            instanceNorm([2, 3, 11, 13], seed: 116, fusion: .residual),
            // batch norm over odd planes of a batch of 2 and of 3, channels of 5 single values, and eval mode
            batchNorm([2, 5, 9, 7], seed: 230, -3, 5),
            batchNorm([3, 4, 13, 1], seed: 240, 2, 3),
            batchNorm([5, 3, 1, 1], seed: 250),
            batchNorm([2, 5, 9, 7], seed: 260, -3, 5, training: false),
            unary("dropout(0.5)", [2, 3, 17, 19], seed: 270, OpRunner.dropout(p: 0.5, seed: 271)),
            unary("dropout(0.2)", [1, 1, 1, 1001], seed: 280, OpRunner.dropout(p: 0.2, seed: 281)),
            unary("leaky_relu(0.2)", [2, 3, 5, 7], seed: 120, OpRunner.leakyReLU(slope: 0.2)),
            unary("relu", [2, 3, 5, 7], seed: 130, OpRunner.leakyReLU(slope: 0)),
            unary("tanh", [2, 3, 5, 7], seed: 140, scale: 3, OpRunner.tanh()),
            unary("add_scaled/axpy", [2, 3, 5, 7], seed: 150, OpRunner.arithmetic()),
            unary("adam", [3, 333], seed: 160, activations: false, OpRunner.adam()),
            loss("sum", [2, 3, 61, 67], seed: 170, OpRunner.sum(scale: 0.5)),
            loss("mse(1)", [2, 1, 30, 31], seed: 180, OpRunner.mse(target: 1)),
            loss("mse(0)", [2, 1, 7, 5], seed: 190, OpRunner.mse(target: 0)),
            loss("l1", [2, 3, 17, 19], seed: 200, OpRunner.l1()),
            loss("bce_with_logits(1)", [2, 1, 9, 11], seed: 210, OpRunner.bceWithLogits(target: 1)),
            loss("bce_with_logits(0)", [2, 1, 9, 11], seed: 220, OpRunner.bceWithLogits(target: 0)),
            OpCase(op: "random", shape: "1001", inputs: [:], run: OpRunner.random(count: 1001, seed: 42)),
        ]
    }

    /// Shapes large enough for what `parity`'s small ones miss: convolutions over more than
    /// a thousand positions, so several GEMM tiles along each axis and long split reductions
    /// (7×7 reflect, 3×3 Winograd with reflect and zero padding, the discriminator's 4×4
    /// stride 1 and stride 2, the generator's 3×3 stride 2 and its transpose, at odd sizes),
    /// and instance-norm planes of several 2048-element chunks, the last one ragged
    /// (3763 = 2048 + 1715; 9797 = 4·2048 + 1605).
    public static var largePlanes: [OpCase] {
        [
            conv2d(Conv2dGeometry(n: 2, c: 3, h: 33, w: 31, k: 5, kh: 7, kw: 7, stride: 1, pad: 3, padding: .reflect), seed: 300),
            conv2d(Conv2dGeometry(n: 2, c: 5, h: 35, w: 30, k: 6, kh: 3, kw: 3, stride: 1, pad: 1, padding: .reflect), seed: 310),
            conv2d(Conv2dGeometry(n: 1, c: 4, h: 40, w: 33, k: 3, kh: 3, kw: 3, stride: 1, pad: 0), seed: 320, bias: false),
            // tile rows of 48 tiles (three whole 16-tile panels: the middle one inside the row),
            // channels past one panel
            conv2d(Conv2dGeometry(n: 2, c: 17, h: 32, w: 96, k: 18, kh: 3, kw: 3, stride: 1, pad: 1, padding: .reflect), seed: 322),
            conv2d(Conv2dGeometry(n: 2, c: 6, h: 34, w: 31, k: 1, kh: 4, kw: 4, stride: 1, pad: 1), seed: 330),
            conv2d(Conv2dGeometry(n: 2, c: 5, h: 69, w: 62, k: 6, kh: 4, kw: 4, stride: 2, pad: 1), seed: 332),
            conv2d(Conv2dGeometry(n: 1, c: 6, h: 67, w: 70, k: 5, kh: 3, kw: 3, stride: 2, pad: 1), seed: 334),
            convTranspose2d(n: 2, cin: 6, h: 33, w: 35, cout: 5, kernel: 3, stride: 2, pad: 1, outputPadding: 1, seed: 336),
            instanceNorm([2, 3, 53, 71], seed: 340, -3, 5),
            instanceNorm([1, 2, 97, 101], seed: 350, 2, 3),
            instanceNorm([2, 3, 53, 71], seed: 352, -3, 5, fusion: .leakyReLU(slope: 0)),
            instanceNorm([1, 2, 97, 101], seed: 354, 2, 3, fusion: .leakyReLU(slope: 0.2)),
            instanceNorm([1, 3, 53, 71], seed: 356, fusion: .residual),
            batchNorm([2, 3, 53, 71], seed: 358, -3, 5),
        ]
    }

    /// CycleGAN's layers at `size`² input with width `ngf` (64 in the real model), batch 1.
    public static func cyclegan(size: Int, ngf: Int) -> [OpCase] {
        let s = size, f = ngf
        return [
            conv2d(Conv2dGeometry(n: 1, c: 3, h: s, w: s, k: f, kh: 7, kw: 7, stride: 1, pad: 3, padding: .reflect), seed: 1),
            conv2d(Conv2dGeometry(n: 1, c: f, h: s, w: s, k: 2 * f, kh: 3, kw: 3, stride: 2, pad: 1), seed: 2),
            conv2d(Conv2dGeometry(n: 1, c: 2 * f, h: s / 2, w: s / 2, k: 4 * f, kh: 3, kw: 3, stride: 2, pad: 1), seed: 3),
            conv2d(Conv2dGeometry(n: 1, c: 4 * f, h: s / 4, w: s / 4, k: 4 * f, kh: 3, kw: 3, stride: 1, pad: 1, padding: .reflect), seed: 4),
            convTranspose2d(n: 1, cin: 4 * f, h: s / 4, w: s / 4, cout: 2 * f, kernel: 3, stride: 2, pad: 1, outputPadding: 1, seed: 5),
            convTranspose2d(n: 1, cin: 2 * f, h: s / 2, w: s / 2, cout: f, kernel: 3, stride: 2, pad: 1, outputPadding: 1, seed: 6),
            conv2d(Conv2dGeometry(n: 1, c: f, h: s, w: s, k: 3, kh: 7, kw: 7, stride: 1, pad: 3, padding: .reflect), seed: 7),
            conv2d(Conv2dGeometry(n: 1, c: 3, h: s, w: s, k: f, kh: 4, kw: 4, stride: 2, pad: 1), seed: 8),
            conv2d(Conv2dGeometry(n: 1, c: f, h: s / 2, w: s / 2, k: 2 * f, kh: 4, kw: 4, stride: 2, pad: 1), seed: 9),
            conv2d(Conv2dGeometry(n: 1, c: 2 * f, h: s / 4, w: s / 4, k: 4 * f, kh: 4, kw: 4, stride: 2, pad: 1), seed: 10),
            conv2d(Conv2dGeometry(n: 1, c: 4 * f, h: s / 8, w: s / 8, k: 8 * f, kh: 4, kw: 4, stride: 1, pad: 1), seed: 11),
            conv2d(Conv2dGeometry(n: 1, c: 8 * f, h: s / 8 - 1, w: s / 8 - 1, k: 1, kh: 4, kw: 4, stride: 1, pad: 1), seed: 12),
            instanceNorm([1, f, s, s], seed: 13),
            instanceNorm([1, 4 * f, s / 4, s / 4], seed: 15),
            batchNorm([1, f, s, s], seed: 14),
            batchNorm([1, 8 * f, 2, 2], seed: 16),
            unary("dropout(0.5)", [1, 8 * f, 2, 2], seed: 26, OpRunner.dropout(p: 0.5, seed: 27)),
            unary("relu", [1, f, s, s], seed: 17, OpRunner.leakyReLU(slope: 0)),
            unary("leaky_relu(0.2)", [1, f, s / 2, s / 2], seed: 18, OpRunner.leakyReLU(slope: 0.2)),
            unary("tanh", [1, 3, s, s], seed: 19, scale: 3, OpRunner.tanh()),
            unary("add_scaled/axpy", [1, 4 * f, s / 4, s / 4], seed: 20, OpRunner.arithmetic()),
            unary("adam", [4 * f * 4 * f * 9], seed: 21, activations: false, OpRunner.adam()),
            loss("mse(1)", [1, 1, s / 8 - 2, s / 8 - 2], seed: 22, OpRunner.mse(target: 1)),
            loss("l1", [1, 3, s, s], seed: 23, OpRunner.l1()),
            loss("bce_with_logits(0)", [1, 1, s / 8 - 2, s / 8 - 2], seed: 24, OpRunner.bceWithLogits(target: 0)),
            OpCase(op: "random", shape: "\(f * f * 9)", inputs: [:], run: OpRunner.random(count: f * f * 9, seed: 25)),
        ]
    }
}

/// The comparison of one output of one case on two backends, by `Tolerance`'s two rules.
public struct ParityResult {
    public let op: String
    public let shape: String
    public let output: String
    public let maxAbsError: Double
    public let relativeError: Double
    /// rtol (and atol's share of the reference's largest magnitude): `Tolerance(rtol: tolerance)`.
    public let tolerance: Double
    /// The largest |got − ref| / (atol + rtol·|ref|) over the elements: at most 1 to pass.
    public private(set) var limitShare = 0.0
    /// The element that uses the largest share of its limit: its flat index, our value, the reference's.
    public var worstIndex = 0, worstValue: Float = 0, worstReference: Float = 0
    public var passed: Bool { relativeError <= tolerance && limitShare <= 1 }
    /// "op shape output: relative error e (tolerance t), worst element [i] v vs reference r
    /// (abs d, s of its limit)".
    public var summary: String {
        "\(op) \(shape) \(output): relative error \(relativeError) (tolerance \(tolerance)), worst element [\(worstIndex)] "
            + "\(worstValue) vs reference \(worstReference) (max abs \(maxAbsError), \(String(format: "%.3g", limitShare)) of its limit)"
    }

    /// Compares one output, `got`, with the reference `ref`: ‖got − ref‖/‖ref‖ ≤ `tolerance`
    /// and every element within `Tolerance(rtol: tolerance)`'s bound.
    public init(op: String, shape: String, output: String, got: [Float], reference ref: [Float], tolerance: Double) {
        self.op = op; self.shape = shape; self.output = output; self.tolerance = tolerance
        relativeError = CycleGAN.relativeError(got, ref)
        let rule = Tolerance(rtol: tolerance)
        let scale = ref.reduce(0.0) { max($0, abs(Double($1))) }
        var mx = 0.0, share = -1.0
        for i in 0..<min(got.count, ref.count) {
            let d = abs(Double(got[i]) - Double(ref[i]))
            mx = d.isNaN || mx.isNaN ? .nan : max(mx, d)
            let limit = rule.limit(reference: Double(ref[i]), scale: scale)
            let s = d.isNaN ? .infinity : limit > 0 ? d / limit : (d > 0 ? .infinity : 0)
            if s > share { share = s; worstIndex = i; worstValue = got[i]; worstReference = ref[i] }
            if s.isInfinite { break }
        }
        maxAbsError = mx
        limitShare = got.count == ref.count ? max(share, 0) : .infinity
    }
}

/// Compares every output of one case on a backend (`got`) with the reference's (`ref`).
public func compareOutputs(_ c: OpCase, got: [String: [Float]], reference ref: [String: [Float]],
                           tolerance: Double = Tolerance.fp32.rtol) -> [ParityResult] {
    ref.keys.sorted().map { key in
        ParityResult(op: c.op, shape: c.shape, output: key, got: got[key] ?? [], reference: ref[key]!, tolerance: tolerance)
    }
}

/// Runs every case on `backend` and on the CPU reference (by default the CPU reference in
/// `backend`'s precision) and compares each output: ‖ours − cpu‖/‖cpu‖ ≤ `tolerance`, or
/// under `--precision mixed` for an output stored in FP16 ≤ `Precision.fp16StoredTolerance`.
public func checkParity(_ cases: [OpCase], on backend: Backend, reference: Backend? = nil,
                        tolerance: Double = Tolerance.fp32.rtol, progress: ((ParityResult) -> Void)? = nil) -> [ParityResult] {
    let reference = reference ?? CPUBackend(precision: backend.precision)
    precondition(reference.precision == backend.precision, "parity of \(backend.precision) against \(reference.precision)")
    var results: [ParityResult] = []
    for c in cases {
        let ref = c.outputs(on: reference), got = c.outputs(on: backend)
        for key in ref.keys.sorted() {
            let half = backend.precision == .mixed && c.runsOnActivations && OpCase.activationOutputs.contains(key)
            let res = ParityResult(op: c.op, shape: c.shape, output: key, got: got[key] ?? [], reference: ref[key]!,
                                   tolerance: half ? max(tolerance, Precision.fp16StoredTolerance) : tolerance)
            results.append(res)
            progress?(res)
        }
    }
    return results
}

/// ‖a − b‖₂ / ‖b‖₂, accumulated in Double (0 when both are zero, ∞ when only b is): the
/// pass/fail measure of every parity and fixture comparison.
public func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
    var num = 0.0, den = 0.0
    for i in 0..<a.count {
        let d = Double(a[i]) - Double(b[i])
        num += d * d
        den += Double(b[i]) * Double(b[i])
    }
    if den == 0 { return num == 0 ? 0 : .infinity }
    return (num / den).squareRoot()
}
