/// The official NLayerDiscriminator (PatchGAN; n_layers 3 is the 70×70 `basic`;
/// docs/semantics.md, §1): conv k4 s2 + LeakyReLU(0.2); then (n_layers − 1) × [conv k4 s2,
/// IN, LeakyReLU]; conv k4 s1, IN, LeakyReLU; conv k4 s1 to one channel. Keys model.<i>.*.
public final class NLayerDiscriminator: Module {
    public let inputNC: Int, ndf: Int, nLayers: Int
    /// (state-dict index, conv, followed by instance norm?)
    let convs: [(index: Int, conv: Conv2d, norm: Bool)]

    public init(inputNC: Int = 3, ndf: Int = 64, nLayers: Int = 3, on backend: Backend) {
        self.inputNC = inputNC; self.ndf = ndf; self.nLayers = nLayers
        var convs: [(Int, Conv2d, Bool)] = [(0, Conv2d(inputNC, ndf, kernelSize: 4, stride: 2, padding: 1, on: backend), false)]
        var index = 2, mult = 1
        for n in 1..<max(nLayers, 1) where nLayers > 1 {
            let prev = mult
            mult = min(1 << n, 8)
            convs.append((index, Conv2d(ndf * prev, ndf * mult, kernelSize: 4, stride: 2, padding: 1, on: backend), true))
            index += 3
        }
        let prev = mult
        mult = min(1 << nLayers, 8)
        convs.append((index, Conv2d(ndf * prev, ndf * mult, kernelSize: 4, stride: 1, padding: 1, on: backend), true))
        index += 3
        convs.append((index, Conv2d(ndf * mult, 1, kernelSize: 4, stride: 1, padding: 1, on: backend), false))
        self.convs = convs
    }

    /// `record` receives each official layer's output ("model.0" … "model.<last>"). Without
    /// it, each norm runs fused with its LeakyReLU (the same values, one pass fewer).
    public func callAsFunction(_ x: Tensor, record: ((String, Tensor) -> Void)? = nil) -> Tensor {
        var h = x
        for (j, c) in convs.enumerated() {
            var i = c.index
            h = c.conv(h); record?("model.\(i)", h); i += 1
            if j == convs.count - 1 { break }
            if c.norm && record == nil {
                h = h.instanceNorm2d(leakyReLUSlope: 0.2, consumingInput: true)
                continue
            }
            if c.norm { h = h.instanceNorm2d(); record?("model.\(i)", h); i += 1 }
            h = h.leakyRelu(slope: 0.2); record?("model.\(i)", h)
        }
        return h
    }

    public func namedParameters() -> [(String, Tensor)] {
        convs.flatMap { prefixed("model.\($0.index)", $0.conv) }
    }
}

/// The official PixelDiscriminator (1×1 PatchGAN; docs/semantics.md, §1): keys net.{0,2,5}.*.
public final class PixelDiscriminator: Module {
    let c0: Conv2d, c2: Conv2d, c5: Conv2d

    public init(inputNC: Int = 3, ndf: Int = 64, on backend: Backend) {
        c0 = Conv2d(inputNC, ndf, kernelSize: 1, on: backend)
        c2 = Conv2d(ndf, 2 * ndf, kernelSize: 1, on: backend)
        c5 = Conv2d(2 * ndf, 1, kernelSize: 1, on: backend)
    }

    /// `record` receives each official layer's output ("net.0" … "net.5").
    public func callAsFunction(_ x: Tensor, record: ((String, Tensor) -> Void)? = nil) -> Tensor {
        var i = 0
        func r(_ t: Tensor) -> Tensor { record?("net.\(i)", t); i += 1; return t }
        var h = r(c0(x)); h = r(h.leakyRelu(slope: 0.2))
        h = r(c2(h))
        if record == nil { h = h.instanceNorm2d(leakyReLUSlope: 0.2, consumingInput: true); i += 2 } else { h = r(h.instanceNorm2d()); h = r(h.leakyRelu(slope: 0.2)) }
        return r(c5(h))
    }

    public func namedParameters() -> [(String, Tensor)] {
        prefixed("net.0", c0) + prefixed("net.2", c2) + prefixed("net.5", c5)
    }
}

/// A discriminator of either kind, as the trainer uses it.
public protocol Discriminator: Module {
    func callAsFunction(_ x: Tensor, record: ((String, Tensor) -> Void)?) -> Tensor
}
extension NLayerDiscriminator: Discriminator {}
extension PixelDiscriminator: Discriminator {}
