/// Launchers of Kernels/loss.cl; the twin of CPULoss.swift.
extension OpenCLBackend {
    public func mseLossBackward(x: Buffer, target: Float, gy: Buffer, gx: Buffer, count: Int) {
        run1D("loss", "mse_backward", count: count, [.buffer(x), .float(target), .buffer(gy), .buffer(gx), .int(count)])
    }

    public func l1LossBackward(x: Buffer, t: Buffer, gy: Buffer, gx: Buffer, gt: Buffer?, count: Int) {
        run1D("loss", "l1_backward", count: count,
              [.buffer(x), .buffer(t), .buffer(gy), .buffer(gx), .buffer(gt ?? gx), .int(gt == nil ? 0 : 1), .int(count)])
    }

    public func bceWithLogitsLossBackward(x: Buffer, target: Float, gy: Buffer, gx: Buffer, count: Int) {
        run1D("loss", "bce_logits_backward", count: count,
              [.buffer(x), .float(target), .buffer(gy), .buffer(gx), .int(count)])
    }
}
