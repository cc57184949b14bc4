/// One op at one shape, with its inputs: the unit that parity tests, the PyTorch fixture
/// tests, `cyclegan check` and `cyclegan bench` all run. `run` executes the forward and
/// every backward on a backend and returns each result by the fixture's names
/// (`y`, `grad_x`, `grad_weight`, `grad_bias`, `grad_target`).
public struct OpCase {
    public let op: String
    public let shape: String
    public var inputs: [String: HostTensor]
    public let run: (Backend, [String: HostTensor]) -> [String: [Float]]
    /// FLOP of the forward pass, where meaningful (for bench).
    public var flops: Double = 0
    /// For convolutions: the geometry (for a transposed conv, the adjoint convolution's).
    public var geometry: Conv2dGeometry? = nil
    /// Whether the runner keeps its activations (inputs "x", "gy", "skip", "target" of the
    /// arithmetic; outputs `activationOutputs`) in the precision's activation type, FP16 under
    /// `--precision mixed`: the cases that `mixed` changes. The losses, the sum, Adam and the
    /// initialisation are FP32 in every precision. Set by the `OpCases` constructors.
    public var runsOnActivations = false

    /// Runs on `backend` with this case's inputs.
    public func outputs(on backend: Backend) -> [String: [Float]] { run(backend, inputs) }

    /// The outputs of a case that `runsOnActivations` stored as activations (FP16 under
    /// `mixed`); the others (weight and bias gradients, statistics) are FP32.
    public static let activationOutputs: Set<String> = ["y", "grad_x", "grad_skip", "add_scaled", "axpy"]
}

/// Deterministic pseudo-random test data in [lo, hi), from the counter-based generator.
public func randomHostTensor(_ shape: [Int], seed: UInt64, _ lo: Float = -1, _ hi: Float = 1) -> HostTensor {
    let n = shape.reduce(1, *)
    return HostTensor(shape: shape, values: (0..<n).map { lo + (hi - lo) * CPUBackend.uniform01(seed, UInt64($0)) })
}

extension Backend {
    func upload(_ t: HostTensor, dtype: DType = .float32) -> Buffer {
        let b = makeBuffer(count: t.values.count, dtype: dtype)
        upload(t.values, to: b)
        return b
    }

    /// An activation's buffer (FP16 under `--precision mixed`), holding `t`.
    func uploadActivation(_ t: HostTensor) -> Buffer { upload(t, dtype: precision.activationType) }
    /// An activation's buffer of `count` elements.
    func makeActivation(count: Int) -> Buffer { makeBuffer(count: count, dtype: precision.activationType) }
}

/// The op runners: each takes inputs by name, returns outputs by name.
public enum OpRunner {
    public static func conv2d(_ g: Conv2dGeometry, bias: Bool = true) -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let x = b.uploadActivation(t["x"]!), w = b.upload(t["weight"]!), gy = b.uploadActivation(t["gy"]!)
            let bs = bias ? b.upload(t["bias"]!) : nil
            let y = b.makeActivation(count: g.outputCount), gx = b.makeActivation(count: g.inputCount)
            let gw = b.makeBuffer(count: g.weightCount), gb = b.makeBuffer(count: g.k)
            b.conv2dForward(x: x, weight: w, bias: bs, y: y, g)
            b.conv2dBackwardData(gy: gy, weight: w, gx: gx, g)
            b.conv2dBackwardWeight(x: x, gy: gy, gw: gw, g)
            b.channelSum(gy, out: gb, n: g.n, c: g.k, hw: g.oh * g.ow)
            var out = ["y": b.download(y), "grad_x": b.download(gx), "grad_weight": b.download(gw)]
            if bias { out["grad_bias"] = b.download(gb) }
            return out
        }
    }

    /// `g` is the geometry of the convolution that the transposed conv is the adjoint of.
    public static func convTranspose2d(_ g: Conv2dGeometry) -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let x = b.uploadActivation(t["x"]!), w = b.upload(t["weight"]!), bs = b.upload(t["bias"]!), gy = b.uploadActivation(t["gy"]!)
            let y = b.makeActivation(count: g.inputCount), gx = b.makeActivation(count: g.outputCount)
            let gw = b.makeBuffer(count: g.weightCount), gb = b.makeBuffer(count: g.c)
            b.convTranspose2dForward(x: x, weight: w, bias: bs, y: y, g)
            b.convTranspose2dBackwardData(gy: gy, weight: w, gx: gx, g)
            b.convTranspose2dBackwardWeight(x: x, gy: gy, gw: gw, g)
            b.channelSum(gy, out: gb, n: g.n, c: g.c, hw: g.h * g.w)
            return ["y": b.download(y), "grad_x": b.download(gx), "grad_weight": b.download(gw), "grad_bias": b.download(gb)]
        }
    }

    /// What an instance-norm case fuses after the norm (NormEpilogue, with the skip an input).
    public enum NormFusion: Sendable { case none, leakyReLU(slope: Float), residual }

    /// Instance norm, unfused (backward from the normalised output) or fused (backward from
    /// the input; the residual's skip is input "skip", its gradient gy itself).
    public static func instanceNorm(planes: Int, hw: Int, eps: Float = 1e-5,
                                    fusion: NormFusion = .none) -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let x = b.uploadActivation(t["x"]!), gy = b.uploadActivation(t["gy"]!)
            let y = b.makeActivation(count: planes * hw), gx = b.makeActivation(count: planes * hw)
            let mean = b.makeBuffer(count: planes), rstd = b.makeBuffer(count: planes)
            var out: [String: [Float]] = [:]
            switch fusion {
            case .none:
                b.instanceNormForward(x: x, y: y, mean: mean, rstd: rstd, planes: planes, hw: hw, eps: eps)
                b.instanceNormBackward(y: y, gy: gy, rstd: rstd, gx: gx, planes: planes, hw: hw)
            case .leakyReLU(let slope):
                b.instanceNormForward(x: x, y: y, mean: mean, rstd: rstd, planes: planes, hw: hw, eps: eps,
                                      epilogue: .leakyReLU(slope: slope))
                b.instanceNormBackward(x: x, mean: mean, rstd: rstd, gy: gy, gx: gx, planes: planes, hw: hw, slope: slope)
            case .residual:
                b.instanceNormForward(x: x, y: y, mean: mean, rstd: rstd, planes: planes, hw: hw, eps: eps,
                                      epilogue: .residual(b.uploadActivation(t["skip"]!)))
                b.instanceNormBackward(x: x, mean: mean, rstd: rstd, gy: gy, gx: gx, planes: planes, hw: hw, slope: nil)
                out["grad_skip"] = b.download(gy)
            }
            out.merge(["y": b.download(y), "grad_x": b.download(gx), "mean": b.download(mean), "rstd": b.download(rstd)]) { a, _ in a }
            return out
        }
    }

    /// Batch norm over the channels of x[n][c][hw] with affine `weight` and `bias`: in
    /// training from the batch's statistics (the running ones updated), else from the
    /// running statistics; outputs y, every gradient and the running statistics after.
    public static func batchNorm(n: Int, c: Int, hw: Int, training: Bool) -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let x = b.uploadActivation(t["x"]!), gy = b.uploadActivation(t["gy"]!), w = b.upload(t["weight"]!), bias = b.upload(t["bias"]!)
            let rm = b.upload(t["running_mean"]!), rv = b.upload(t["running_var"]!)
            let y = b.makeActivation(count: n * c * hw), gx = b.makeActivation(count: n * c * hw)
            let mean = b.makeBuffer(count: c), rstd = b.makeBuffer(count: c), gw = b.makeBuffer(count: c), gb = b.makeBuffer(count: c)
            if training {
                b.batchNormStatistics(x: x, mean: mean, rstd: rstd, running: (rm, rv), n: n, c: c, hw: hw, eps: 1e-5, momentum: 0.1)
            } else {
                b.batchNormEvalStatistics(runningMean: rm, runningVar: rv, mean: mean, rstd: rstd, c: c, eps: 1e-5)
            }
            b.batchNormForward(x: x, y: y, mean: mean, rstd: rstd, weight: w, bias: bias, n: n, c: c, hw: hw)
            b.batchNormBackward(x: x, gy: gy, mean: mean, rstd: rstd, weight: w, gx: gx, gweight: gw, gbias: gb,
                                n: n, c: c, hw: hw, training: training)
            return ["y": b.download(y), "grad_x": b.download(gx), "grad_weight": b.download(gw), "grad_bias": b.download(gb),
                    "running_mean": b.download(rm), "running_var": b.download(rv)]
        }
    }

    /// Dropout(p) with the mask of `seed`, forward and backward.
    public static func dropout(p: Float, seed: UInt64) -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let n = t["x"]!.values.count
            let x = b.uploadActivation(t["x"]!), gy = b.uploadActivation(t["gy"]!), y = b.makeActivation(count: n), gx = b.makeActivation(count: n)
            b.dropoutForward(x: x, y: y, p: p, seed: seed, count: n)
            b.dropoutBackward(gy: gy, gx: gx, p: p, seed: seed, count: n)
            return ["y": b.download(y), "grad_x": b.download(gx)]
        }
    }

    public static func leakyReLU(slope: Float) -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let n = t["x"]!.values.count
            let x = b.uploadActivation(t["x"]!), gy = b.uploadActivation(t["gy"]!), y = b.makeActivation(count: n), gx = b.makeActivation(count: n)
            b.leakyReLUForward(x: x, y: y, slope: slope, count: n)
            b.leakyReLUBackward(x: x, gy: gy, gx: gx, slope: slope, count: n)
            return ["y": b.download(y), "grad_x": b.download(gx)]
        }
    }

    public static func tanh() -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let n = t["x"]!.values.count
            let x = b.uploadActivation(t["x"]!), gy = b.uploadActivation(t["gy"]!), y = b.makeActivation(count: n), gx = b.makeActivation(count: n)
            b.tanhForward(x: x, y: y, count: n)
            b.tanhBackward(y: y, gy: gy, gx: gx, count: n)
            return ["y": b.download(y), "grad_x": b.download(gx)]
        }
    }

    /// add_scaled (y = 1.5a − 0.5b) and axpy (b += 0.25a).
    public static func arithmetic() -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let n = t["x"]!.values.count
            let a = b.uploadActivation(t["x"]!), c = b.uploadActivation(t["target"]!), y = b.makeActivation(count: n)
            b.addScaled(a, c, out: y, alpha: 1.5, beta: -0.5, count: n)
            b.axpy(a, c, alpha: 0.25, count: n)
            return ["add_scaled": b.download(y), "axpy": b.download(c)]
        }
    }

    public static func sum(scale: Float) -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let n = t["x"]!.values.count
            let x = b.upload(t["x"]!), y = b.makeBuffer(count: 1)
            b.sum(x, count: n, scale: scale, out: y)
            return ["y": b.download(y)]
        }
    }

    public static func mse(target: Float) -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let n = t["x"]!.values.count
            let x = b.upload(t["x"]!), gy = b.upload(t["gy"]!), y = b.makeBuffer(count: 1), gx = b.makeBuffer(count: n)
            b.mseLoss(x: x, target: target, count: n, out: y)
            b.mseLossBackward(x: x, target: target, gy: gy, gx: gx, count: n)
            return ["y": b.download(y), "grad_x": b.download(gx)]
        }
    }

    public static func l1() -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let n = t["x"]!.values.count
            let x = b.upload(t["x"]!), tg = b.upload(t["target"]!), gy = b.upload(t["gy"]!)
            let y = b.makeBuffer(count: 1), gx = b.makeBuffer(count: n), gt = b.makeBuffer(count: n)
            b.l1Loss(x: x, t: tg, count: n, out: y)
            b.l1LossBackward(x: x, t: tg, gy: gy, gx: gx, gt: gt, count: n)
            return ["y": b.download(y), "grad_x": b.download(gx), "grad_target": b.download(gt)]
        }
    }

    public static func bceWithLogits(target: Float) -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let n = t["x"]!.values.count
            let x = b.upload(t["x"]!), gy = b.upload(t["gy"]!), y = b.makeBuffer(count: 1), gx = b.makeBuffer(count: n)
            b.bceWithLogitsLoss(x: x, target: target, count: n, out: y)
            b.bceWithLogitsLossBackward(x: x, target: target, gy: gy, gx: gx, count: n)
            return ["y": b.download(y), "grad_x": b.download(gx)]
        }
    }

    /// Three Adam steps on the same gradient sequence: the parameters and both moments.
    public static func adam() -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, t in
            let n = t["x"]!.values.count
            let p = b.upload(t["x"]!), g = b.upload(t["gy"]!), m = b.makeBuffer(count: n), v = b.makeBuffer(count: n)
            b.fill(m, value: 0); b.fill(v, value: 0)
            for step in 1...3 {
                b.adamStep(param: p, grad: g, m: m, v: v, count: n,
                           AdamScalars(lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8, step: step))
            }
            return ["param": b.download(p), "exp_avg": b.download(m), "exp_avg_sq": b.download(v)]
        }
    }

    public static func random(count: Int, seed: UInt64) -> (Backend, [String: HostTensor]) -> [String: [Float]] {
        return { b, _ in
            let y = b.makeBuffer(count: count), z = b.makeBuffer(count: count)
            b.randomNormal(y, count: count, seed: seed, mean: 0.1, std: 0.02)
            b.randomUniform(z, count: count, seed: seed, low: -0.5, high: 2)
            return ["normal": b.download(y), "uniform": b.download(z)]
        }
    }
}
