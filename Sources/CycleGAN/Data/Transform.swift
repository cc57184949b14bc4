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
    /// The smallest side the networks take (`NetworkSize.trainingMinimum`); by default that
    /// of the default networks (ResNet generator, basic PatchGAN). See `sizeProblem`.
    public var minimumSide = NetworkSize.trainingMinimum(netD: "basic", nLayers: 3)
    /// What the sides must be multiples of (`NetworkSize.multiple`: 4 for the ResNets).
    public var multiple = NetworkSize.generatorMultiple
    /// `--max_pixels`: the most pixels an image may have, as read or on the way.
    public var maxPixels = ImageIO.defaultMaxPixels

    public init() {}

    /// The sizes a w×h image goes through: after the resize step (the image itself when
    /// there is none) and at the end. The transform itself follows the same arithmetic.
    public func sizes(width w: Int, height h: Int) -> (resized: (width: Int, height: Int), output: (width: Int, height: Int)) {
        var resized = (width: w, height: h)
        switch preprocess {
        case .resize_and_crop: resized = (loadSize, loadSize)
        case .scale_width, .scale_width_and_crop: resized = scaledWidthSize(w, h, targetWidth: loadSize, cropSize: cropSize)
        case .none: resized = (nearestMultipleOf4(w), nearestMultipleOf4(h))
        case .crop: break
        }
        switch preprocess {
        case .resize_and_crop, .crop, .scale_width_and_crop:
            return (resized, (min(cropSize, resized.width), min(cropSize, resized.height)))
        case .scale_width, .none:
            return (resized, resized)
        }
    }

    /// Why a w×h image cannot be made into a training input with these options (naming the
    /// option to change), or nil if it can: every image the transform makes on the way must
    /// stay within `maxPixels`, and what reaches the networks must have sides that are
    /// multiples of `multiple` and at least `minimumSide`.
    public func sizeProblem(width w: Int, height h: Int) -> String? {
        let (resized, out) = sizes(width: w, height: h)
        let made = "--preprocess \(preprocess.rawValue) makes it"
        if pixelCount(resized.width, resized.height) > maxPixels {
            return "\(made) \(resized.width)x\(resized.height), more than --max_pixels \(maxPixels)"
        }
        if preprocess != .scale_width && preprocess != .none && min(resized.width, resized.height) < cropSize {
            return preprocess == .crop
                ? "smaller than --crop_size \(cropSize): lower --crop_size, or use --preprocess resize_and_crop"
                : "\(made) \(resized.width)x\(resized.height), smaller than --crop_size \(cropSize): raise --load_size"
        }
        let fits = out.width % multiple == 0 && out.height % multiple == 0
            && min(out.width, out.height) >= minimumSide
        if fits { return nil }
        let need = "the networks need sides that are multiples of \(multiple) and at least \(minimumSide)"
        switch preprocess {
        case .scale_width:
            return "\(made) \(out.width)x\(out.height), but \(need): use --preprocess scale_width_and_crop, "
                + "or another --load_size (and --crop_size, the least height)"
        case .none:
            return "\(made) \(out.width)x\(out.height) (each side to the nearest multiple of 4), but \(need): "
                + "use --preprocess resize_and_crop" + (multiple > 4 ? ", or a resnet --netG" : ", or a --netD that takes smaller images")
        case .resize_and_crop, .crop, .scale_width_and_crop:
            return "\(made) \(out.width)x\(out.height), but \(need): change --crop_size"
        }
    }
}

/// Applies the official training transform to an RGB (or gray) image and returns the
/// values in CHW order scaled to [-1, 1] (`x / 127.5 - 1`), with shape [channels, h, w].
///
/// All randomness comes from `rng`, drawn in a fixed order: the crop's x then y offsets
/// (modes with a crop, each uniform in 0...max(0, side - crop_size)), then one uniform
/// for the flip (when `flip` is on; flipped when below 0.5).
public func applyTransform(_ image: Image, _ options: TransformOptions,
                           rng: inout RandomStream) -> (values: [Float], shape: [Int]) {
    let img = transformImage(image, options, rng: &rng)
    return (chwValues(img), [img.channels, img.height, img.width])
}

/// `applyTransform` before the conversion to floats: the transformed 8-bit image.
public func transformImage(_ image: Image, _ options: TransformOptions, rng: inout RandomStream) -> Image {
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
    return img
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
    let (w, h) = scaledWidthSize(image.width, image.height, targetWidth: targetWidth, cropSize: cropSize)
    if w == image.width && h == image.height { return image }
    return resizeBicubic(image, width: w, height: h)
}

/// w·h as an unsigned count, saturating instead of trapping for sides no image has.
func pixelCount(_ w: Int, _ h: Int) -> UInt64 {
    let (p, overflow) = UInt64(max(0, w)).multipliedReportingOverflow(by: UInt64(max(0, h)))
    return overflow ? UInt64.max : p
}

/// The size `scaleWidth` gives an ow×oh image (the image's own when its width is already
/// `targetWidth` and its height at least `cropSize`).
func scaledWidthSize(_ ow: Int, _ oh: Int, targetWidth: Int, cropSize: Int) -> (width: Int, height: Int) {
    if ow == targetWidth && oh >= cropSize { return (ow, oh) }
    // clamped: a height past any image's is refused by the pixel cap, never converted as Inf
    return (targetWidth, Int(min(max(Double(targetWidth) * Double(oh) / Double(max(ow, 1)), Double(cropSize)), Double(1 << 40))))
}

/// The official `__make_power_2` with base 4: each side to `round(side / 4) * 4`, where
/// Python's round takes halves to even (6 → 8, 10 → 8). A side below 2 would round to 0,
/// which PIL refuses; we make it 4.
func resizeToMultipleOf4(_ image: Image) -> Image {
    let (w, h) = (nearestMultipleOf4(image.width), nearestMultipleOf4(image.height))
    if w == image.width && h == image.height { return image }
    return resizeBicubic(image, width: w, height: h)
}

/// `side` rounded to the nearest multiple of 4 as `resizeToMultipleOf4` does (at least 4).
func nearestMultipleOf4(_ side: Int) -> Int { max(4, Int((Double(side) / 4).rounded(.toNearestOrEven)) * 4) }

/// `image` grown to width × height (each at least the image's) by extending it past its
/// right and bottom edges: mirrored without repeating the edge (PyTorch's reflect padding)
/// as far as the image allows, then repeating the last pixel so mirrored. Cropping the
/// top-left image.width × image.height window gives the image back.
public func padEdges(_ image: Image, width: Int, height: Int) -> Image {
    precondition(width >= image.width && height >= image.height, "padEdges cannot shrink an image")
    if width == image.width && height == image.height { return image }
    // Source index for index i ≥ side: 2·side − 2 − i (reflect), at least 0 (then repeat).
    func source(_ i: Int, _ side: Int) -> Int { i < side ? i : max(0, 2 * side - 2 - i) }
    let c = image.channels
    var out = [UInt8](repeating: 0, count: width * height * c)
    for y in 0..<height {
        let sy = source(y, image.height)
        for x in 0..<width {
            let from = (sy * image.width + source(x, image.width)) * c, to = (y * width + x) * c
            for ch in 0..<c { out[to + ch] = image.pixels[from + ch] }
        }
    }
    return Image(width: width, height: height, channels: c, pixels: out)
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
