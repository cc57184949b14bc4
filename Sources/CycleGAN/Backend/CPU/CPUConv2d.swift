/// Convolution on the CPU reference, one plain loop nest per pass, reflect padding in the
/// index arithmetic: the twin of conv2d.cl's direct kernels (conv2d_forward, …), and the
/// reference of the GEMM and Winograd paths too (Kernels/README.md).
extension CPUBackend {
    /// Maps a padded coordinate back into [0, n) by reflection (edge not repeated).
    @inline(__always) static func reflectIndex(_ i: Int, _ n: Int) -> Int {
        i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i)
    }

    /// The input index read by padded coordinate `o*stride - pad + tap`, or nil for a zero pad.
    @inline(__always) static func inputIndex(_ i: Int, _ n: Int, _ padding: Conv2dGeometry.Padding) -> Int? {
        if padding == .reflect { return reflectIndex(i, n) }
        return (i < 0 || i >= n) ? nil : i
    }

    /// A convolution's operand as its products read it: under `tf32` rounded to TF32; a
    /// weight beside FP16 activations rounded to FP16 (autocast's `weight.half()`); else
    /// the buffer itself. A rounded copy lives as long as `keep`.
    func operand(_ b: Buffer, weightBeside activation: Buffer? = nil, keep: inout [[Float]]) -> UnsafePointer<Float> {
        let round: ((Float) -> Float)?
        if precision == .tf32 { round = Rounding.tf32 }
        else if let a = activation, a.dtype == .float16, b.dtype == .float32 { round = Rounding.half }
        else { round = nil }
        guard let round else { return UnsafePointer(ptr(b)) }
        keep.append(UnsafeBufferPointer(start: ptr(b), count: b.count).map(round))
        return keep.last!.withUnsafeBufferPointer { $0.baseAddress! }
    }

    public func conv2dForward(x: Buffer, weight: Buffer, bias: Buffer?, y: Buffer, _ g: Conv2dGeometry) {
        var keep: [[Float]] = []
        let xp = operand(x, keep: &keep), wp = operand(weight, weightBeside: x, keep: &keep)
        let yp = ptr(y), bp = bias.map { ptr($0) }
        let (oh, ow) = (g.oh, g.ow)
        parallelFor(g.n * g.k) { nk in
            let n = nk / g.k, k = nk % g.k
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var acc = 0.0
                    for c in 0..<g.c {
                        for ky in 0..<g.kh {
                            guard let iy = Self.inputIndex(oy * g.stride - g.pad + ky, g.h, g.padding) else { continue }
                            for kx in 0..<g.kw {
                                guard let ix = Self.inputIndex(ox * g.stride - g.pad + kx, g.w, g.padding) else { continue }
                                acc += Double(xp[((n * g.c + c) * g.h + iy) * g.w + ix])
                                     * Double(wp[((k * g.c + c) * g.kh + ky) * g.kw + kx])
                            }
                        }
                    }
                    if let bp { acc += Double(bp[k]) }
                    yp[((n * g.k + k) * oh + oy) * ow + ox] = Float(acc)
                }
            }
        }
        stored(y)
        withExtendedLifetime(keep) {}
    }

    /// Scatters every output gradient back along the same index map the forward read
    /// through (reflect padding included), so mirrored borders collect their share.
    public func conv2dBackwardData(gy: Buffer, weight: Buffer, gx: Buffer, _ g: Conv2dGeometry) {
        var keep: [[Float]] = []
        let gp = operand(gy, keep: &keep), wp = operand(weight, weightBeside: gy, keep: &keep), gxp = ptr(gx)
        let (oh, ow) = (g.oh, g.ow)
        parallelFor(g.n) { n in
            var acc = [Double](repeating: 0, count: g.c * g.h * g.w)
            for k in 0..<g.k {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let go = Double(gp[((n * g.k + k) * oh + oy) * ow + ox])
                        for c in 0..<g.c {
                            for ky in 0..<g.kh {
                                guard let iy = Self.inputIndex(oy * g.stride - g.pad + ky, g.h, g.padding) else { continue }
                                for kx in 0..<g.kw {
                                    guard let ix = Self.inputIndex(ox * g.stride - g.pad + kx, g.w, g.padding) else { continue }
                                    acc[(c * g.h + iy) * g.w + ix] += go * Double(wp[((k * g.c + c) * g.kh + ky) * g.kw + kx])
                                }
                            }
                        }
                    }
                }
            }
            for i in 0..<acc.count { gxp[n * acc.count + i] = Float(acc[i]) }
        }
        stored(gx)
        withExtendedLifetime(keep) {}
    }

    /// The weight gradient is stored in FP32 under every precision (the master weights').
    public func conv2dBackwardWeight(x: Buffer, gy: Buffer, gw: Buffer, _ g: Conv2dGeometry) {
        var keep: [[Float]] = []
        let xp = operand(x, keep: &keep), gp = operand(gy, keep: &keep), gwp = ptr(gw)
        let (oh, ow) = (g.oh, g.ow)
        parallelFor(g.k * g.c) { kc in
            let k = kc / g.c, c = kc % g.c
            for ky in 0..<g.kh {
                for kx in 0..<g.kw {
                    var acc = 0.0
                    for n in 0..<g.n {
                        for oy in 0..<oh {
                            guard let iy = Self.inputIndex(oy * g.stride - g.pad + ky, g.h, g.padding) else { continue }
                            for ox in 0..<ow {
                                guard let ix = Self.inputIndex(ox * g.stride - g.pad + kx, g.w, g.padding) else { continue }
                                acc += Double(xp[((n * g.c + c) * g.h + iy) * g.w + ix])
                                     * Double(gp[((n * g.k + k) * oh + oy) * ow + ox])
                            }
                        }
                    }
                    gwp[((k * g.c + c) * g.kh + ky) * g.kw + kx] = Float(acc)
                }
            }
        }
        stored(gw)
        withExtendedLifetime(keep) {}
    }

    public func channelSum(_ x: Buffer, out: Buffer, n: Int, c: Int, hw: Int) {
        let xp = ptr(x), op = ptr(out)
        for ch in 0..<c {
            var acc = 0.0
            for b in 0..<n { for i in 0..<hw { acc += Double(xp[(b * c + ch) * hw + i]) } }
            op[ch] = Float(acc)
        }
    }

    public func addChannelBias(_ y: Buffer, bias: Buffer, n: Int, c: Int, hw: Int) {
        let yp = ptr(y), bp = ptr(bias)
        for plane in 0..<(n * c) {
            for i in 0..<hw { yp[plane * hw + i] += bp[plane % c] }
        }
        stored(y)
    }
}
