/// Launchers of Kernels/batch_norm.cl; the twin of CPUBatchNorm.swift. The per-channel
/// reductions run one work-group of `reduceGroup` work-items per channel in both kernel shapes.
extension OpenCLBackend {
    public func batchNormStatistics(x: Buffer, mean: Buffer, rstd: Buffer, running: (mean: Buffer, var: Buffer)?,
                                    n: Int, c: Int, hw: Int, eps: Float, momentum: Float) {
        // without running statistics, `mean` and `rstd` stand in for them (never written)
        let rm = running?.mean ?? mean, rv = running?.var ?? rstd
        run("batch_norm", "batch_norm_stats", global: [c * reduceGroup], local: [reduceGroup],
            [.buffer(x), .buffer(mean), .buffer(rstd), .buffer(rm), .buffer(rv), .int(n), .int(c), .int(hw),
             .float(eps), .float(momentum), .int(running == nil ? 0 : 1), .local(reduceGroup * 4)])
    }

    public func batchNormEvalStatistics(runningMean: Buffer, runningVar: Buffer, mean: Buffer, rstd: Buffer, c: Int, eps: Float) {
        run1D("batch_norm", "batch_norm_eval_stats", count: c,
              [.buffer(runningMean), .buffer(runningVar), .buffer(mean), .buffer(rstd), .int(c), .float(eps)])
    }

    public func batchNormForward(x: Buffer, y: Buffer, mean: Buffer, rstd: Buffer, weight: Buffer, bias: Buffer,
                                 n: Int, c: Int, hw: Int) {
        run1D("batch_norm", "batch_norm_apply", count: n * c * hw,
              [.buffer(x), .buffer(y), .buffer(mean), .buffer(rstd), .buffer(weight), .buffer(bias),
               .int(c), .int(hw), .int(n * c * hw)])
    }

    public func batchNormBackward(x: Buffer, gy: Buffer, mean: Buffer, rstd: Buffer, weight: Buffer,
                                  gx: Buffer, gweight: Buffer, gbias: Buffer, n: Int, c: Int, hw: Int, training: Bool) {
        run("batch_norm", "batch_norm_backward_sums", global: [c * reduceGroup], local: [reduceGroup],
            [.buffer(x), .buffer(gy), .buffer(mean), .buffer(rstd), .buffer(gweight), .buffer(gbias),
             .int(n), .int(c), .int(hw), .local(reduceGroup * 4)])
        run1D("batch_norm", "batch_norm_backward_apply", count: n * c * hw,
              [.buffer(x), .buffer(gy), .buffer(mean), .buffer(rstd), .buffer(weight), .buffer(gweight), .buffer(gbias),
               .buffer(gx), .int(n), .int(c), .int(hw), .int(training ? 1 : 0), .int(n * c * hw)])
    }
}
