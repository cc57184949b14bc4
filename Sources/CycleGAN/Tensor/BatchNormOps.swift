/// Batch normalisation as a differentiable op (PyTorch's F.batch_norm on [n, c, h, w], affine).
extension Tensor {
    /// In training, normalises each channel by the batch's statistics over n·h·w values and
    /// moves `runningMean` and `runningVar` by `momentum` toward them (in place, as PyTorch
    /// does, whatever the grad mode); otherwise normalises by the running statistics.
    /// Gradients reach the input, `weight` and `bias`; backward reads the input and the
    /// statistics the forward used.
    public func batchNorm2d(weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor, training: Bool,
                            momentum: Float = 0.1, eps: Float = 1e-5) -> Tensor {
        LayerScope.run("batch_norm2d \(shapeText)") {
            precondition(shape.count == 4, "batch_norm2d needs [n, c, h, w], got \(shape)")
            let n = shape[0], c = shape[1], hw = shape[2] * shape[3]
            precondition([weight, bias, runningMean, runningVar].allSatisfy { $0.count == c },
                         "batch_norm2d: parameters and statistics must have \(c) values")
            precondition(!training || n * hw > 1, "batch_norm2d in training needs more than one value per channel, got \(shape)")
            let mean = backend.makeBuffer(count: c), rstd = backend.makeBuffer(count: c)
            if training {
                backend.batchNormStatistics(x: buffer, mean: mean, rstd: rstd, running: (runningMean.buffer, runningVar.buffer),
                                            n: n, c: c, hw: hw, eps: eps, momentum: momentum)
            } else {
                backend.batchNormEvalStatistics(runningMean: runningMean.buffer, runningVar: runningVar.buffer,
                                                mean: mean, rstd: rstd, c: c, eps: eps)
            }
            let y = Tensor(empty: shape, on: backend, dtype: dtype)
            backend.batchNormForward(x: buffer, y: y.buffer, mean: mean, rstd: rstd, weight: weight.buffer, bias: bias.buffer,
                                     n: n, c: c, hw: hw)
            return Tensor.record(y, inputs: [self, weight, bias]) {
                let input = self.detach(), w = weight.detach(), be = backend, shape = shape
                return { gy in
                    let gx = Tensor(empty: shape, on: be, dtype: gy.dtype), gw = Tensor(empty: [c], on: be), gb = Tensor(empty: [c], on: be)
                    be.batchNormBackward(x: input.buffer, gy: gy.buffer, mean: mean, rstd: rstd, weight: w.buffer,
                                         gx: gx.buffer, gweight: gw.buffer, gbias: gb.buffer, n: n, c: c, hw: hw, training: training)
                    return [gx, gw, gb]
                }
            }
        }
    }
}
