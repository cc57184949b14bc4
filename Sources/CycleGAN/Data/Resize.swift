/// Image resampling and colour conversion, reproducing PIL (Pillow's `Resample.c` and
/// `Convert.c`) to the level, so that our preprocessing feeds the networks the same
/// numbers as the official PyTorch code.

/// PIL's `Image.resize((width, height), Image.BICUBIC)` for 8-bit images.
///
/// Separable: a horizontal pass, then a vertical one, each skipped when that side keeps
/// its size; as in Pillow 13, the vertical pass goes first when the height shrinks by more
/// than twice as many pixels as the width (the order changes the rounding between the
/// passes, so it matters for exactness). Each output sample is a weighted sum of the input samples under a cubic
/// kernel (a = -0.5) centred on it; when shrinking, the kernel is widened by the shrink
/// factor so every input pixel contributes (antialiasing). The weights are normalised to
/// sum to one, converted to 22-bit fixed point, and every pass rounds and clips to 8 bits.
public func resizeBicubic(_ image: Image, width: Int, height: Int) -> Image {
    precondition(width > 0 && height > 0, "cannot resize to \(width)x\(height)")
    let shrinkH = image.height - height, shrinkW = image.width - width
    let verticalFirst = shrinkH > 0 && shrinkH > shrinkW * 2
    var result = image
    for horizontal in verticalFirst ? [false, true] : [true, false] {
        if horizontal && width != image.width {
            result = resamplePass(result, kernel: ResampleKernel(inSize: image.width, outSize: width), horizontal: true)
        } else if !horizontal && height != image.height {
            result = resamplePass(result, kernel: ResampleKernel(inSize: image.height, outSize: height), horizontal: false)
        }
    }
    return result
}

/// PIL's `convert("L")` of an RGB image: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16,
/// the ITU-R 601-2 luma (299/587/114 per mille) in 16-bit fixed point. Gray stays as is.
public func toGrayscale(_ image: Image) -> Image {
    if image.channels == 1 { return image }
    let n = image.width * image.height
    var out = [UInt8](repeating: 0, count: n)
    image.pixels.withUnsafeBufferPointer { p in
        for i in 0..<n {
            let r = Int(p[3 * i]), g = Int(p[3 * i + 1]), b = Int(p[3 * i + 2])
            out[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
        }
    }
    return Image(width: image.width, height: image.height, channels: 1, pixels: out)
}

/// Fixed-point bits of the resampling weights (PIL's PRECISION_BITS = 32 - 8 - 2: room for
/// 8-bit samples and for sums that overshoot, since the cubic kernel has negative lobes).
private let precisionBits = 22

/// The weights of one resampling pass along one axis (PIL's `precompute_coeffs` followed
/// by `normalize_coeffs_8bpc`): output sample i reads `count[i]` input samples from
/// `first[i]` on, with weights `weights[i * size ..< i * size + count[i]]`.
private struct ResampleKernel {
    var size: Int
    var first: [Int]
    var count: [Int]
    var weights: [Int]

    init(inSize: Int, outSize: Int) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)  // widen the kernel only when shrinking
        let support = 2.0 * filterScale    // the bicubic kernel's support is 2
        size = Int(support.rounded(.up)) * 2 + 1
        first = [Int](repeating: 0, count: outSize)
        count = [Int](repeating: 0, count: outSize)
        weights = [Int](repeating: 0, count: outSize * size)
        var k = [Double](repeating: 0, count: size)
        for i in 0..<outSize {
            let center = (Double(i) + 0.5) * scale
            // PIL rounds the window ends by truncating x + 0.5 (towards zero).
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), inSize)
            let ss = 1.0 / filterScale  // PIL multiplies by the reciprocal: keep its rounding
            var total = 0.0
            for x in 0..<(hi - lo) {
                k[x] = bicubic((Double(x + lo) - center + 0.5) * ss)
                total += k[x]
            }
            for x in 0..<(hi - lo) {
                var w = k[x]
                if total != 0 { w /= total }
                // To fixed point, rounding half away from zero as PIL does.
                let scaled = w * Double(1 << precisionBits)
                weights[i * size + x] = Int(w < 0 ? scaled - 0.5 : scaled + 0.5)
            }
            first[i] = lo
            count[i] = hi - lo
        }
    }

    /// The cubic convolution kernel with a = -0.5 (Keys), support 2.
    private func bicubic(_ t: Double) -> Double {
        let a = -0.5
        let x = abs(t)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }
}

/// One pass of PIL's `ImagingResampleHorizontal_8bpc` / `ImagingResampleVertical_8bpc`.
private func resamplePass(_ image: Image, kernel: ResampleKernel, horizontal: Bool) -> Image {
    let c = image.channels
    let outW = horizontal ? kernel.first.count : image.width
    let outH = horizontal ? image.height : kernel.first.count
    // Distance between consecutive input samples along the axis being resampled.
    let step = horizontal ? c : image.width * c
    var out = [UInt8](repeating: 0, count: outW * outH * c)
    image.pixels.withUnsafeBufferPointer { src in
        kernel.weights.withUnsafeBufferPointer { w in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outH {
                    for x in 0..<outW {
                        let i = horizontal ? x : y  // which output sample along the axis
                        let n = kernel.count[i]
                        let wBase = i * kernel.size
                        // The first input sample under the kernel, for channel 0.
                        let sBase = horizontal
                            ? (y * image.width + kernel.first[i]) * c
                            : (kernel.first[i] * image.width + x) * c
                        for ch in 0..<c {
                            var sum = 1 << (precisionBits - 1)  // rounds the final shift
                            var s = sBase + ch
                            for j in 0..<n {
                                sum += Int(src[s]) * w[wBase + j]
                                s += step
                            }
                            dst[(y * outW + x) * c + ch] = clip8(sum)
                        }
                    }
                }
            }
        }
    }
    return Image(width: outW, height: outH, channels: c, pixels: out)
}

/// A fixed-point sum back to 8 bits, clipped to 0...255.
@inline(__always)
private func clip8(_ v: Int) -> UInt8 {
    if v <= 0 { return 0 }
    if v >= 256 << precisionBits { return 255 }
    return UInt8(v >> precisionBits)
}
