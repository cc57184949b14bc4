/// The fused Adam step on the CPU reference; the twin of Kernels/adam.cl.
extension CPUBackend {
    public func adamStep(param: Buffer, grad: Buffer, m: Buffer, v: Buffer, count: Int, _ s: AdamScalars) {
        let p = ptr(param), g = ptr(grad), mp = ptr(m), vp = ptr(v)
        let w = 1 - s.beta1
        for i in 0..<count {
            let gi = g[i]
            // m.lerp_(g, 1 − β1), in torch's two-branch form
            let mi = w < 0.5 ? mp[i] + w * (gi - mp[i]) : gi - (gi - mp[i]) * (1 - w)
            let vi = vp[i] * s.beta2 + (1 - s.beta2) * gi * gi
            let denom = vi.squareRoot() / s.bc2Sqrt + s.eps
            mp[i] = mi
            vp[i] = vi
            p[i] = p[i] - s.stepSize * (mi / denom)
        }
    }

    public func unscaleCheck(_ grad: Buffer, count: Int, invScale: Float, found: Buffer) {
        let g = ptr(grad)
        for i in 0..<count {
            if !g[i].isFinite { ptr(found)[0] = 1 }
            g[i] *= invScale
        }
    }
}
