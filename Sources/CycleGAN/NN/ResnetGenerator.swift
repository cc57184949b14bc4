/// ResnetBlock(dim): x + [ReflectionPad(1), Conv3, Norm, ReLU, (Dropout,) ReflectionPad(1),
/// Conv3, Norm](x). Keys conv_block.1 (conv), .2 (norm), then .5/.6 (conv, norm), or with
/// dropout .6/.7; each pad is the reflect padding of the conv after it (docs/semantics.md, §1).
public final class ResnetBlock: Module {
    public let conv1: Conv2d, conv2: Conv2d
    let norm1: Norm2d, norm2: Norm2d
    let dropout: Dropout?

    public init(dim: Int, norm: NormKind = .instance, dropout: Bool = false, mode: NetworkMode = NetworkMode(), on backend: Backend) {
        conv1 = Conv2d(dim, dim, kernelSize: 3, padding: 1, paddingMode: .reflect, bias: norm.convBias, on: backend)
        conv2 = Conv2d(dim, dim, kernelSize: 3, padding: 1, paddingMode: .reflect, bias: norm.convBias, on: backend)
        norm1 = Norm2d(norm, channels: dim, mode: mode, on: backend)
        norm2 = Norm2d(norm, channels: dim, mode: mode, on: backend)
        self.dropout = dropout ? Dropout(mode: mode) : nil
    }

    /// Instance norms run fused with the ReLU and the residual add (NormOps.swift): the same values.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = norm1(conv1(x), leakyReLUSlope: 0, consuming: true)
        if let dropout { h = dropout(h) }
        return norm2(conv2(h), adding: x, consuming: true)
    }

    private var second: Int { dropout == nil ? 5 : 6 }

    public func namedParameters() -> [(String, Tensor)] {
        prefixed("conv_block.1", conv1) + prefixed("conv_block.2", norm1)
            + prefixed("conv_block.\(second)", conv2) + prefixed("conv_block.\(second + 1)", norm2)
    }

    public func namedBuffers() -> [(String, Tensor)] {
        prefixedBuffers("conv_block.2", norm1) + prefixedBuffers("conv_block.\(second + 1)", norm2)
    }
}

/// The official ResnetGenerator (models/networks.py; docs/semantics.md, §1): c7s1-ngf, two
/// stride-2 downsamplings, n residual blocks, two stride-2 transposed convs, c7s1-output_nc,
/// tanh. Keys keep the official `model.<i>` indices. The two `ReflectionPad2d(3)` layers,
/// model.0 and model.<16+n>, are not layers here: the 7×7 convs after them (model.1 and
/// model.<17+n>) are `Conv2d`s with reflect padding 3, so those two indices hold no tensor.
public final class ResnetGenerator: Generator {
    public let inputNC: Int, outputNC: Int, ngf: Int, nBlocks: Int
    public let norm: NormKind, dropout: Bool
    public let mode = NetworkMode()
    let convIn: Conv2d, down1: Conv2d, down2: Conv2d
    let blocks: [ResnetBlock]
    let up1: ConvTranspose2d, up2: ConvTranspose2d
    let convOut: Conv2d
    /// The norms after convIn, down1, down2, up1, up2 (model.2, .5, .8, .<11+n>, .<14+n>).
    let norms: [Norm2d]

    public init(inputNC: Int = 3, outputNC: Int = 3, ngf: Int = 64, nBlocks: Int = 9, norm: NormKind = .instance,
                dropout: Bool = false, on backend: Backend) {
        self.inputNC = inputNC; self.outputNC = outputNC; self.ngf = ngf; self.nBlocks = nBlocks
        self.norm = norm; self.dropout = dropout
        let bias = norm.convBias, mode = self.mode
        convIn = Conv2d(inputNC, ngf, kernelSize: 7, padding: 3, paddingMode: .reflect, bias: bias, on: backend)
        down1 = Conv2d(ngf, 2 * ngf, kernelSize: 3, stride: 2, padding: 1, bias: bias, on: backend)
        down2 = Conv2d(2 * ngf, 4 * ngf, kernelSize: 3, stride: 2, padding: 1, bias: bias, on: backend)
        blocks = (0..<nBlocks).map { _ in ResnetBlock(dim: 4 * ngf, norm: norm, dropout: dropout, mode: mode, on: backend) }
        up1 = ConvTranspose2d(4 * ngf, 2 * ngf, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, bias: bias, on: backend)
        up2 = ConvTranspose2d(2 * ngf, ngf, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, bias: bias, on: backend)
        convOut = Conv2d(ngf, outputNC, kernelSize: 7, padding: 3, paddingMode: .reflect, on: backend)
        norms = [ngf, 2 * ngf, 4 * ngf, 2 * ngf, ngf].map { Norm2d(norm, channels: $0, mode: mode, on: backend) }
    }

    /// Height and width must be multiples of 4.
    public var sizeMultiple: Int { 4 }

    public func callAsFunction(_ x: Tensor) -> Tensor { self(x, record: nil) }

    /// Runs the network; `record` receives the output of each official layer index
    /// ("model.1" … "model.<18+n>"; the fused pads model.0 and model.<16+n> produce no tensor).
    /// Without `record`, each instance norm runs fused with its ReLU (the same values, one
    /// pass fewer); with it, separately, so that the norm's own output can be recorded.
    public func callAsFunction(_ x: Tensor, record: ((String, Tensor) -> Void)?) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[1] == inputNC, "generator input must be [n, \(inputNC), h, w], got \(x.shape)")
        precondition(x.shape[2] % 4 == 0 && x.shape[3] % 4 == 0, "generator input height and width must be multiples of 4, got \(x.shape)")
        var i = 1
        func r(_ t: Tensor) -> Tensor { record?("model.\(i)", t); i += 1; return t }
        func normReLU(_ t: Tensor, _ norm: Norm2d) -> Tensor {
            if record == nil { i += 2; return norm(t, leakyReLUSlope: 0, consuming: true) }
            return r(r(norm(t)).relu())
        }
        var h = normReLU(r(convIn(x)), norms[0])
        h = normReLU(r(down1(h)), norms[1])
        h = normReLU(r(down2(h)), norms[2])
        for b in blocks { h = r(b(h)) }
        h = normReLU(r(up1(h)), norms[3])
        h = normReLU(r(up2(h)), norms[4])
        i += 1  // model.<16+n>: the reflect pad, folded into the next conv
        h = r(convOut(h))
        return r(h.tanh())
    }

    /// (index, layer) of every layer with state, in the official order.
    private var layers: [(Int, Module)] {
        let n = nBlocks
        return [(1, convIn), (2, norms[0]), (4, down1), (5, norms[1]), (7, down2), (8, norms[2])]
            + blocks.enumerated().map { (10 + $0.offset, $0.element) }
            + [(10 + n, up1), (11 + n, norms[3]), (13 + n, up2), (14 + n, norms[4]), (17 + n, convOut)]
    }

    public func namedParameters() -> [(String, Tensor)] { layers.flatMap { prefixed("model.\($0.0)", $0.1) } }
    public func namedBuffers() -> [(String, Tensor)] { layers.flatMap { prefixedBuffers("model.\($0.0)", $0.1) } }
}

/// A generator of either kind, as the models and `test` use it.
public protocol Generator: Module {
    var inputNC: Int { get }
    var outputNC: Int { get }
    /// Training or evaluation mode, and the dropout stream.
    var mode: NetworkMode { get }
    /// The input's height and width must be multiples of this.
    var sizeMultiple: Int { get }
    func callAsFunction(_ x: Tensor) -> Tensor
}
