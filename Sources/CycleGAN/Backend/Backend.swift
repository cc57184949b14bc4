/// Storage for `count` values of one element type on one backend's device.
public protocol Buffer: AnyObject {
    /// Number of elements.
    var count: Int { get }
    /// FP32, or FP16 (activations under `--precision mixed`); uploads and downloads convert.
    var dtype: DType { get }
}

/// The operations every backend implements with identical semantics. The CPU reference
/// (`CPUBackend`) is the oracle; `OpenCLBackend` runs the same ops as kernels from
/// `Kernels/*.cl`. Every method writes its outputs in full; none reads back to the host
/// except `download`.
public protocol Backend: AnyObject {
    /// A human-readable device name, e.g. "cpu-ref" or "cl:0:0 pthread-AMD EPYC".
    var name: String { get }
    /// What decides the rounding of the backend's results: the device and its kernel
    /// choices. The train state records it; a resume under another says so.
    var kernelConfiguration: String { get }
    /// How the ops compute (`Precision`): the convolutions round their operands under
    /// `tf32`; under `mixed` the tensor ops keep activations in FP16 buffers.
    var precision: Precision { get }

    // MARK: memory
    /// A buffer of `count` elements of `dtype` with unspecified contents.
    func makeBuffer(count: Int, dtype: DType) -> Buffer
    /// Stores `values` (rounded to FP16, ties to even, into an FP16 buffer).
    func upload(_ values: [Float], to buffer: Buffer)
    func download(_ buffer: Buffer) -> [Float]
    func fill(_ buffer: Buffer, value: Float)
    /// dst[dstOffset ..< dstOffset+count] = src[srcOffset ..< srcOffset+count] (the same element type).
    func copy(_ src: Buffer, srcOffset: Int, to dst: Buffer, dstOffset: Int, count: Int)
    /// Waits until every queued operation has finished.
    func synchronize()
    /// Returns the memory of buffers no tensor holds (a cache kept for the next step) to the
    /// system: before a checkpoint is written, whose host copies would otherwise come on top.
    func releaseCachedMemory()
    /// Throws the first device failure since the backend was made (an allocation, launch
    /// or transfer that failed; results read back after it are not valid). The ops cannot
    /// throw, so the code that reads results back calls this before using them.
    func throwIfFailed() throws

    // MARK: convolution
    func conv2dForward(x: Buffer, weight: Buffer, bias: Buffer?, y: Buffer, _ g: Conv2dGeometry)
    func conv2dBackwardData(gy: Buffer, weight: Buffer, gx: Buffer, _ g: Conv2dGeometry)
    func conv2dBackwardWeight(x: Buffer, gy: Buffer, gw: Buffer, _ g: Conv2dGeometry)
    /// out[c] = Σ_{n,i} x[n][c][i]; the bias gradient.
    func channelSum(_ x: Buffer, out: Buffer, n: Int, c: Int, hw: Int)
    /// y[n][c][i] += bias[c].
    func addChannelBias(_ y: Buffer, bias: Buffer, n: Int, c: Int, hw: Int)

    // MARK: instance norm
    /// Normalises each of `planes` planes of `hw` values, then applies `epilogue` (the layer
    /// after the norm, fused); saves mean and 1/σ per plane.
    func instanceNormForward(x: Buffer, y: Buffer, mean: Buffer, rstd: Buffer, planes: Int, hw: Int, eps: Float,
                             epilogue: NormEpilogue)
    /// The input gradient of an unfused norm, from its normalised output `y`.
    func instanceNormBackward(y: Buffer, gy: Buffer, rstd: Buffer, gx: Buffer, planes: Int, hw: Int)
    /// The input gradient of a fused norm, from its input `x` and the saved mean and 1/σ (the
    /// normalised value recomputed as the forward computed it); `slope` (a fused LeakyReLU's)
    /// takes the activation's derivative first. A fused residual's gradient is `gy` itself.
    func instanceNormBackward(x: Buffer, mean: Buffer, rstd: Buffer, gy: Buffer, gx: Buffer, planes: Int, hw: Int,
                              slope: Float?)

    // MARK: batch norm (per channel of x[n][c][hw], over its n planes)
    /// The batch's mean and 1/σ per channel (biased variance); with `running`, the running
    /// statistics move by `momentum` toward the batch's (the variance unbiased).
    func batchNormStatistics(x: Buffer, mean: Buffer, rstd: Buffer, running: (mean: Buffer, var: Buffer)?,
                             n: Int, c: Int, hw: Int, eps: Float, momentum: Float)
    /// mean = running mean, rstd = 1/√(running var + eps): evaluation mode's statistics.
    func batchNormEvalStatistics(runningMean: Buffer, runningVar: Buffer, mean: Buffer, rstd: Buffer, c: Int, eps: Float)
    /// y = (x − mean[c])·rstd[c]·weight[c] + bias[c].
    func batchNormForward(x: Buffer, y: Buffer, mean: Buffer, rstd: Buffer, weight: Buffer, bias: Buffer,
                          n: Int, c: Int, hw: Int)
    /// gbias = Σ gy, gweight = Σ gy·x̂ per channel; gx through the batch statistics when
    /// `training`, through constant (running) ones otherwise.
    func batchNormBackward(x: Buffer, gy: Buffer, mean: Buffer, rstd: Buffer, weight: Buffer,
                           gx: Buffer, gweight: Buffer, gbias: Buffer, n: Int, c: Int, hw: Int, training: Bool)

    // MARK: elementwise
    /// y = x converted to y's element type (to FP16: rounded to nearest, ties to even).
    func cast(_ x: Buffer, to y: Buffer, count: Int)
    func leakyReLUForward(x: Buffer, y: Buffer, slope: Float, count: Int)
    func leakyReLUBackward(x: Buffer, gy: Buffer, gx: Buffer, slope: Float, count: Int)
    func tanhForward(x: Buffer, y: Buffer, count: Int)
    func tanhBackward(y: Buffer, gy: Buffer, gx: Buffer, count: Int)
    /// out = alpha·a + beta·b.
    func addScaled(_ a: Buffer, _ b: Buffer, out: Buffer, alpha: Float, beta: Float, count: Int)
    /// y += alpha·x.
    func axpy(_ x: Buffer, _ y: Buffer, alpha: Float, count: Int)

    // MARK: reductions and losses (results stay on the device as one-element buffers)
    /// out[0] = scale·Σx.
    func sum(_ x: Buffer, count: Int, scale: Float, out: Buffer)
    /// out[0] = mean((x − target)²).
    func mseLoss(x: Buffer, target: Float, count: Int, out: Buffer)
    func mseLossBackward(x: Buffer, target: Float, gy: Buffer, gx: Buffer, count: Int)
    /// out[0] = mean|x − t|.
    func l1Loss(x: Buffer, t: Buffer, count: Int, out: Buffer)
    func l1LossBackward(x: Buffer, t: Buffer, gy: Buffer, gx: Buffer, gt: Buffer?, count: Int)
    /// out[0] = mean(max(x,0) − x·target + log(1 + e^−|x|)).
    func bceWithLogitsLoss(x: Buffer, target: Float, count: Int, out: Buffer)
    func bceWithLogitsLossBackward(x: Buffer, target: Float, gy: Buffer, gx: Buffer, count: Int)

    // MARK: optimiser and initialisation
    func adamStep(param: Buffer, grad: Buffer, m: Buffer, v: Buffer, count: Int, _ s: AdamScalars)
    /// found[0] = 1 if any gradient is inf or NaN (found is left alone otherwise); grad *=
    /// invScale: the loss scaler's check and unscale (`torch._amp_foreach_non_finite_check_and_unscale_`).
    func unscaleCheck(_ grad: Buffer, count: Int, invScale: Float, found: Buffer)
    func randomUniform(_ y: Buffer, count: Int, seed: UInt64, low: Float, high: Float)
    func randomNormal(_ y: Buffer, count: Int, seed: UInt64, mean: Float, std: Float)
    /// y = x·mask/(1 − p), element i kept iff uniform01(seed, i) ≥ p (the same mask on every backend).
    func dropoutForward(x: Buffer, y: Buffer, p: Float, seed: UInt64, count: Int)
    /// gx = gy·mask/(1 − p) with the forward's mask, drawn again from `seed`.
    func dropoutBackward(gy: Buffer, gx: Buffer, p: Float, seed: UInt64, count: Int)
}

/// What an instance norm's forward does after normalising: the layer that follows it in
/// the network, fused into the same pass.
public enum NormEpilogue {
    case none
    /// LeakyReLU with this slope (0: ReLU).
    case leakyReLU(slope: Float)
    /// Adds this buffer of the norm's shape (the residual block's skip connection).
    case residual(Buffer)
}

extension Backend {
    /// An FP32 buffer.
    public func makeBuffer(count: Int) -> Buffer { makeBuffer(count: count, dtype: .float32) }

    /// The unfused norm.
    public func instanceNormForward(x: Buffer, y: Buffer, mean: Buffer, rstd: Buffer, planes: Int, hw: Int, eps: Float) {
        instanceNormForward(x: x, y: y, mean: mean, rstd: rstd, planes: planes, hw: hw, eps: eps, epilogue: .none)
    }
}

/// The per-step scalars of one Adam update, computed on the host in Double as PyTorch does.
public struct AdamScalars: Sendable {
    public var beta1: Float, beta2: Float, eps: Float
    /// lr / (1 − β1^t)
    public var stepSize: Float
    /// √(1 − β2^t)
    public var bc2Sqrt: Float

    public init(lr: Double, beta1: Double, beta2: Double, eps: Double, step: Int) {
        self.beta1 = Float(beta1)
        self.beta2 = Float(beta2)
        self.eps = Float(eps)
        let bc1 = 1 - pow(beta1, Double(step))
        let bc2 = 1 - pow(beta2, Double(step))
        self.stepSize = Float(lr / bc1)
        self.bc2Sqrt = Float(bc2.squareRoot())
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
