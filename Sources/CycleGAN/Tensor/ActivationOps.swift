/// Activations as differentiable ops. Each backward reads the output, not the input, so
/// the input can be freed: for slope ≥ 0, y > 0 exactly where x > 0.
extension Tensor {
    public func relu() -> Tensor { leakyRelu(slope: 0) }

    public func leakyRelu(slope: Float = 0.2) -> Tensor {
        LayerScope.run("leaky_relu(\(slope)) \(shapeText)") {
            precondition(slope >= 0, "leaky_relu with a negative slope is not supported")
            let y = Tensor(empty: shape, on: backend, dtype: dtype)
            backend.leakyReLUForward(x: buffer, y: y.buffer, slope: slope, count: count)
            return Tensor.record(y, inputs: [self]) {
                let out = y.detach(), be = backend, shape = shape
                return { gy in
                    let gx = Tensor(empty: shape, on: be, dtype: gy.dtype)
                    be.leakyReLUBackward(x: out.buffer, gy: gy.buffer, gx: gx.buffer, slope: slope, count: gx.count)
                    return [gx]
                }
            }
        }
    }

    public func tanh() -> Tensor {
        LayerScope.run("tanh \(shapeText)") {
            let y = Tensor(empty: shape, on: backend, dtype: dtype)
            backend.tanhForward(x: buffer, y: y.buffer, count: count)
            return Tensor.record(y, inputs: [self]) {
                let out = y.detach(), be = backend, shape = shape
                return { gy in
                    let gx = Tensor(empty: shape, on: be, dtype: gy.dtype)
                    be.tanhBackward(y: out.buffer, gy: gy.buffer, gx: gx.buffer, count: gx.count)
                    return [gx]
                }
            }
        }
    }
}

extension Tensor {
    /// Dropout with probability `p` (PyTorch's F.dropout in training): element i is kept,
    /// scaled by 1/(1 − p), iff uniform01(seed, i) ≥ p; the backward draws the same mask.
    public func dropout(p: Float = 0.5, seed: UInt64) -> Tensor {
        LayerScope.run("dropout \(shapeText)") {
            precondition(p >= 0 && p < 1, "dropout probability must be in [0, 1), got \(p)")
            let y = Tensor(empty: shape, on: backend, dtype: dtype)
            backend.dropoutForward(x: buffer, y: y.buffer, p: p, seed: seed, count: count)
            return Tensor.record(y, inputs: [self]) {
                let be = backend, shape = shape
                return { gy in
                    let gx = Tensor(empty: shape, on: be, dtype: gy.dtype)
                    be.dropoutBackward(gy: gy.buffer, gx: gx.buffer, p: p, seed: seed, count: gx.count)
                    return [gx]
                }
            }
        }
    }
}
