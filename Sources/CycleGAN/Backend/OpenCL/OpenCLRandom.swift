/// Launchers of Kernels/random.cl; the twin of CPURandom.swift.
extension OpenCLBackend {
    public func randomUniform(_ y: Buffer, count: Int, seed: UInt64, low: Float, high: Float) {
        run1D("random", "random_uniform", count: count, [.buffer(y), .ulong(seed), .float(low), .float(high), .int(count)])
    }

    public func randomNormal(_ y: Buffer, count: Int, seed: UInt64, mean: Float, std: Float) {
        run1D("random", "random_normal", count: count, [.buffer(y), .ulong(seed), .float(mean), .float(std), .int(count)])
    }
}
