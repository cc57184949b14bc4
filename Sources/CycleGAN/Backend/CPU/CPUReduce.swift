import Foundation

/// Sums and loss values on the CPU reference, accumulated in Double; the twin of
/// Kernels/reduce.cl.
extension CPUBackend {
    /// Σ term(i) for i in 0..<count, in Double.
    @inline(__always) func reduce(_ count: Int, _ term: (Int) -> Double) -> Double {
        var acc = 0.0
        for i in 0..<count { acc += term(i) }
        return acc
    }

    public func sum(_ x: Buffer, count: Int, scale: Float, out: Buffer) {
        let xp = ptr(x)
        ptr(out)[0] = Float(Double(scale) * reduce(count) { Double(xp[$0]) })
    }

    public func mseLoss(x: Buffer, target: Float, count: Int, out: Buffer) {
        let xp = ptr(x), t = Double(target)
        ptr(out)[0] = Float(reduce(count) { let d = Double(xp[$0]) - t; return d * d } / Double(count))
    }

    public func l1Loss(x: Buffer, t: Buffer, count: Int, out: Buffer) {
        let xp = ptr(x), tp = ptr(t)
        ptr(out)[0] = Float(reduce(count) { abs(Double(xp[$0]) - Double(tp[$0])) } / Double(count))
    }

    public func bceWithLogitsLoss(x: Buffer, target: Float, count: Int, out: Buffer) {
        let xp = ptr(x), t = Double(target)
        ptr(out)[0] = Float(reduce(count) {
            let v = Double(xp[$0])
            return max(v, 0) - v * t + log1p(exp(-abs(v)))
        } / Double(count))
    }
}
