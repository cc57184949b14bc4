import Foundation

/// Gradients of the mean losses on the CPU reference; the twin of Kernels/loss.cl.
extension CPUBackend {
    public func mseLossBackward(x: Buffer, target: Float, gy: Buffer, gx: Buffer, count: Int) {
        let xp = ptr(x), g = ptr(gy)[0], gxp = ptr(gx)
        for i in 0..<count { gxp[i] = g * 2 * (xp[i] - target) / Float(count) }
        stored(gx)
    }

    public func l1LossBackward(x: Buffer, t: Buffer, gy: Buffer, gx: Buffer, gt: Buffer?, count: Int) {
        let xp = ptr(x), tp = ptr(t), g = ptr(gy)[0], gxp = ptr(gx), gtp = gt.map { ptr($0) }
        for i in 0..<count {
            let d = xp[i] - tp[i]
            let s: Float = d > 0 ? 1 : (d < 0 ? -1 : 0)
            gxp[i] = g * s / Float(count)
            gtp?[i] = -gxp[i]
        }
        stored(gx, gt)
    }

    public func bceWithLogitsLossBackward(x: Buffer, target: Float, gy: Buffer, gx: Buffer, count: Int) {
        let xp = ptr(x), g = ptr(gy)[0], gxp = ptr(gx)
        for i in 0..<count { gxp[i] = g * (1 / (1 + exp(-xp[i])) - target) / Float(count) }
        stored(gx)
    }
}
