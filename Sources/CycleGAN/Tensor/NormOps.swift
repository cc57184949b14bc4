/// Instance normalisation as a differentiable op (PyTorch's F.instance_norm, no affine,
/// no running statistics).
extension Tensor {
    public func instanceNorm2d(eps: Float = 1e-5) -> Tensor {
        precondition(shape.count == 4, "instance_norm2d needs [n, c, h, w], got \(shape)")
        let planes = shape[0] * shape[1], hw = shape[2] * shape[3]
        let y = Tensor(empty: shape, on: backend)
        let mean = backend.makeBuffer(count: planes), rstd = backend.makeBuffer(count: planes)
        backend.instanceNormForward(x: buffer, y: y.buffer, mean: mean, rstd: rstd, planes: planes, hw: hw, eps: eps)
        return Tensor.record(y, inputs: [self]) {
            // Backward reads the normalised output and 1/σ, not the input.
            let out = y.detach(), be = backend, shape = shape
            return { gy in
                let gx = Tensor(empty: shape, on: be)
                be.instanceNormBackward(y: out.buffer, gy: gy.buffer, rstd: rstd, gx: gx.buffer, planes: planes, hw: hw)
                return [gx]
            }
        }
    }
}
