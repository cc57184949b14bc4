/// The loss reductions as differentiable ops; each returns a one-element tensor that
/// stays on the device. They compute in FP32: an FP16 input is cast first (autocast's
/// FP32 ops).
extension Tensor {
    /// mean((self − target)²) against a constant label (least-squares GAN loss).
    public func mseLoss(target: Float) -> Tensor {
        if dtype != .float32 { return to(.float32).mseLoss(target: target) }
        return LayerScope.run("mse_loss \(shapeText)") {
            let y = Tensor(empty: [], on: backend)
            backend.mseLoss(x: buffer, target: target, count: count, out: y.buffer)
            return Tensor.record(y, inputs: [self]) {
                let be = backend, shape = shape
                return { gy in
                    let gx = Tensor(empty: shape, on: be)
                    be.mseLossBackward(x: self.buffer, target: target, gy: gy.buffer, gx: gx.buffer, count: gx.count)
                    return [gx]
                }
            }
        }
    }

    /// mean|self − target| (cycle-consistency and identity losses).
    public func l1Loss(_ target: Tensor) -> Tensor {
        if dtype != .float32 || target.dtype != .float32 { return to(.float32).l1Loss(target.to(.float32)) }
        return LayerScope.run("l1_loss \(shapeText)") {
            precondition(shape == target.shape, "l1_loss: shapes \(shape) and \(target.shape) differ")
            let y = Tensor(empty: [], on: backend)
            backend.l1Loss(x: buffer, t: target.buffer, count: count, out: y.buffer)
            return Tensor.record(y, inputs: [self, target]) {
                let be = backend, shape = shape, wantTarget = target.needsGrad
                return { gy in
                    let gx = Tensor(empty: shape, on: be)
                    let gt = wantTarget ? Tensor(empty: shape, on: be) : nil
                    be.l1LossBackward(x: self.buffer, t: target.buffer, gy: gy.buffer, gx: gx.buffer, gt: gt?.buffer, count: gx.count)
                    return [gx, gt]
                }
            }
        }
    }

    /// mean(BCE(sigmoid(self), target)) computed stably from logits (vanilla GAN loss).
    public func bceWithLogitsLoss(target: Float) -> Tensor {
        if dtype != .float32 { return to(.float32).bceWithLogitsLoss(target: target) }
        return LayerScope.run("bce_with_logits \(shapeText)") {
            let y = Tensor(empty: [], on: backend)
            backend.bceWithLogitsLoss(x: buffer, target: target, count: count, out: y.buffer)
            return Tensor.record(y, inputs: [self]) {
                let be = backend, shape = shape
                return { gy in
                    let gx = Tensor(empty: shape, on: be)
                    be.bceWithLogitsLossBackward(x: self.buffer, target: target, gy: gy.buffer, gx: gx.buffer, count: gx.count)
                    return [gx]
                }
            }
        }
    }
}
