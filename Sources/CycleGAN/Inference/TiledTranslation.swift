import Foundation

/// A ResNet generator's forward over an image too large to hold at once (`--max_memory`),
/// layer by layer, each convolution over bands of output rows with the halo its kernel
/// needs. Activations between layers are host `ActivationStore`s, in memory within half the
/// budget and in spill files beyond it. Every instance norm takes its statistics over the
/// whole image (accumulated band by band, merged as Chan's parallel variance) before the
/// next layer reads it, normalised on the way in: the result is the untiled translation's,
/// up to the rounding of the statistics (computed in Double here, in float on the device).
/// Under `--precision mixed` the values the untiled forward stores in FP16 and reads again
/// other than through a convolution (which casts its input itself) are rounded to FP16 here
/// too: each residual block's output and the final tanh.
final class TiledTranslation {
    let backend: Backend
    /// What storing an activation does to a value: FP16 rounding under `mixed`.
    private var stored: (Float) -> Float { backend.precision == .mixed ? Rounding.half : { $0 } }
    /// Bytes the translation may hold on the host and the device, spill files apart.
    let budget: Int
    let spillDirectory: String
    /// Called after each band: (layer, layers, band, bands).
    var progress: (Int, Int, Int, Int) -> Void = { _, _, _, _ in }
    private var inMemoryBytes = 0
    /// Bytes written to spill files (each store counted once).
    private(set) var spilledBytes = 0
    private var layer = 0, layers = 0

    init(backend: Backend, budget: Int, spillDirectory: String) {
        self.backend = backend; self.budget = budget; self.spillDirectory = spillDirectory
    }

    /// What a layer reads: a stored activation, optionally normalised per channel (mean,
    /// 1/σ) and passed through a ReLU as it is read.
    struct Input {
        let store: ActivationStore
        var norm: (mean: [Float], rstd: [Float])? = nil
        var relu = false
        var channels: Int { store.channels }
        var height: Int { store.height }
        var width: Int { store.width }

        func read(channel c: Int, rows: Range<Int>, into p: UnsafeMutablePointer<Float>) throws {
            try store.read(channel: c, rows: rows, into: p)
            guard let norm else { return }
            let m = norm.mean[c], r = norm.rstd[c], n = rows.count * store.width
            // as instance_norm_apply and its fused ReLU compute them
            for i in 0..<n {
                let v = (p[i] - m) * r
                p[i] = relu ? (v > 0 ? v : 0 * v) : v
            }
        }
    }

    private func makeStore(_ c: Int, _ h: Int, _ w: Int) throws -> ActivationStore {
        let bytes = c * h * w * 4
        if inMemoryBytes + bytes <= budget / 2 {
            inMemoryBytes += bytes
            return ActivationStore(channels: c, height: h, width: w)
        }
        spilledBytes += bytes
        return try ActivationStore(channels: c, height: h, width: w, spillingTo: spillDirectory)
    }

    private func release(_ s: ActivationStore) { if s.inMemory { inMemoryBytes -= s.byteCount } }

    /// Output rows per band of a layer whose output row costs `perRow` bytes in flight (host and
    /// device copies of its input rows and its output row), within a quarter of the budget.
    private func bandRows(perRow: Int, total: Int) -> Int { max(1, min(total, (budget / 4) / max(1, perRow))) }

    /// Per-channel statistics merged band by band (Chan et al.): count, mean, sum of squared deviations.
    private struct Statistics {
        var n: [Double], mean: [Double], m2: [Double]
        init(_ c: Int) { n = Array(repeating: 0, count: c); mean = n; m2 = n }
        mutating func add(_ values: [Float], channels: Int, perChannel: Int) {
            for c in 0..<channels {
                var s = 0.0
                for i in 0..<perChannel { s += Double(values[c * perChannel + i]) }
                let mb = s / Double(perChannel)
                var q = 0.0
                for i in 0..<perChannel { let d = Double(values[c * perChannel + i]) - mb; q += d * d }
                let nb = Double(perChannel), nt = n[c] + nb, d = mb - mean[c]
                mean[c] += d * nb / nt
                m2[c] += q + d * d * n[c] * nb / nt
                n[c] = nt
            }
        }
        func normalisation(eps: Double = 1e-5) -> (mean: [Float], rstd: [Float]) {
            (mean.map { Float($0) }, zip(m2, n).map { Float(1 / ($0 / $1 + eps).squareRoot()) })
        }
    }

    /// Why an image `width` wide cannot be translated in bands within `budget` bytes with a
    /// generator of width `ngf`, or nil: a band of one output row of its widest layers (the
    /// 7×7 convolutions over ngf channels) must fit a quarter of the budget, and its padded
    /// planes the kernels' 32-bit offsets.
    static func problem(width: Int, ngf: Int, budget: Int) -> String? {
        let rowBytes = 4 * (2 * ngf * 7 * (width + 6) + 2 * ngf * width)
        if ngf * 7 * (width + 6) >= Int(Int32.max) / 2 { return "an image \(width) pixels wide is too wide to translate in bands of rows" }
        if rowBytes > budget / 4 {
            return "an image \(width) pixels wide needs at least \(4 * rowBytes >> 20) MiB to translate in bands of rows; raise --max_memory"
        }
        return nil
    }

    /// The generator's output for `image` ([c][h][w] in [-1, 1]), [outputNC][h][w].
    func run(_ g: ResnetGenerator, image: [Float], channels: Int, height: Int, width: Int) throws -> [Float] {
        layers = 3 + 3 * g.blocks.count + 3
        layer = 0
        let inputStore = ActivationStore(channels: channels, height: height, width: width)
        try image.withUnsafeBufferPointer { try inputStore.write(channel: 0, rows: 0..<height * channels, from: $0.baseAddress!) }
        var x = Input(store: inputStore)
        func normalised(_ conv: (ActivationStore, Statistics?)) -> Input {
            Input(store: conv.0, norm: conv.1!.normalisation(), relu: true)
        }
        x = normalised(try convolve(x, g.convIn, statistics: true))
        for conv in [g.down1, g.down2] {
            let next = normalised(try convolve(x, conv, statistics: true))
            release(x.store)
            x = next
        }
        for b in g.blocks {
            let h = normalised(try convolve(x, b.conv1, statistics: true))
            let (raw, stats) = try convolve(h, b.conv2, statistics: true)
            release(h.store)
            let out = try addSkip(x, raw, stats!.normalisation())
            release(raw); release(x.store)
            x = Input(store: out)
        }
        for up in [g.up1, g.up2] {
            let next = normalised(try convolveTransposed(x, up))
            release(x.store)
            x = next
        }
        let (out, _) = try convolve(x, g.convOut, statistics: false)
        release(x.store)
        release(out)
        var values = try out.takeAll()
        let stored = stored
        for i in values.indices { values[i] = stored(Foundation.tanh(stored(values[i]))) }
        return values
    }

    /// The raw output of `conv` over `x` (bias included), and its statistics when asked.
    private func convolve(_ x: Input, _ conv: Conv2d, statistics: Bool) throws -> (ActivationStore, Statistics?) {
        layer += 1
        let k = conv.weight.shape[2], cout = conv.weight.shape[0], cin = x.channels
        let s = conv.stride, p = conv.padding, reflect = conv.paddingMode == .reflect
        let (h, w) = (x.height, x.width)
        let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1, wp = w + 2 * p
        let out = try makeStore(cout, oh, ow)
        var stats = statistics ? Statistics(cout) : nil
        let band = bandRows(perRow: 4 * (2 * cin * s * wp + 2 * cout * ow), total: oh)
        let bands = (oh + band - 1) / band
        for (bi, o0) in stride(from: 0, to: oh, by: band).enumerated() {
            let o1 = min(oh, o0 + band), rows = s * (o1 - o0 - 1) + k
            // the padded rows s·o0 ..< s·o0 + rows, each an input row (reflected) or zeros
            let sources = (0..<rows).map { i -> Int? in
                let iy = s * o0 + i - p
                if reflect { return CPUBackend.reflectIndex(iy, h) }
                return iy >= 0 && iy < h ? iy : nil
            }
            let used = sources.compactMap { $0 }
            var padded = [Float](repeating: 0, count: cin * rows * wp)
            if let lo = used.min(), let hi = used.max() {
                var plane = [Float](repeating: 0, count: (hi - lo + 1) * w)
                for c in 0..<cin {
                    try plane.withUnsafeMutableBufferPointer { try x.read(channel: c, rows: lo..<hi + 1, into: $0.baseAddress!) }
                    for (i, src) in sources.enumerated() {
                        guard let src else { continue }
                        let rowBase = (c * rows + i) * wp, srcBase = (src - lo) * w
                        for px in 0..<wp {
                            let ix = px - p
                            if reflect { padded[rowBase + px] = plane[srcBase + CPUBackend.reflectIndex(ix, w)] }
                            else if ix >= 0 && ix < w { padded[rowBase + px] = plane[srcBase + ix] }
                        }
                    }
                }
            }
            let y = withNoGrad {
                Tensor(shape: [1, cin, rows, wp], values: padded, on: backend).conv2d(conv.weight, bias: conv.bias, stride: s, padding: 0)
            }
            let values = y.toArray()
            try backend.throwIfFailed()
            try values.withUnsafeBufferPointer { v in
                for c in 0..<cout { try out.write(channel: c, rows: o0..<o1, from: v.baseAddress! + c * (o1 - o0) * ow) }
            }
            stats?.add(values, channels: cout, perChannel: (o1 - o0) * ow)
            progress(layer, layers, bi + 1, bands)
        }
        return (out, stats)
    }

    /// The transposed convolution's output over `x` (bias included), and its statistics.
    /// Output row o is row o + padding of the uncropped output, which input rows i with
    /// s·i ≤ o + padding < s·i + k reach: each band runs those input rows unpadded and keeps
    /// its rows and columns of the uncropped result.
    private func convolveTransposed(_ x: Input, _ conv: ConvTranspose2d) throws -> (ActivationStore, Statistics?) {
        layer += 1
        let k = conv.weight.shape[2], cout = conv.weight.shape[1], cin = x.channels
        let s = conv.stride, p = conv.padding, (h, w) = (x.height, x.width)
        // (every output row then has an input row, and lies within the uncropped output or its padding)
        guard k >= s && conv.outputPadding <= p else {
            throw OptionError("tiled translation supports transposed convolutions with kernel >= stride and output_padding <= padding")
        }
        let oh = (h - 1) * s - 2 * p + k + conv.outputPadding, ow = (w - 1) * s - 2 * p + k + conv.outputPadding
        let fullW = (w - 1) * s + k
        let out = try makeStore(cout, oh, ow)
        var stats = Statistics(cout)
        let bias = conv.bias?.toArray() ?? [Float](repeating: 0, count: cout)
        let band = bandRows(perRow: 4 * (2 * cin * w / s + 3 * cout * fullW), total: oh)
        let bands = (oh + band - 1) / band
        for (bi, o0) in stride(from: 0, to: oh, by: band).enumerated() {
            let o1 = min(oh, o0 + band), uLo = o0 + p, uHi = o1 + p - 1
            let i0 = max(0, (uLo - k + 1 + s - 1).floorDiv(s)), i1 = min(h, uHi / s + 1)
            var input = [Float](repeating: 0, count: cin * (i1 - i0) * w)
            try input.withUnsafeMutableBufferPointer { b in
                for c in 0..<cin { try x.read(channel: c, rows: i0..<i1, into: b.baseAddress! + c * (i1 - i0) * w) }
            }
            let y = withNoGrad {
                Tensor(shape: [1, cin, i1 - i0, w], values: input, on: backend).convTranspose2d(conv.weight, bias: conv.bias, stride: s, padding: 0)
            }
            let full = y.toArray()
            try backend.throwIfFailed()
            let fullH = (i1 - i0 - 1) * s + k, rows = o1 - o0
            var values = [Float](repeating: 0, count: cout * rows * ow)
            for c in 0..<cout {
                for r in 0..<rows {
                    let u = o0 + r + p - s * i0  // the uncropped row, local to this band's result
                    for j in 0..<ow {
                        let v = j + p  // the uncropped column
                        values[(c * rows + r) * ow + j] = u < fullH && v < fullW ? full[(c * fullH + u) * fullW + v] : bias[c]
                    }
                }
            }
            try values.withUnsafeBufferPointer { v in
                for c in 0..<cout { try out.write(channel: c, rows: o0..<o1, from: v.baseAddress! + c * rows * ow) }
            }
            stats.add(values, channels: cout, perChannel: rows * ow)
            progress(layer, layers, bi + 1, bands)
        }
        return (out, stats)
    }

    /// skip + (raw − mean)·rstd: the residual block's output, written to a new store.
    private func addSkip(_ skip: Input, _ raw: ActivationStore, _ norm: (mean: [Float], rstd: [Float])) throws -> ActivationStore {
        layer += 1
        let (c, h, w) = (raw.channels, raw.height, raw.width)
        let out = try makeStore(c, h, w)
        let band = bandRows(perRow: 4 * 3 * c * w, total: h)
        var a = [Float](repeating: 0, count: band * w), b = a
        let bands = (h + band - 1) / band
        for (bi, r0) in stride(from: 0, to: h, by: band).enumerated() {
            let r1 = min(h, r0 + band), n = (r1 - r0) * w
            for ch in 0..<c {
                try a.withUnsafeMutableBufferPointer { try skip.read(channel: ch, rows: r0..<r1, into: $0.baseAddress!) }
                try b.withUnsafeMutableBufferPointer { try raw.read(channel: ch, rows: r0..<r1, into: $0.baseAddress!) }
                let m = norm.mean[ch], r = norm.rstd[ch], stored = stored
                for i in 0..<n { a[i] = stored((b[i] - m) * r + a[i]) }  // as the fused kernel: ŷ + skip
                try a.withUnsafeBufferPointer { try out.write(channel: ch, rows: r0..<r1, from: $0.baseAddress!) }
            }
            progress(layer, layers, bi + 1, bands)
        }
        return out
    }
}

extension Int {
    /// ⌊self / d⌋ for d > 0, rounding toward −∞.
    func floorDiv(_ d: Int) -> Int { self >= 0 ? self / d : -((-self + d - 1) / d) }
}
