/// Convolutions as differentiable tensor ops (PyTorch's F.conv2d / F.conv_transpose2d).
extension Tensor {
    /// conv2d(x: [n, c, h, w], weight: [k, c, kh, kw], bias: [k]?) with zero or reflect
    /// padding (reflect is PyTorch's ReflectionPad2d(pad) followed by an unpadded conv).
    public func conv2d(_ weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                       paddingMode: Conv2dGeometry.Padding = .zeros) -> Tensor {
        precondition(shape.count == 4 && weight.shape.count == 4 && shape[1] == weight.shape[1],
                     "conv2d: input \(shape) does not fit weight \(weight.shape)")
        let g = Conv2dGeometry(n: shape[0], c: shape[1], h: shape[2], w: shape[3], k: weight.shape[0],
                               kh: weight.shape[2], kw: weight.shape[3], stride: stride, pad: padding, padding: paddingMode)
        precondition(paddingMode == .zeros || (padding < g.h && padding < g.w), "reflect padding \(padding) needs size > pad")
        let y = Tensor(empty: [g.n, g.k, g.oh, g.ow], on: backend)
        backend.conv2dForward(x: buffer, weight: weight.buffer, bias: bias?.buffer, y: y.buffer, g)
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        return Tensor.record(y, inputs: inputs) {
            // Keep only what the needed gradients read.
            let x = weight.needsGrad ? self : nil
            let w = self.needsGrad ? weight : nil
            let wantBias = bias?.needsGrad ?? false
            let be = backend
            return { gy in
                var gx: Tensor? = nil, gw: Tensor? = nil, gb: Tensor? = nil
                if let w {
                    gx = Tensor(empty: [g.n, g.c, g.h, g.w], on: be)
                    be.conv2dBackwardData(gy: gy.buffer, weight: w.buffer, gx: gx!.buffer, g)
                }
                if let x {
                    gw = Tensor(empty: [g.k, g.c, g.kh, g.kw], on: be)
                    be.conv2dBackwardWeight(x: x.buffer, gy: gy.buffer, gw: gw!.buffer, g)
                }
                if wantBias {
                    gb = Tensor(empty: [g.k], on: be)
                    be.channelSum(gy.buffer, out: gb!.buffer, n: g.n, c: g.k, hw: g.oh * g.ow)
                }
                return [gx, gw] + (bias == nil ? [] : [gb])
            }
        }
    }

    /// conv_transpose2d(x: [n, cin, h, w], weight: [cin, cout, k, k], bias: [cout]?).
    public func convTranspose2d(_ weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                                outputPadding: Int = 0) -> Tensor {
        precondition(shape.count == 4 && weight.shape.count == 4 && shape[1] == weight.shape[0]
                     && weight.shape[2] == weight.shape[3],
                     "conv_transpose2d: input \(shape) does not fit weight \(weight.shape)")
        let g = Conv2dGeometry.transposed(n: shape[0], cin: shape[1], h: shape[2], w: shape[3], cout: weight.shape[1],
                                          kernel: weight.shape[2], stride: stride, pad: padding, outputPadding: outputPadding)
        let y = Tensor(empty: [g.n, g.c, g.h, g.w], on: backend)
        backend.convTranspose2dForward(x: buffer, weight: weight.buffer, bias: bias?.buffer, y: y.buffer, g)
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        return Tensor.record(y, inputs: inputs) {
            let x = weight.needsGrad ? self : nil
            let w = self.needsGrad ? weight : nil
            let wantBias = bias?.needsGrad ?? false
            let be = backend
            return { gy in
                var gx: Tensor? = nil, gw: Tensor? = nil, gb: Tensor? = nil
                if let w {
                    gx = Tensor(empty: [g.n, g.k, g.oh, g.ow], on: be)
                    be.convTranspose2dBackwardData(gy: gy.buffer, weight: w.buffer, gx: gx!.buffer, g)
                }
                if let x {
                    gw = Tensor(empty: [g.k, g.c, g.kh, g.kw], on: be)
                    be.convTranspose2dBackwardWeight(x: x.buffer, gy: gy.buffer, gw: gw!.buffer, g)
                }
                if wantBias {
                    gb = Tensor(empty: [g.c], on: be)
                    be.channelSum(gy.buffer, out: gb!.buffer, n: g.n, c: g.c, hw: g.h * g.w)
                }
                return [gx, gw] + (bias == nil ? [] : [gb])
            }
        }
    }
}
