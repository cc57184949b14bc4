/// The transposed convolution (PyTorch's ConvTranspose2d, weight [in, out, kh, kw]) is
/// the adjoint of a convolution, so it runs on the conv2d kernels:
/// - forward     = conv2d backward-data of the convolution `Conv2dGeometry.transposed(…)`,
/// - grad input  = conv2d forward of that convolution,
/// - grad weight = conv2d backward-weight with the roles of input and gradient swapped.
/// `g` below is always that convolution's geometry: g.k = in channels of the transposed
/// conv, g.c = its out channels, g.h×g.w its output size, g.oh×g.ow its input size.
extension Backend {
    public func convTranspose2dForward(x: Buffer, weight: Buffer, bias: Buffer?, y: Buffer, _ g: Conv2dGeometry) {
        conv2dBackwardData(gy: x, weight: weight, gx: y, g)
        if let bias { addChannelBias(y, bias: bias, n: g.n, c: g.c, hw: g.h * g.w) }
    }

    public func convTranspose2dBackwardData(gy: Buffer, weight: Buffer, gx: Buffer, _ g: Conv2dGeometry) {
        conv2dForward(x: gy, weight: weight, bias: nil, y: gx, g)
    }

    public func convTranspose2dBackwardWeight(x: Buffer, gy: Buffer, gw: Buffer, _ g: Conv2dGeometry) {
        conv2dBackwardWeight(x: gy, gy: x, gw: gw, g)
    }
}
