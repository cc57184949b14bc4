/// How a 2-D convolution is laid out: input x[n][c][h][w], weight w[k][c][kh][kw],
/// output y[n][k][oh][ow]. Reflect padding is folded into the kernels' indexing.
public struct Conv2dGeometry: Equatable, Sendable, CustomStringConvertible {
    public enum Padding: String, Sendable { case zeros, reflect }

    public var n: Int, c: Int, h: Int, w: Int
    public var k: Int, kh: Int, kw: Int
    public var stride: Int, pad: Int
    public var padding: Padding

    public init(n: Int, c: Int, h: Int, w: Int, k: Int, kh: Int, kw: Int,
                stride: Int = 1, pad: Int = 0, padding: Padding = .zeros) {
        self.n = n; self.c = c; self.h = h; self.w = w
        self.k = k; self.kh = kh; self.kw = kw
        self.stride = stride; self.pad = pad; self.padding = padding
    }

    public var oh: Int { (h + 2 * pad - kh) / stride + 1 }
    public var ow: Int { (w + 2 * pad - kw) / stride + 1 }
    public var inputCount: Int { n * c * h * w }
    public var weightCount: Int { k * c * kh * kw }
    public var outputCount: Int { n * k * oh * ow }
    /// Multiply-adds × 2 of the forward pass (each backward costs the same).
    public var flops: Double { 2 * Double(n * k * oh * ow) * Double(c * kh * kw) }

    public var description: String {
        "\(n)x\(c)x\(h)x\(w) -> \(k) k\(kh)x\(kw) s\(stride) p\(pad)\(padding == .reflect ? " reflect" : "")"
    }

    /// The geometry of the convolution whose backward-data is the transposed convolution
    /// x[n][cin][h][w] ⊛ᵀ w[cin][cout][k][k] (PyTorch layout): that convolution's input is
    /// the transposed conv's output (cout channels, (h−1)s − 2p + k + op rows) and its
    /// output is the transposed conv's input.
    public static func transposed(n: Int, cin: Int, h: Int, w: Int, cout: Int, kernel: Int,
                                  stride: Int, pad: Int, outputPadding: Int) -> Conv2dGeometry {
        let oh = (h - 1) * stride - 2 * pad + kernel + outputPadding
        let ow = (w - 1) * stride - 2 * pad + kernel + outputPadding
        return Conv2dGeometry(n: n, c: cout, h: oh, w: ow, k: cin, kh: kernel, kw: kernel,
                              stride: stride, pad: pad, padding: .zeros)
    }
}
