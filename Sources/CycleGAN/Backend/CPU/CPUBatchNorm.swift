/// Batch norm on the CPU reference; the twin of Kernels/batch_norm.cl. Sums in Double.
extension CPUBackend {
    public func batchNormStatistics(x: Buffer, mean: Buffer, rstd: Buffer, running: (mean: Buffer, var: Buffer)?,
                                    n: Int, c: Int, hw: Int, eps: Float, momentum: Float) {
        let xp = ptr(x), mp = ptr(mean), rp = ptr(rstd)
        let m = Double(n * hw)
        parallelFor(c) { ch in
            var s = 0.0
            for b in 0..<n { let base = (b * c + ch) * hw; for i in 0..<hw { s += Double(xp[base + i]) } }
            let mu = s / m
            var v = 0.0
            for b in 0..<n { let base = (b * c + ch) * hw; for i in 0..<hw { let d = Double(xp[base + i]) - mu; v += d * d } }
            let variance = v / m
            mp[ch] = Float(mu)
            rp[ch] = Float(1 / (variance + Double(eps)).squareRoot())
            if let running {
                let rm = self.ptr(running.mean), rv = self.ptr(running.var)
                let unbiased = Float(v / (m - 1))
                rm[ch] = momentum * Float(mu) + (1 - momentum) * rm[ch]
                rv[ch] = momentum * unbiased + (1 - momentum) * rv[ch]
            }
        }
    }

    public func batchNormEvalStatistics(runningMean: Buffer, runningVar: Buffer, mean: Buffer, rstd: Buffer, c: Int, eps: Float) {
        let rm = ptr(runningMean), rv = ptr(runningVar), mp = ptr(mean), rp = ptr(rstd)
        for ch in 0..<c {
            mp[ch] = rm[ch]
            rp[ch] = 1 / (rv[ch] + eps).squareRoot()
        }
    }

    public func batchNormForward(x: Buffer, y: Buffer, mean: Buffer, rstd: Buffer, weight: Buffer, bias: Buffer,
                                 n: Int, c: Int, hw: Int) {
        let xp = ptr(x), yp = ptr(y), mp = ptr(mean), rp = ptr(rstd), wp = ptr(weight), bp = ptr(bias)
        parallelFor(n * c) { plane in
            let ch = plane % c, base = plane * hw
            for i in 0..<hw { yp[base + i] = (xp[base + i] - mp[ch]) * rp[ch] * wp[ch] + bp[ch] }
        }
        stored(y)
    }

    public func batchNormBackward(x: Buffer, gy: Buffer, mean: Buffer, rstd: Buffer, weight: Buffer,
                                  gx: Buffer, gweight: Buffer, gbias: Buffer, n: Int, c: Int, hw: Int, training: Bool) {
        let xp = ptr(x), gp = ptr(gy), mp = ptr(mean), rp = ptr(rstd), wp = ptr(weight)
        let gxp = ptr(gx), gwp = ptr(gweight), gbp = ptr(gbias)
        let m = Double(n * hw)
        parallelFor(c) { ch in
            let mu = mp[ch], r = rp[ch]
            var a = 0.0, b = 0.0
            for s in 0..<n {
                let base = (s * c + ch) * hw
                for i in 0..<hw { let g = Double(gp[base + i]); a += g; b += g * Double((xp[base + i] - mu) * r) }
            }
            gbp[ch] = Float(a)
            gwp[ch] = Float(b)
            let scale = Double(wp[ch]) * Double(r)
            for s in 0..<n {
                let base = (s * c + ch) * hw
                for i in 0..<hw {
                    let g = Double(gp[base + i])
                    if !training { gxp[base + i] = Float(scale * g); continue }
                    let xhat = Double((xp[base + i] - mu) * r)
                    gxp[base + i] = Float(scale * (g - (a + xhat * b) / m))
                }
            }
        }
        stored(gx)
    }
}
