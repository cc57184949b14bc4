/// The official ImagePool: a history of generated images for the discriminators. Per
/// image of the batch: while fewer than `size` are stored, store and return it; after,
/// with probability 0.5 return a random stored image and store the new one in its place,
/// else return the new one. Size 0 returns the batch unchanged.
public final class ImagePool {
    public let size: Int
    public private(set) var images: [Tensor] = []

    public init(size: Int = 50) { self.size = size }

    public func query<R: PoolRandomSource>(_ batch: Tensor, random: inout R) -> Tensor {
        if size == 0 { return batch.detach() }
        var out: [Tensor] = []
        for i in 0..<batch.shape[0] {
            let image = batch.image(i)  // a copy: the pool owns it
            if images.count < size {
                images.append(image)
                out.append(image)
            } else if random.uniform() > 0.5 {
                let j = random.int(below: size)
                out.append(images[j])
                images[j] = image
            } else {
                out.append(image)
            }
        }
        return Tensor.cat(out)
    }

    /// Replaces the stored images (restoring a train state).
    public func restore(_ stored: [Tensor]) { images = stored }
}
