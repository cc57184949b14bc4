/// ResnetBlock(dim): x + [ReflectionPad(1), Conv3, IN, ReLU, ReflectionPad(1), Conv3, IN](x).
/// Keys conv_block.1.* and conv_block.5.*; each pad is the reflect padding of the conv
/// after it (docs/semantics.md, §1).
public final class ResnetBlock: Module {
    public let conv1: Conv2d, conv2: Conv2d

    public init(dim: Int, on backend: Backend) {
        conv1 = Conv2d(dim, dim, kernelSize: 3, padding: 1, paddingMode: .reflect, on: backend)
        conv2 = Conv2d(dim, dim, kernelSize: 3, padding: 1, paddingMode: .reflect, on: backend)
    }

    /// The norms run fused with the ReLU and the residual add (NormOps.swift): the same values.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = conv1(x).instanceNorm2d(leakyReLUSlope: 0, consumingInput: true)
        return conv2(h).instanceNorm2d(adding: x, consumingInput: true)
    }

    public func namedParameters() -> [(String, Tensor)] {
        prefixed("conv_block.1", conv1) + prefixed("conv_block.5", conv2)
    }
}

/// The official ResnetGenerator (models/networks.py; docs/semantics.md, §1): c7s1-ngf, two
/// stride-2 downsamplings, n residual blocks, two stride-2 transposed convs, c7s1-output_nc,
/// tanh. Keys keep the official `model.<i>` indices. The two `ReflectionPad2d(3)` layers,
/// model.0 and model.<16+n>, are not layers here: the 7×7 convs after them (model.1 and
/// model.<17+n>) are `Conv2d`s with reflect padding 3, so those two indices hold no tensor.
public final class ResnetGenerator: Module {
    public let inputNC: Int, outputNC: Int, ngf: Int, nBlocks: Int
    let convIn: Conv2d, down1: Conv2d, down2: Conv2d
    let blocks: [ResnetBlock]
    let up1: ConvTranspose2d, up2: ConvTranspose2d
    let convOut: Conv2d

    public init(inputNC: Int = 3, outputNC: Int = 3, ngf: Int = 64, nBlocks: Int = 9, on backend: Backend) {
        self.inputNC = inputNC; self.outputNC = outputNC; self.ngf = ngf; self.nBlocks = nBlocks
        convIn = Conv2d(inputNC, ngf, kernelSize: 7, padding: 3, paddingMode: .reflect, on: backend)
        down1 = Conv2d(ngf, 2 * ngf, kernelSize: 3, stride: 2, padding: 1, on: backend)
        down2 = Conv2d(2 * ngf, 4 * ngf, kernelSize: 3, stride: 2, padding: 1, on: backend)
        blocks = (0..<nBlocks).map { _ in ResnetBlock(dim: 4 * ngf, on: backend) }
        up1 = ConvTranspose2d(4 * ngf, 2 * ngf, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, on: backend)
        up2 = ConvTranspose2d(2 * ngf, ngf, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, on: backend)
        convOut = Conv2d(ngf, outputNC, kernelSize: 7, padding: 3, paddingMode: .reflect, on: backend)
    }

    /// Runs the network; `record` receives the output of each official layer index
    /// ("model.1" … "model.<18+n>"; the fused pads model.0 and model.<16+n> produce no tensor).
    /// Without `record`, each norm runs fused with its ReLU (the same values, one pass fewer);
    /// with it, separately, so that the norm's own output can be recorded.
    public func callAsFunction(_ x: Tensor, record: ((String, Tensor) -> Void)? = nil) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[1] == inputNC, "generator input must be [n, \(inputNC), h, w], got \(x.shape)")
        precondition(x.shape[2] % 4 == 0 && x.shape[3] % 4 == 0, "generator input height and width must be multiples of 4, got \(x.shape)")
        var i = 1
        func r(_ t: Tensor) -> Tensor { record?("model.\(i)", t); i += 1; return t }
        func normReLU(_ t: Tensor) -> Tensor {
            if record == nil { i += 2; return t.instanceNorm2d(leakyReLUSlope: 0, consumingInput: true) }
            return r(r(t.instanceNorm2d()).relu())
        }
        var h = normReLU(r(convIn(x)))
        h = normReLU(r(down1(h)))
        h = normReLU(r(down2(h)))
        for b in blocks { h = r(b(h)) }
        h = normReLU(r(up1(h)))
        h = normReLU(r(up2(h)))
        i += 1  // model.<16+n>: the reflect pad, folded into the next conv
        h = r(convOut(h))
        return r(h.tanh())
    }

    public func namedParameters() -> [(String, Tensor)] {
        let n = nBlocks
        var p = prefixed("model.1", convIn) + prefixed("model.4", down1) + prefixed("model.7", down2)
        for (j, b) in blocks.enumerated() { p += prefixed("model.\(10 + j)", b) }
        p += prefixed("model.\(10 + n)", up1) + prefixed("model.\(13 + n)", up2) + prefixed("model.\(17 + n)", convOut)
        return p
    }
}
