/// Splitting a batch into images and joining images into a batch (no history: used on
/// detached images by the image pool and the data loader).
extension Tensor {
    /// Image i of the batch, shape [1, c, h, w], as a copy.
    public func image(_ i: Int) -> Tensor {
        let per = count / shape[0]
        let t = Tensor(empty: [1] + shape.dropFirst(), on: backend, dtype: dtype)
        backend.copy(buffer, srcOffset: i * per, to: t.buffer, dstOffset: 0, count: per)
        return t
    }

    /// The images stacked along the batch dimension.
    public static func cat(_ images: [Tensor]) -> Tensor {
        precondition(!images.isEmpty, "cat of no tensors")
        if images.count == 1 { return images[0] }
        let first = images[0]
        let t = Tensor(empty: [images.reduce(0) { $0 + $1.shape[0] }] + first.shape.dropFirst(), on: first.backend, dtype: first.dtype)
        var offset = 0
        for im in images {
            precondition(Array(im.shape.dropFirst()) == Array(first.shape.dropFirst()), "cat: shapes differ")
            precondition(im.dtype == first.dtype, "cat: element types differ")
            first.backend.copy(im.buffer, srcOffset: 0, to: t.buffer, dstOffset: offset, count: im.count)
            offset += im.count
        }
        return t
    }
}

/// Joining tensors along the channel dimension as a differentiable op (the U-Net's skip
/// connections, pix2pix's conditional discriminator input): copies, no kernel of its own.
extension Tensor {
    /// torch.cat(tensors, dim: 1) of [n, c_i, h, w] tensors (of mixed element types: promoted
    /// to FP32, as torch.cat under autocast).
    public static func cat(_ tensors: [Tensor], dim: Int) -> Tensor {
        let tensors = promoted(tensors)
        return LayerScope.run("cat \(tensors.map(\.shapeText).joined(separator: ", "))") {
            precondition(dim == 1, "cat along dimension \(dim) is not supported (only 1, the channels)")
            precondition(!tensors.isEmpty, "cat of no tensors")
            let first = tensors[0], be = first.backend
            for t in tensors {
                precondition(t.shape.count == 4 && t.shape[0] == first.shape[0] && t.shape[2...] == first.shape[2...],
                             "cat: shapes \(t.shape) and \(first.shape) differ outside dimension 1")
            }
            let n = first.shape[0], hw = first.shape[2] * first.shape[3]
            let channels = tensors.map { $0.shape[1] }, total = channels.reduce(0, +)
            let y = Tensor(empty: [n, total, first.shape[2], first.shape[3]], on: be, dtype: first.dtype)
            // image b of tensor j goes to channels offset_j ..< offset_j + c_j of image b
            var offset = 0
            for (t, c) in zip(tensors, channels) {
                for b in 0..<n {
                    be.copy(t.buffer, srcOffset: b * c * hw, to: y.buffer, dstOffset: (b * total + offset) * hw, count: c * hw)
                }
                offset += c
            }
            return Tensor.record(y, inputs: tensors) {
                let shapes = tensors.map { $0.shape }, wanted = tensors.map { $0.needsGrad }
                return { gy in
                    var grads: [Tensor?] = []
                    var offset = 0
                    for (j, c) in channels.enumerated() {
                        defer { offset += c }
                        guard wanted[j] else { grads.append(nil); continue }
                        let g = Tensor(empty: shapes[j], on: be, dtype: gy.dtype)
                        for b in 0..<n {
                            be.copy(gy.buffer, srcOffset: (b * total + offset) * hw, to: g.buffer, dstOffset: b * c * hw, count: c * hw)
                        }
                        grads.append(g)
                    }
                    return grads
                }
            }
        }
    }
}
