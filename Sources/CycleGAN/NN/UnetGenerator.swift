/// One level of the official U-Net (UnetSkipConnectionBlock; docs/semantics.md, "U-Net"):
/// a stride-2 conv down, the inner levels, a stride-2 transposed conv up, and, except at
/// the outermost level, the block's input concatenated before its output along the channels.
///
/// The official downward LeakyReLU is in place, so the concatenation reads the activated
/// input; every concatenation is followed by a ReLU (the parent's `uprelu`), and
/// ReLU(LeakyReLU(x)) = ReLU(x) with the same derivative, so the input itself is
/// concatenated here: the same values and gradients.
final class UnetSkipBlock: Module {
    enum Level { case outermost, middle, innermost }
    let level: Level
    let down: Conv2d, downNorm: Norm2d?
    let sub: UnetSkipBlock?
    let up: ConvTranspose2d, upNorm: Norm2d?
    let dropout: Dropout?

    /// Block(outer, inner) of the official code: `input` channels in (default `outer`),
    /// `outer` out, `inner` at the level below.
    init(outer: Int, inner: Int, input: Int? = nil, sub: UnetSkipBlock?, level: Level, norm: NormKind,
         dropout: Bool, mode: NetworkMode, on backend: Backend) {
        self.level = level
        self.sub = sub
        down = Conv2d(input ?? outer, inner, kernelSize: 4, stride: 2, padding: 1, bias: norm.convBias, on: backend)
        downNorm = level == .middle ? Norm2d(norm, channels: inner, mode: mode, on: backend) : nil
        let upIn = level == .innermost ? inner : 2 * inner
        up = ConvTranspose2d(upIn, outer, kernelSize: 4, stride: 2, padding: 1,
                             bias: level == .outermost || norm.convBias, on: backend)
        upNorm = level == .outermost ? nil : Norm2d(norm, channels: outer, mode: mode, on: backend)
        self.dropout = dropout && level == .middle ? Dropout(mode: mode) : nil
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = level == .outermost ? x : x.leakyRelu(slope: 0.2)
        h = down(h)
        if let downNorm { h = downNorm(h) }
        if let sub { h = sub(h) }
        h = up(h.relu())
        if level == .outermost { return h.tanh() }
        h = upNorm!(h)
        if let dropout { h = dropout(h) }
        return Tensor.cat([x, h], dim: 1)
    }

    /// (index in the block's official `model` list, layer) of every layer with state.
    private var layers: [(Int, Module)] {
        switch level {
        case .outermost: return [(0, down), (1, sub!), (3, up)]
        case .innermost: return [(1, down), (3, up), (4, upNorm!)]
        case .middle: return [(1, down), (2, downNorm!), (3, sub!), (5, up), (6, upNorm!)]
        }
    }

    func namedParameters() -> [(String, Tensor)] { layers.flatMap { prefixed("model.\($0.0)", $0.1) } }
    func namedBuffers() -> [(String, Tensor)] { layers.flatMap { prefixedBuffers("model.\($0.0)", $0.1) } }
}

/// The official UnetGenerator (`--netG unet_256`: 8 downsamplings, `unet_128`: 7), built
/// inside out: the innermost block (8·ngf), num_downs − 5 middle blocks of 8·ngf (the only
/// ones with dropout), blocks (4·ngf, 8·ngf), (2·ngf, 4·ngf), (ngf, 2·ngf), and the outermost
/// block from input_nc to output_nc. Keys nest as `model.model.<i>.model.<j>…`.
public final class UnetGenerator: Generator {
    public let inputNC: Int, outputNC: Int, ngf: Int, numDowns: Int
    public let mode = NetworkMode()
    let root: UnetSkipBlock

    public init(inputNC: Int = 3, outputNC: Int = 3, numDowns: Int = 8, ngf: Int = 64, norm: NormKind = .batch,
                dropout: Bool = false, on backend: Backend) {
        precondition(numDowns >= 5, "a U-Net needs at least 5 downsamplings, got \(numDowns)")
        self.inputNC = inputNC; self.outputNC = outputNC; self.ngf = ngf; self.numDowns = numDowns
        let mode = self.mode
        func block(_ outer: Int, _ inner: Int, _ sub: UnetSkipBlock?, _ level: UnetSkipBlock.Level,
                   input: Int? = nil, dropout: Bool = false) -> UnetSkipBlock {
            UnetSkipBlock(outer: outer, inner: inner, input: input, sub: sub, level: level, norm: norm,
                          dropout: dropout, mode: mode, on: backend)
        }
        var b = block(8 * ngf, 8 * ngf, nil, .innermost)
        for _ in 0..<(numDowns - 5) { b = block(8 * ngf, 8 * ngf, b, .middle, dropout: dropout) }
        b = block(4 * ngf, 8 * ngf, b, .middle)
        b = block(2 * ngf, 4 * ngf, b, .middle)
        b = block(ngf, 2 * ngf, b, .middle)
        root = block(outputNC, ngf, b, .outermost, input: inputNC)
    }

    /// Height and width must be multiples of 2^num_downs (256 for unet_256).
    public var sizeMultiple: Int { 1 << numDowns }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[1] == inputNC, "generator input must be [n, \(inputNC), h, w], got \(x.shape)")
        precondition(x.shape[2] % sizeMultiple == 0 && x.shape[3] % sizeMultiple == 0,
                     "U-Net input height and width must be multiples of \(sizeMultiple), got \(x.shape)")
        return root(x)
    }

    public func namedParameters() -> [(String, Tensor)] { prefixed("model", root) }
    public func namedBuffers() -> [(String, Tensor)] { prefixedBuffers("model", root) }
}
