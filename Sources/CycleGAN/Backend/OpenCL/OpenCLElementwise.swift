/// Launchers of Kernels/elementwise.cl; the twin of CPUElementwise.swift.
extension OpenCLBackend {
    public func leakyReLUForward(x: Buffer, y: Buffer, slope: Float, count: Int) {
        run1D("elementwise", "leaky_relu_forward", count: count, [.buffer(x), .buffer(y), .float(slope), .int(count)])
    }

    public func leakyReLUBackward(x: Buffer, gy: Buffer, gx: Buffer, slope: Float, count: Int) {
        run1D("elementwise", "leaky_relu_backward", count: count,
              [.buffer(x), .buffer(gy), .buffer(gx), .float(slope), .int(count)])
    }

    public func tanhForward(x: Buffer, y: Buffer, count: Int) {
        run1D("elementwise", "tanh_forward", count: count, [.buffer(x), .buffer(y), .int(count)])
    }

    public func tanhBackward(y: Buffer, gy: Buffer, gx: Buffer, count: Int) {
        run1D("elementwise", "tanh_backward", count: count, [.buffer(y), .buffer(gy), .buffer(gx), .int(count)])
    }

    public func addScaled(_ a: Buffer, _ b: Buffer, out: Buffer, alpha: Float, beta: Float, count: Int) {
        run1D("elementwise", "add_scaled", count: count,
              [.buffer(a), .buffer(b), .buffer(out), .float(alpha), .float(beta), .int(count)])
    }

    public func axpy(_ x: Buffer, _ y: Buffer, alpha: Float, count: Int) {
        run1D("elementwise", "axpy", count: count, [.buffer(x), .buffer(y), .float(alpha), .int(count)])
    }

    public func cast(_ x: Buffer, to y: Buffer, count: Int) {
        switch (x.dtype, y.dtype) {
        case (.float32, .float16): run1D("elementwise", "cast_float_to_half", count: count, [.buffer(x), .buffer(y), .int(count)])
        case (.float16, .float32): run1D("elementwise", "cast_half_to_float", count: count, [.buffer(x), .buffer(y), .int(count)])
        default: copy(x, srcOffset: 0, to: y, dstOffset: 0, count: count)
        }
    }
}
