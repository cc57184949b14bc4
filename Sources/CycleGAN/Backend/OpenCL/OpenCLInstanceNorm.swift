/// Launchers of Kernels/instance_norm.cl; the twin of CPUInstanceNorm.swift.
extension OpenCLBackend {
    public func instanceNormForward(x: Buffer, y: Buffer, mean: Buffer, rstd: Buffer,
                                    planes: Int, hw: Int, eps: Float) {
        run("instance_norm", "instance_norm_forward", global: [planes * reduceGroup], local: [reduceGroup],
            [.buffer(x), .buffer(y), .buffer(mean), .buffer(rstd), .int(hw), .float(eps), .local(reduceGroup * 4)])
    }

    public func instanceNormBackward(y: Buffer, gy: Buffer, rstd: Buffer, gx: Buffer, planes: Int, hw: Int) {
        run("instance_norm", "instance_norm_backward", global: [planes * reduceGroup], local: [reduceGroup],
            [.buffer(y), .buffer(gy), .buffer(rstd), .buffer(gx), .int(hw), .local(reduceGroup * 4)])
    }
}
