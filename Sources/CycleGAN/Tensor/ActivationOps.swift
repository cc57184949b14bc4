/// Activations as differentiable ops. Each backward reads the output, not the input, so
/// the input can be freed: for slope ≥ 0, y > 0 exactly where x > 0.
extension Tensor {
    public func relu() -> Tensor { leakyRelu(slope: 0) }

    public func leakyRelu(slope: Float = 0.2) -> Tensor {
        precondition(slope >= 0, "leaky_relu with a negative slope is not supported")
        let y = Tensor(empty: shape, on: backend)
        backend.leakyReLUForward(x: buffer, y: y.buffer, slope: slope, count: count)
        return Tensor.record(y, inputs: [self]) {
            let out = y.detach(), be = backend, shape = shape
            return { gy in
                let gx = Tensor(empty: shape, on: be)
                be.leakyReLUBackward(x: out.buffer, gy: gy.buffer, gx: gx.buffer, slope: slope, count: gx.count)
                return [gx]
            }
        }
    }

    public func tanh() -> Tensor {
        let y = Tensor(empty: shape, on: backend)
        backend.tanhForward(x: buffer, y: y.buffer, count: count)
        return Tensor.record(y, inputs: [self]) {
            let out = y.detach(), be = backend, shape = shape
            return { gy in
                let gx = Tensor(empty: shape, on: be)
                be.tanhBackward(y: out.buffer, gy: gy.buffer, gx: gx.buffer, count: gx.count)
                return [gx]
            }
        }
    }
}
