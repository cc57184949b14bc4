import Foundation

/// Counter-based random numbers on the CPU reference; the twin of Kernels/random.cl.
/// Element i depends only on (seed, i).
extension CPUBackend {
    /// splitmix64 finaliser of (seed, counter).
    static func mix64(_ seed: UInt64, _ counter: UInt64) -> UInt64 {
        var z = seed &+ (counter &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1) from the top 24 bits.
    static func uniform01(_ seed: UInt64, _ counter: UInt64) -> Float {
        (Float(mix64(seed, counter) >> 40) + 0.5) * (1.0 / 16_777_216.0)
    }

    public func randomUniform(_ y: Buffer, count: Int, seed: UInt64, low: Float, high: Float) {
        let yp = ptr(y)
        for i in 0..<count { yp[i] = low + (high - low) * Self.uniform01(seed, UInt64(i)) }
        stored(y)
    }

    public func randomNormal(_ y: Buffer, count: Int, seed: UInt64, mean: Float, std: Float) {
        let yp = ptr(y)
        for i in 0..<count {
            let u1 = Self.uniform01(seed, 2 * UInt64(i))
            let u2 = Self.uniform01(seed, 2 * UInt64(i) + 1)
            let r = (-2 * Foundation.log(u1)).squareRoot()
            yp[i] = mean + std * r * Foundation.cos(6.283185307179586 * u2)
        }
        stored(y)
    }
}

/// Dropout on the CPU reference; the twin of dropout_forward / dropout_backward in
/// Kernels/random.cl: element i kept iff uniform01(seed, i) ≥ p, scaled by 1/(1 − p).
extension CPUBackend {
    public func dropoutForward(x: Buffer, y: Buffer, p: Float, seed: UInt64, count: Int) {
        let xp = ptr(x), yp = ptr(y), scale = 1 / (1 - p)
        for i in 0..<count { yp[i] = Self.uniform01(seed, UInt64(i)) >= p ? xp[i] * scale : 0 }
        stored(y)
    }

    public func dropoutBackward(gy: Buffer, gx: Buffer, p: Float, seed: UInt64, count: Int) {
        dropoutForward(x: gy, y: gx, p: p, seed: seed, count: count)
        stored(gx)
    }
}
