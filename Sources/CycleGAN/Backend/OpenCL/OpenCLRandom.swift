/// Launchers of Kernels/random.cl; the twin of CPURandom.swift.
extension OpenCLBackend {
    public func randomUniform(_ y: Buffer, count: Int, seed: UInt64, low: Float, high: Float) {
        run1D("random", "random_uniform", count: count, [.buffer(y), .ulong(seed), .float(low), .float(high), .int(count)])
    }

    public func randomNormal(_ y: Buffer, count: Int, seed: UInt64, mean: Float, std: Float) {
        run1D("random", "random_normal", count: count, [.buffer(y), .ulong(seed), .float(mean), .float(std), .int(count)])
    }
}

/// Launchers of the dropout kernels of Kernels/random.cl; the twin of CPURandom.swift's.
extension OpenCLBackend {
    public func dropoutForward(x: Buffer, y: Buffer, p: Float, seed: UInt64, count: Int) {
        run1D("random", "dropout_forward", count: count,
              [.buffer(x), .buffer(y), .ulong(seed), .float(p), .float(1 / (1 - p)), .int(count)])
    }

    public func dropoutBackward(gy: Buffer, gx: Buffer, p: Float, seed: UInt64, count: Int) {
        run1D("random", "dropout_backward", count: count,
              [.buffer(gy), .buffer(gx), .ulong(seed), .float(p), .float(1 / (1 - p)), .int(count)])
    }
}
