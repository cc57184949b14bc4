/// Convolutions as differentiable tensor ops (PyTorch's F.conv2d / F.conv_transpose2d).
extension Tensor {
    /// conv2d(x: [n, c, h, w], weight: [k, c, kh, kw], bias: [k]?) with zero or reflect
    /// padding (reflect is PyTorch's ReflectionPad2d(pad) followed by an unpadded conv).
    public func conv2d(_ weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                       paddingMode: Conv2dGeometry.Padding = .zeros) -> Tensor {
        if let x = autocastInput() { return x.conv2d(weight, bias: bias, stride: stride, padding: padding, paddingMode: paddingMode) }
        precondition(shape.count == 4 && weight.shape.count == 4 && shape[1] == weight.shape[1],
                     "conv2d: input \(shape) does not fit weight \(weight.shape)")
        let g = Conv2dGeometry(n: shape[0], c: shape[1], h: shape[2], w: shape[3], k: weight.shape[0],
                               kh: weight.shape[2], kw: weight.shape[3], stride: stride, pad: padding, padding: paddingMode)
        precondition(paddingMode == .zeros || (padding < g.h && padding < g.w), "reflect padding \(padding) needs size > pad")
        return LayerScope.run("conv2d \(g.description)") {
            let y = Tensor(empty: [g.n, g.k, g.oh, g.ow], on: backend, dtype: dtype)
            backend.conv2dForward(x: buffer, weight: weight.buffer, bias: bias?.buffer, y: y.buffer, g)
            return recordConvolution(y, weight: weight, bias: bias, inputShape: shape, biasPlanes: (g.k, g.oh * g.ow),
                                     data: { be, gy, w, gx in be.conv2dBackwardData(gy: gy, weight: w, gx: gx, g) },
                                     weightGrad: { be, x, gy, gw in be.conv2dBackwardWeight(x: x, gy: gy, gw: gw, g) })
        }
    }

    /// conv_transpose2d(x: [n, cin, h, w], weight: [cin, cout, k, k], bias: [cout]?).
    public func convTranspose2d(_ weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                                outputPadding: Int = 0) -> Tensor {
        if let x = autocastInput() {
            return x.convTranspose2d(weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding)
        }
        precondition(shape.count == 4 && weight.shape.count == 4 && shape[1] == weight.shape[0]
                     && weight.shape[2] == weight.shape[3],
                     "conv_transpose2d: input \(shape) does not fit weight \(weight.shape)")
        let g = Conv2dGeometry.transposed(n: shape[0], cin: shape[1], h: shape[2], w: shape[3], cout: weight.shape[1],
                                          kernel: weight.shape[2], stride: stride, pad: padding, outputPadding: outputPadding)
        return LayerScope.run("conv_transpose2d \(shape[1])x\(shape[2])x\(shape[3]) -> \(g.c) k\(g.kh) s\(stride)") {
            let y = Tensor(empty: [g.n, g.c, g.h, g.w], on: backend, dtype: dtype)
            backend.convTranspose2dForward(x: buffer, weight: weight.buffer, bias: bias?.buffer, y: y.buffer, g)
            return recordConvolution(y, weight: weight, bias: bias, inputShape: shape, biasPlanes: (g.c, g.h * g.w),
                                     data: { be, gy, w, gx in be.convTranspose2dBackwardData(gy: gy, weight: w, gx: gx, g) },
                                     weightGrad: { be, x, gy, gw in be.convTranspose2dBackwardWeight(x: x, gy: gy, gw: gw, g) })
        }
    }

    /// Under `--precision mixed`, an FP32 input cast to FP16 (autocast): the convolution then
    /// runs on FP16 activations, its weight rounded to FP16, and writes FP16. Nil otherwise.
    private func autocastInput() -> Tensor? {
        backend.precision == .mixed && dtype == .float32 ? to(.float16) : nil
    }

    /// Records a convolution-like op y = op(self, weight) + bias. Backward computes only the
    /// gradients that are needed, and the node keeps only what those read: the weight for
    /// the input gradient, the input for the weight gradient. `biasPlanes` is (channels,
    /// elements per plane) of y, whose sum per channel is the bias gradient.
    private func recordConvolution(_ y: Tensor, weight: Tensor, bias: Tensor?, inputShape: [Int], biasPlanes: (Int, Int),
                                   data: @escaping (Backend, Buffer, Buffer, Buffer) -> Void,
                                   weightGrad: @escaping (Backend, Buffer, Buffer, Buffer) -> Void) -> Tensor {
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        return Tensor.record(y, inputs: inputs) {
            let x = weight.needsGrad ? self : nil
            let w = self.needsGrad ? weight : nil
            let wantBias = bias?.needsGrad ?? false
            let be = backend, weightShape = weight.shape, n = inputShape[0], inputType = dtype
            return { gy in
                var gx: Tensor? = nil, gw: Tensor? = nil, gb: Tensor? = nil
                if let w {
                    gx = Tensor(empty: inputShape, on: be, dtype: inputType)
                    data(be, gy.buffer, w.buffer, gx!.buffer)
                }
                if let x {
                    gw = Tensor(empty: weightShape, on: be)
                    weightGrad(be, x.buffer, gy.buffer, gw!.buffer)
                }
                if wantBias {
                    gb = Tensor(empty: [biasPlanes.0], on: be)
                    be.channelSum(gy.buffer, out: gb!.buffer, n: n, c: biasPlanes.0, hw: biasPlanes.1)
                }
                return [gx, gw] + (bias == nil ? [] : [gb])
            }
        }
    }
}
