/// Splitting a batch into images and joining images into a batch (no history: used on
/// detached images by the image pool and the data loader).
extension Tensor {
    /// Image i of the batch, shape [1, c, h, w], as a copy.
    public func image(_ i: Int) -> Tensor {
        let per = count / shape[0]
        let t = Tensor(empty: [1] + shape.dropFirst(), on: backend)
        backend.copy(buffer, srcOffset: i * per, to: t.buffer, dstOffset: 0, count: per)
        return t
    }

    /// The images stacked along the batch dimension.
    public static func cat(_ images: [Tensor]) -> Tensor {
        precondition(!images.isEmpty, "cat of no tensors")
        if images.count == 1 { return images[0] }
        let first = images[0]
        let t = Tensor(empty: [images.reduce(0) { $0 + $1.shape[0] }] + first.shape.dropFirst(), on: first.backend)
        var offset = 0
        for im in images {
            precondition(Array(im.shape.dropFirst()) == Array(first.shape.dropFirst()), "cat: shapes differ")
            first.backend.copy(im.buffer, srcOffset: 0, to: t.buffer, dstOffset: offset, count: im.count)
            offset += im.count
        }
        return t
    }
}
