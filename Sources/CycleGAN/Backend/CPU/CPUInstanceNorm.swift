/// Instance norm on the CPU reference; the twin of Kernels/instance_norm.cl.
extension CPUBackend {
    public func instanceNormForward(x: Buffer, y: Buffer, mean: Buffer, rstd: Buffer,
                                    planes: Int, hw: Int, eps: Float, epilogue: NormEpilogue) {
        let xp = ptr(x), yp = ptr(y), mp = ptr(mean), rp = ptr(rstd)
        var slope: Float? = nil, res: UnsafeMutablePointer<Float>? = nil
        switch epilogue {
        case .none: break
        case .leakyReLU(let s): slope = s
        case .residual(let b): res = ptr(b)
        }
        parallelFor(planes) { p in
            let base = p * hw
            var s = 0.0
            for i in 0..<hw { s += Double(xp[base + i]) }
            let mu = s / Double(hw)
            var v = 0.0
            for i in 0..<hw { let d = Double(xp[base + i]) - mu; v += d * d }
            let r = 1 / (v / Double(hw) + Double(eps)).squareRoot()
            for i in 0..<hw {
                var yh = Float((Double(xp[base + i]) - mu) * r)
                if let slope { yh = yh > 0 ? yh : slope * yh }  // as leakyReLUForward
                if let res { yh += res[base + i] }
                yp[base + i] = yh
            }
            mp[p] = Float(mu)
            rp[p] = Float(r)
        }
        stored(y)
    }

    /// gx = rstd·(gy − mean(gy) − y·mean(gy·y)), y the normalised output.
    public func instanceNormBackward(y: Buffer, gy: Buffer, rstd: Buffer, gx: Buffer, planes: Int, hw: Int) {
        let yp = ptr(y), gp = ptr(gy)
        normBackward(rstd: rstd, gx: gx, planes: planes, hw: hw) { i, _ in (yp[i], gp[i]) }
        stored(gx)
    }

    /// As above with y = (x − mean)·rstd recomputed, and gy through the LeakyReLU first.
    public func instanceNormBackward(x: Buffer, mean: Buffer, rstd: Buffer, gy: Buffer, gx: Buffer, planes: Int, hw: Int,
                                     slope: Float?) {
        let xp = ptr(x), mp = ptr(mean), rp = ptr(rstd), gp = ptr(gy)
        normBackward(rstd: rstd, gx: gx, planes: planes, hw: hw) { i, p in
            let yh = Float((Double(xp[i]) - Double(mp[p])) * Double(rp[p]))
            guard let slope, !(yh > 0) else { return (yh, gp[i]) }
            return (yh, slope * gp[i])  // as leakyReLUBackward
        }
        stored(gx)
    }

    /// gx = rstd·(g − mean(g) − y·mean(g·y)) with (y, g) = `values(i, plane)` at element i.
    private func normBackward(rstd: Buffer, gx: Buffer, planes: Int, hw: Int,
                              _ values: (Int, Int) -> (y: Float, g: Float)) {
        let rp = ptr(rstd), gxp = ptr(gx)
        parallelFor(planes) { p in
            let base = p * hw
            var a = 0.0, b = 0.0
            for i in 0..<hw { let (y, g) = values(base + i, p); a += Double(g); b += Double(g) * Double(y) }
            let meanGy = a / Double(hw), meanGyy = b / Double(hw), r = Double(rp[p])
            for i in 0..<hw {
                let (y, g) = values(base + i, p)
                gxp[base + i] = Float(r * (Double(g) - meanGy - Double(y) * meanGyy))
            }
        }
    }
}
