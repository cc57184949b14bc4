/// Launcher of Kernels/adam.cl; the twin of CPUAdam.swift.
extension OpenCLBackend {
    public func adamStep(param: Buffer, grad: Buffer, m: Buffer, v: Buffer, count: Int, _ s: AdamScalars) {
        run1D("adam", "adam_step", count: count,
              [.buffer(param), .buffer(grad), .buffer(m), .buffer(v), .float(s.beta1), .float(s.beta2),
               .float(s.eps), .float(s.stepSize), .float(s.bc2Sqrt), .int(count)])
    }

    public func unscaleCheck(_ grad: Buffer, count: Int, invScale: Float, found: Buffer) {
        run1D("adam", "unscale_check", count: count, [.buffer(grad), .int(count), .float(invScale), .buffer(found)])
    }
}
