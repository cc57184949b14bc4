/// Launchers of Kernels/reduce.cl; the twin of CPUReduce.swift.
extension OpenCLBackend {
    /// Stage 1 (`kernelName` with `args` + the partials) over a fixed number of groups
    /// for this count, then stage 2 into out[0] scaled by `scale`.
    private func reduce(_ kernelName: String, count: Int, scale: Float, out: Buffer, _ args: [KernelArg]) {
        let groups = max(1, min(64, (count + reduceGroup - 1) / reduceGroup))
        let partial = makeBuffer(count: groups)
        run("reduce", kernelName, global: [groups * reduceGroup], local: [reduceGroup],
            args + [.int(count), .buffer(partial), .local(reduceGroup * 4)])
        run("reduce", "reduce_final", global: [reduceGroup], local: [reduceGroup],
            [.buffer(partial), .int(groups), .float(scale), .buffer(out), .local(reduceGroup * 4)])
    }

    public func sum(_ x: Buffer, count: Int, scale: Float, out: Buffer) {
        reduce("sum_partial", count: count, scale: scale, out: out, [.buffer(x)])
    }

    public func mseLoss(x: Buffer, target: Float, count: Int, out: Buffer) {
        reduce("mse_partial", count: count, scale: 1 / Float(count), out: out, [.buffer(x), .float(target)])
    }

    public func l1Loss(x: Buffer, t: Buffer, count: Int, out: Buffer) {
        reduce("l1_partial", count: count, scale: 1 / Float(count), out: out, [.buffer(x), .buffer(t)])
    }

    public func bceWithLogitsLoss(x: Buffer, target: Float, count: Int, out: Buffer) {
        reduce("bce_logits_partial", count: count, scale: 1 / Float(count), out: out, [.buffer(x), .float(target)])
    }
}
