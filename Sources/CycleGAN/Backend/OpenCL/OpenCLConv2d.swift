/// Launchers of Kernels/conv2d.cl; the twin of CPUConv2d.swift.
extension OpenCLBackend {
    private func geometryArgs(_ g: Conv2dGeometry) -> [KernelArg] {
        [.int(g.n), .int(g.c), .int(g.h), .int(g.w), .int(g.k), .int(g.oh), .int(g.ow),
         .int(g.kh), .int(g.kw), .int(g.stride), .int(g.pad), .int(g.padding == .reflect ? 1 : 0)]
    }

    public func conv2dForward(x: Buffer, weight: Buffer, bias: Buffer?, y: Buffer, _ g: Conv2dGeometry) {
        run("conv2d", "conv2d_forward", global: [g.ow, g.oh, g.n * g.k], local: tile2D,
            [.buffer(x), .buffer(weight), .buffer(bias ?? weight), .int(bias == nil ? 0 : 1), .buffer(y)]
            + geometryArgs(g))
    }

    public func conv2dBackwardData(gy: Buffer, weight: Buffer, gx: Buffer, _ g: Conv2dGeometry) {
        run("conv2d", "conv2d_backward_data", global: [g.w, g.h, g.n * g.c], local: tile2D,
            [.buffer(gy), .buffer(weight), .buffer(gx)] + geometryArgs(g))
    }

    public func conv2dBackwardWeight(x: Buffer, gy: Buffer, gw: Buffer, _ g: Conv2dGeometry) {
        run("conv2d", "conv2d_backward_weight", global: [g.kh * g.kw, g.c, g.k], local: nil,
            [.buffer(x), .buffer(gy), .buffer(gw)] + geometryArgs(g))
    }

    public func channelSum(_ x: Buffer, out: Buffer, n: Int, c: Int, hw: Int) {
        run("conv2d", "channel_sum", global: [c * reduceGroup], local: [reduceGroup],
            [.buffer(x), .buffer(out), .int(n), .int(c), .int(hw), .local(reduceGroup * 4)])
    }

    public func addChannelBias(_ y: Buffer, bias: Buffer, n: Int, c: Int, hw: Int) {
        run("conv2d", "add_channel_bias", global: [hw, n * c], local: [min(64, device.maxWorkGroupSize), 1],
            [.buffer(y), .buffer(bias), .int(c), .int(hw)])
    }
}
