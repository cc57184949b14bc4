/// Instance normalisation as a differentiable op (PyTorch's F.instance_norm, no affine,
/// no running statistics), alone or fused with the layer after it.
extension Tensor {
    public func instanceNorm2d(eps: Float = 1e-5) -> Tensor {
        LayerScope.run("instance_norm2d \(shapeText)") {
            let (planes, hw) = normPlanes()
            let y = Tensor(empty: shape, on: backend, dtype: dtype)
            let mean = backend.makeBuffer(count: planes), rstd = backend.makeBuffer(count: planes)
            backend.instanceNormForward(x: buffer, y: y.buffer, mean: mean, rstd: rstd, planes: planes, hw: hw, eps: eps)
            return Tensor.record(y, inputs: [self]) {
                // Backward reads the normalised output and 1/σ, not the input.
                let out = y.detach(), be = backend, shape = shape
                return { gy in
                    let gx = Tensor(empty: shape, on: be, dtype: gy.dtype)
                    be.instanceNormBackward(y: out.buffer, gy: gy.buffer, rstd: rstd, gx: gx.buffer, planes: planes, hw: hw)
                    return [gx]
                }
            }
        }
    }

    /// `instanceNorm2d(eps:).leakyRelu(slope:)` (slope 0: `.relu()`) in one pass forward and
    /// one backward, with the same values. Backward reads the norm's input and its statistics
    /// (the output's sign alone does not give the normalised value), so it keeps as much
    /// memory as the two ops did and makes one tensor and two passes fewer.
    public func instanceNorm2d(eps: Float = 1e-5, leakyReLUSlope slope: Float) -> Tensor {
        instanceNorm2d(eps: eps, leakyReLUSlope: slope, consumingInput: false)
    }

    /// `skip + instanceNorm2d(eps:)` (the residual block's output) in one pass forward and
    /// one backward, with the same values; the skip's gradient is the output's.
    public func instanceNorm2d(eps: Float = 1e-5, adding skip: Tensor) -> Tensor {
        instanceNorm2d(eps: eps, adding: skip, consumingInput: false)
    }

    /// The fused norms as the networks run them: with `consumingInput` and no graph to record
    /// (inference), the result overwrites `self`'s storage, one activation fewer in memory;
    /// the caller must not read `self` again.
    func instanceNorm2d(eps: Float = 1e-5, leakyReLUSlope slope: Float, consumingInput: Bool) -> Tensor {
        precondition(slope >= 0, "leaky_relu with a negative slope is not supported")
        return fusedNorm(eps: eps, epilogue: .leakyReLU(slope: slope), skip: nil, slope: slope, consume: consumingInput)
    }

    func instanceNorm2d(eps: Float = 1e-5, adding skip: Tensor, consumingInput: Bool) -> Tensor {
        precondition(skip.shape == shape && skip.dtype == dtype,
                     "instance_norm2d + skip: \(dtype) \(shape) and \(skip.dtype) \(skip.shape) differ")
        return fusedNorm(eps: eps, epilogue: .residual(skip.buffer), skip: skip, slope: nil, consume: consumingInput)
    }

    private func normPlanes() -> (planes: Int, hw: Int) {
        precondition(shape.count == 4, "instance_norm2d needs [n, c, h, w], got \(shape)")
        return (shape[0] * shape[1], shape[2] * shape[3])
    }

    private func fusedNorm(eps: Float, epilogue: NormEpilogue, skip: Tensor?, slope: Float?, consume: Bool) -> Tensor {
        LayerScope.run("instance_norm2d+\(skip == nil ? "relu" : "skip") \(shapeText)") {
            let (planes, hw) = normPlanes()
            // In place only where no graph is recorded (the backward would read the input); the
            // kernels read each element before they write it, at the same index.
            let inPlace = consume && !(GradMode.enabled && (needsGrad || (skip?.needsGrad ?? false)))
            let y = inPlace ? detach() : Tensor(empty: shape, on: backend, dtype: dtype)
            let mean = backend.makeBuffer(count: planes), rstd = backend.makeBuffer(count: planes)
            backend.instanceNormForward(x: buffer, y: y.buffer, mean: mean, rstd: rstd, planes: planes, hw: hw, eps: eps,
                                        epilogue: epilogue)
            return Tensor.record(y, inputs: skip.map { [self, $0] } ?? [self]) {
                let input = self.detach(), be = backend, shape = shape, hasSkip = skip != nil
                return { gy in
                    let gx = Tensor(empty: shape, on: be, dtype: gy.dtype)
                    be.instanceNormBackward(x: input.buffer, mean: mean, rstd: rstd, gy: gy.buffer, gx: gx.buffer,
                                            planes: planes, hw: hw, slope: slope)
                    return hasSkip ? [gx, gy] : [gx]
                }
            }
        }
    }
}
