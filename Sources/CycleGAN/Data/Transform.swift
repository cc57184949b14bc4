/// The per-image preprocessing of the official `get_transform` (data/base_dataset.py):
/// optional grayscale, resize and/or random crop, random horizontal flip, then CHW floats
/// in [-1, 1].

/// How images are resized and cropped before training (`--preprocess`).
public enum PreprocessMode: String, CaseIterable, Sendable {
    /// Resize to load_size × load_size (aspect not kept), then a random crop_size crop.
    case resize_and_crop
    /// A random crop_size crop of the image as it is.
    case crop
    /// Width to load_size, height keeping the aspect ratio but at least crop_size.
    case scale_width
    /// `scale_width`, then a random crop_size crop.
    case scale_width_and_crop
    /// Both sides resized to the nearest multiple of 4 (the networks halve twice).
    case none
}

/// The options that shape an image on its way into the networks.
public struct TransformOptions: Sendable {
    /// `--preprocess`.
    public var preprocess: PreprocessMode = .resize_and_crop
    /// `--load_size`: the size images are resized to before cropping.
    public var loadSize = 286
    /// `--crop_size`: the side of the random square crop.
    public var cropSize = 256
    /// Random horizontal flips (`--no_flip` turns them off).
    public var flip = true
    /// Convert to one gray channel first (input_nc or output_nc = 1).
    public var grayscale = false

    public init() {}
}

/// Applies the official training transform to an RGB (or gray) image and returns the
/// values in CHW order scaled to [-1, 1] (`x / 127.5 - 1`), with shape [channels, h, w].
///
/// All randomness comes from `rng`, drawn in a fixed order: the crop's x then y offsets
/// (modes with a crop, each uniform in 0...max(0, side - crop_size)), then one uniform
/// for the flip (when `flip` is on; flipped when below 0.5).
public func applyTransform(_ image: Image, _ options: TransformOptions,
                           rng: inout RandomStream) -> (values: [Float], shape: [Int]) {
    var img = options.grayscale ? toGrayscale(image) : image
    switch options.preprocess {
    case .resize_and_crop:
        img = resizeBicubic(img, width: options.loadSize, height: options.loadSize)
    case .scale_width, .scale_width_and_crop:
        img = scaleWidth(img, targetWidth: options.loadSize, cropSize: options.cropSize)
    case .crop, .none:
        break
    }
    switch options.preprocess {
    case .resize_and_crop, .crop, .scale_width_and_crop:
        img = randomCrop(img, size: options.cropSize, rng: &rng)
    case .none:
        img = resizeToMultipleOf4(img)
    case .scale_width:
        break
    }
    if options.flip && rng.uniform() < 0.5 { img = flipHorizontal(img) }
    return (chwValues(img), [img.channels, img.height, img.width])
}

/// Back from CHW values in [-1, 1] (shape [c, h, w] or [1, c, h, w], c = 1 or 3) to an
/// 8-bit image: `(x + 1) / 2 · 255`, clamped, rounded to nearest (the official `tensor2im`
/// truncates instead: at most one level apart).
public func imageFromCHW(_ values: [Float], shape: [Int]) -> Image {
    let dims = shape.count == 4 && shape[0] == 1 ? Array(shape.dropFirst()) : shape
    precondition(dims.count == 3 && (dims[0] == 1 || dims[0] == 3),
                 "imageFromCHW needs shape [c, h, w] with c = 1 or 3, got \(shape)")
    let (c, h, w) = (dims[0], dims[1], dims[2])
    precondition(values.count == c * h * w, "\(values.count) values for shape \(shape)")
    var pixels = [UInt8](repeating: 0, count: c * h * w)
    for ch in 0..<c {
        for i in 0..<(h * w) {
            let v = (values[ch * h * w + i] + 1) / 2 * 255
            pixels[i * c + ch] = v.isNaN ? 0 : UInt8(min(max(v, 0), 255).rounded())
        }
    }
    return Image(width: w, height: h, channels: c, pixels: pixels)
}

/// The official `__scale_width`: width to `targetWidth`, height scaled with it but at
/// least `cropSize` (Python: `int(max(target_width * oh / ow, crop_size))`).
func scaleWidth(_ image: Image, targetWidth: Int, cropSize: Int) -> Image {
    let (ow, oh) = (image.width, image.height)
    if ow == targetWidth && oh >= cropSize { return image }
    let h = Int(max(Double(targetWidth * oh) / Double(ow), Double(cropSize)))
    return resizeBicubic(image, width: targetWidth, height: h)
}

/// The official `__make_power_2` with base 4: each side to `round(side / 4) * 4`, where
/// Python's round takes halves to even (6 → 8, 10 → 8). A side below 2 would round to 0,
/// which PIL refuses; we make it 4.
func resizeToMultipleOf4(_ image: Image) -> Image {
    func nearest(_ side: Int) -> Int { max(4, Int((Double(side) / 4).rounded(.toNearestOrEven)) * 4) }
    let (w, h) = (nearest(image.width), nearest(image.height))
    if w == image.width && h == image.height { return image }
    return resizeBicubic(image, width: w, height: h)
}

/// A `size` × `size` window at a random offset (x drawn first, then y). A side shorter
/// than `size` is kept whole (the official code would stop with an error there).
func randomCrop(_ image: Image, size: Int, rng: inout RandomStream) -> Image {
    let x = rng.int(below: max(0, image.width - size) + 1)
    let y = rng.int(below: max(0, image.height - size) + 1)
    return crop(image, x: x, y: y, width: min(size, image.width), height: min(size, image.height))
}

/// The window of `image` with top-left corner (x, y); it must lie inside the image.
func crop(_ image: Image, x: Int, y: Int, width: Int, height: Int) -> Image {
    precondition(x >= 0 && y >= 0 && x + width <= image.width && y + height <= image.height)
    let c = image.channels
    var out = [UInt8]()
    out.reserveCapacity(width * height * c)
    for row in y..<(y + height) {
        let start = (row * image.width + x) * c
        out.append(contentsOf: image.pixels[start..<(start + width * c)])
    }
    return Image(width: width, height: height, channels: c, pixels: out)
}

/// The mirror image, left to right.
func flipHorizontal(_ image: Image) -> Image {
    let (w, c) = (image.width, image.channels)
    var out = image.pixels
    for y in 0..<image.height {
        for x in 0..<w {
            for ch in 0..<c { out[(y * w + x) * c + ch] = image.pixels[(y * w + (w - 1 - x)) * c + ch] }
        }
    }
    return Image(width: w, height: image.height, channels: c, pixels: out)
}

/// HWC bytes to CHW floats in [-1, 1]: `x / 127.5 - 1` (ToTensor then Normalize(0.5, 0.5)).
func chwValues(_ image: Image) -> [Float] {
    let (c, n) = (image.channels, image.width * image.height)
    var values = [Float](repeating: 0, count: c * n)
    image.pixels.withUnsafeBufferPointer { p in
        for i in 0..<n {
            for ch in 0..<c { values[ch * n + i] = Float(p[i * c + ch]) / 127.5 - 1 }
        }
    }
    return values
}
