/// The official NLayerDiscriminator (PatchGAN; n_layers 3 is the 70×70 `basic`;
/// docs/semantics.md, §1): conv k4 s2 + LeakyReLU(0.2); then (n_layers − 1) × [conv k4 s2,
/// Norm, LeakyReLU]; conv k4 s1, Norm, LeakyReLU; conv k4 s1 to one channel. Keys model.<i>.*
/// (a conv's norm at i + 1). Convs followed by a norm have a bias only with instance norm.
public final class NLayerDiscriminator: Discriminator {
    public let inputNC: Int, ndf: Int, nLayers: Int
    public let mode = NetworkMode()
    /// (state-dict index, conv, the norm after it)
    let convs: [(index: Int, conv: Conv2d, norm: Norm2d?)]

    public init(inputNC: Int = 3, ndf: Int = 64, nLayers: Int = 3, norm: NormKind = .instance, on backend: Backend) {
        self.inputNC = inputNC; self.ndf = ndf; self.nLayers = nLayers
        let mode = self.mode
        func normed(_ cin: Int, _ cout: Int, stride: Int) -> (Conv2d, Norm2d) {
            (Conv2d(cin, cout, kernelSize: 4, stride: stride, padding: 1, bias: norm.convBias, on: backend),
             Norm2d(norm, channels: cout, mode: mode, on: backend))
        }
        var convs: [(Int, Conv2d, Norm2d?)] = [(0, Conv2d(inputNC, ndf, kernelSize: 4, stride: 2, padding: 1, on: backend), nil)]
        var index = 2, mult = 1
        for n in 1..<max(nLayers, 1) where nLayers > 1 {
            let prev = mult
            mult = min(1 << n, 8)
            let (c, nm) = normed(ndf * prev, ndf * mult, stride: 2)
            convs.append((index, c, nm))
            index += 3
        }
        let prev = mult
        mult = min(1 << nLayers, 8)
        let (c, nm) = normed(ndf * prev, ndf * mult, stride: 1)
        convs.append((index, c, nm))
        index += 3
        convs.append((index, Conv2d(ndf * mult, 1, kernelSize: 4, stride: 1, padding: 1, on: backend), nil))
        self.convs = convs
    }

    /// `record` receives each official layer's output ("model.0" … "model.<last>"). Without
    /// it, each instance norm runs fused with its LeakyReLU (the same values, one pass fewer).
    public func callAsFunction(_ x: Tensor, record: ((String, Tensor) -> Void)?) -> Tensor {
        var h = x
        for (j, c) in convs.enumerated() {
            var i = c.index
            h = c.conv(h); record?("model.\(i)", h); i += 1
            if j == convs.count - 1 { break }
            if let norm = c.norm, record == nil {
                h = norm(h, leakyReLUSlope: 0.2, consuming: true)
                continue
            }
            if let norm = c.norm { h = norm(h); record?("model.\(i)", h); i += 1 }
            h = h.leakyRelu(slope: 0.2); record?("model.\(i)", h)
        }
        return h
    }

    public func namedParameters() -> [(String, Tensor)] {
        convs.flatMap { c in prefixed("model.\(c.index)", c.conv) + (c.norm.map { prefixed("model.\(c.index + 1)", $0) } ?? []) }
    }

    public func namedBuffers() -> [(String, Tensor)] {
        convs.flatMap { c in c.norm.map { prefixedBuffers("model.\(c.index + 1)", $0) } ?? [] }
    }
}

/// The official PixelDiscriminator (1×1 PatchGAN; docs/semantics.md, §1): keys net.{0,2,3,5}.*;
/// net.2 and net.5 have a bias only with instance norm, as the official code builds them.
public final class PixelDiscriminator: Discriminator {
    public let mode = NetworkMode()
    let c0: Conv2d, c2: Conv2d, c5: Conv2d
    let norm: Norm2d

    public init(inputNC: Int = 3, ndf: Int = 64, norm: NormKind = .instance, on backend: Backend) {
        c0 = Conv2d(inputNC, ndf, kernelSize: 1, on: backend)
        c2 = Conv2d(ndf, 2 * ndf, kernelSize: 1, bias: norm.convBias, on: backend)
        self.norm = Norm2d(norm, channels: 2 * ndf, mode: mode, on: backend)
        c5 = Conv2d(2 * ndf, 1, kernelSize: 1, bias: norm.convBias, on: backend)
    }

    /// `record` receives each official layer's output ("net.0" … "net.5").
    public func callAsFunction(_ x: Tensor, record: ((String, Tensor) -> Void)?) -> Tensor {
        var i = 0
        func r(_ t: Tensor) -> Tensor { record?("net.\(i)", t); i += 1; return t }
        var h = r(c0(x)); h = r(h.leakyRelu(slope: 0.2))
        h = r(c2(h))
        if record == nil { h = norm(h, leakyReLUSlope: 0.2, consuming: true); i += 2 } else { h = r(norm(h)); h = r(h.leakyRelu(slope: 0.2)) }
        return r(c5(h))
    }

    public func namedParameters() -> [(String, Tensor)] {
        prefixed("net.0", c0) + prefixed("net.2", c2) + prefixed("net.3", norm) + prefixed("net.5", c5)
    }

    public func namedBuffers() -> [(String, Tensor)] { prefixedBuffers("net.3", norm) }
}

/// A discriminator of either kind, as the models use it.
public protocol Discriminator: Module {
    /// Training or evaluation mode (batch norm's statistics).
    var mode: NetworkMode { get }
    func callAsFunction(_ x: Tensor, record: ((String, Tensor) -> Void)?) -> Tensor
}

extension Discriminator {
    public func callAsFunction(_ x: Tensor) -> Tensor { self(x, record: nil) }
}
