/// Instance norm on the CPU reference; the twin of Kernels/instance_norm.cl.
extension CPUBackend {
    public func instanceNormForward(x: Buffer, y: Buffer, mean: Buffer, rstd: Buffer,
                                    planes: Int, hw: Int, eps: Float) {
        let xp = ptr(x), yp = ptr(y), mp = ptr(mean), rp = ptr(rstd)
        parallelFor(planes) { p in
            let base = p * hw
            var s = 0.0
            for i in 0..<hw { s += Double(xp[base + i]) }
            let mu = s / Double(hw)
            var v = 0.0
            for i in 0..<hw { let d = Double(xp[base + i]) - mu; v += d * d }
            let r = 1 / (v / Double(hw) + Double(eps)).squareRoot()
            for i in 0..<hw { yp[base + i] = Float((Double(xp[base + i]) - mu) * r) }
            mp[p] = Float(mu)
            rp[p] = Float(r)
        }
    }

    /// gx = rstd·(gy − mean(gy) − y·mean(gy·y)), y the normalised output.
    public func instanceNormBackward(y: Buffer, gy: Buffer, rstd: Buffer, gx: Buffer, planes: Int, hw: Int) {
        let yp = ptr(y), gp = ptr(gy), rp = ptr(rstd), gxp = ptr(gx)
        parallelFor(planes) { p in
            let base = p * hw
            var a = 0.0, b = 0.0
            for i in 0..<hw { a += Double(gp[base + i]); b += Double(gp[base + i]) * Double(yp[base + i]) }
            let meanGy = a / Double(hw), meanGyy = b / Double(hw), r = Double(rp[p])
            for i in 0..<hw {
                gxp[base + i] = Float(r * (Double(gp[base + i]) - meanGy - Double(yp[base + i]) * meanGyy))
            }
        }
    }
}
