import Foundation

/// Activations and arithmetic on the CPU reference; the twin of Kernels/elementwise.cl.
extension CPUBackend {
    public func leakyReLUForward(x: Buffer, y: Buffer, slope: Float, count: Int) {
        let xp = ptr(x), yp = ptr(y)
        for i in 0..<count { yp[i] = xp[i] > 0 ? xp[i] : slope * xp[i] }
        stored(y)
    }

    public func leakyReLUBackward(x: Buffer, gy: Buffer, gx: Buffer, slope: Float, count: Int) {
        let xp = ptr(x), gp = ptr(gy), gxp = ptr(gx)
        for i in 0..<count { gxp[i] = xp[i] > 0 ? gp[i] : slope * gp[i] }
        stored(gx)
    }

    public func tanhForward(x: Buffer, y: Buffer, count: Int) {
        let xp = ptr(x), yp = ptr(y)
        for i in 0..<count { yp[i] = Foundation.tanh(xp[i]) }
        stored(y)
    }

    public func tanhBackward(y: Buffer, gy: Buffer, gx: Buffer, count: Int) {
        let yp = ptr(y), gp = ptr(gy), gxp = ptr(gx)
        for i in 0..<count { gxp[i] = gp[i] * (1 - yp[i] * yp[i]) }
        stored(gx)
    }

    public func addScaled(_ a: Buffer, _ b: Buffer, out: Buffer, alpha: Float, beta: Float, count: Int) {
        let ap = ptr(a), bp = ptr(b), op = ptr(out)
        for i in 0..<count { op[i] = alpha * ap[i] + beta * bp[i] }
        stored(out)
    }

    public func axpy(_ x: Buffer, _ y: Buffer, alpha: Float, count: Int) {
        let xp = ptr(x), yp = ptr(y)
        for i in 0..<count { yp[i] += alpha * xp[i] }
        stored(y)
    }

    public func cast(_ x: Buffer, to y: Buffer, count: Int) {
        (ptr(y)).update(from: ptr(x), count: count)
        stored(y)
    }
}
