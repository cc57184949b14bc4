/// `--norm`: the normalisation layer the networks use (the official get_norm_layer).
public enum NormKind: String, CaseIterable, Sendable {
    /// InstanceNorm2d(affine=False), no running statistics.
    case instance
    /// BatchNorm2d(affine=True) with running statistics.
    case batch
    /// No normalisation (an identity layer).
    case none

    /// The official `use_bias = norm_layer == InstanceNorm2d`: whether a conv followed by a
    /// norm layer (and the U-Net's outermost down conv) has a bias.
    public var convBias: Bool { self == .instance }
}

/// What PyTorch's module.train()/eval() switches for one network (batch norm's statistics,
/// dropout on or off), and the network's dropout random stream; its layers share it.
public final class NetworkMode {
    /// Training mode (the default, as for a new PyTorch module).
    public var training = true
    /// Where each dropout layer draws its mask's seed, at the moment it runs (saved in the train state).
    public var dropoutRandom = RandomStream(seed: 0)
    public init() {}
}

/// BatchNorm2d(c): affine `weight` and `bias`, running statistics (momentum 0.1, eps 1e-5)
/// used in evaluation mode and updated in training mode.
public final class BatchNorm2d: Module {
    public let weight: Tensor, bias: Tensor
    public let runningMean: Tensor, runningVar: Tensor
    let mode: NetworkMode

    public init(_ channels: Int, mode: NetworkMode, on backend: Backend) {
        weight = Tensor(filled: 1, shape: [channels], on: backend)
        bias = Tensor(filled: 0, shape: [channels], on: backend)
        weight.requiresGrad = true
        bias.requiresGrad = true
        runningMean = Tensor(filled: 0, shape: [channels], on: backend)
        runningVar = Tensor(filled: 1, shape: [channels], on: backend)
        self.mode = mode
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.batchNorm2d(weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar, training: mode.training)
    }

    public func namedParameters() -> [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
    public func namedBuffers() -> [(String, Tensor)] { [("running_mean", runningMean), ("running_var", runningVar)] }
}

/// The norm layer `--norm` picks at one position, with the activation or residual add that
/// follows it: fused into the norm's pass for instance norm, separate ops otherwise.
public final class Norm2d: Module {
    public let kind: NormKind
    let batch: BatchNorm2d?

    public init(_ kind: NormKind, channels: Int, mode: NetworkMode, on backend: Backend) {
        self.kind = kind
        batch = kind == .batch ? BatchNorm2d(channels, mode: mode, on: backend) : nil
    }

    /// The norm alone.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch kind {
        case .instance: return x.instanceNorm2d()
        case .batch: return batch!(x)
        case .none: return x
        }
    }

    /// The norm, then LeakyReLU(`slope`) (0: ReLU). With `consuming`, an instance norm may
    /// overwrite `x` when no graph is recorded.
    func callAsFunction(_ x: Tensor, leakyReLUSlope slope: Float, consuming: Bool = false) -> Tensor {
        kind == .instance ? x.instanceNorm2d(leakyReLUSlope: slope, consumingInput: consuming) : self(x).leakyRelu(slope: slope)
    }

    /// skip + the norm (the residual block's output).
    func callAsFunction(_ x: Tensor, adding skip: Tensor, consuming: Bool = false) -> Tensor {
        kind == .instance ? x.instanceNorm2d(adding: skip, consumingInput: consuming) : self(x) + skip
    }

    public func namedParameters() -> [(String, Tensor)] { batch?.namedParameters() ?? [] }
    public func namedBuffers() -> [(String, Tensor)] { batch?.namedBuffers() ?? [] }
}

/// Dropout(p) (the official 0.5): in training mode, each call draws its mask's seed from
/// the network's stream; in evaluation mode, the identity.
public final class Dropout: Module {
    public let p: Float
    let mode: NetworkMode

    public init(p: Float = 0.5, mode: NetworkMode) {
        self.p = p
        self.mode = mode
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard mode.training else { return x }
        return x.dropout(p: p, seed: mode.dropoutRandom.next())
    }

    public func namedParameters() -> [(String, Tensor)] { [] }
}
