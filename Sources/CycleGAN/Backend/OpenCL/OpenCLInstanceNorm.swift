/// Launchers of Kernels/instance_norm.cl; the twin of CPUInstanceNorm.swift. The GPU kernel
/// shape runs one work-group per plane with a tree reduction, or several per plane where
/// the planes are too few to fill the device (`gpuNormChunks`); the CPU shape the
/// barrier-free chunked variant (`gpuShaped` chooses, from the device type or `tuning`).
extension OpenCLBackend {
    /// Elements per chunk of a plane in the CPU variant (`tuning.normChunk` overrides).
    var normChunk: Int { max(1, tuning.normChunk ?? 2048) }

    /// The chunks of a plane of `hw` elements that the CPU variant merges (the last one
    /// ragged unless the chunk divides `hw`); the GPU variant reduces a plane in one work-group.
    func normChunks(hw: Int) -> Int { (hw + normChunk - 1) / normChunk }

    /// Chunks per plane in the GPU shape: enough work-groups for 4 per compute unit, each
    /// chunk at least 4 elements per work-item (1: one work-group per plane).
    /// `tuning.normChunk` forces the chunk size.
    func gpuNormChunk(planes: Int, hw: Int) -> Int {
        if let forced = tuning.normChunk { return max(1, forced) }
        let wanted = max(1, (4 * device.computeUnits + planes - 1) / planes)
        let chunks = max(1, min(wanted, hw / (4 * reduceGroup)))
        return (hw + chunks - 1) / chunks
    }

    /// The kernels' epilogue arguments (act, slope, res, has_res); `x` stands in for an absent residual.
    private func epilogueArgs(_ e: NormEpilogue, _ x: Buffer) -> [KernelArg] {
        switch e {
        case .none: return [.int(0), .float(0), .buffer(x), .int(0)]
        case .leakyReLU(let slope): return [.int(1), .float(slope), .buffer(x), .int(0)]
        case .residual(let r): return [.int(0), .float(0), .buffer(r), .int(1)]
        }
    }

    public func instanceNormForward(x: Buffer, y: Buffer, mean: Buffer, rstd: Buffer,
                                    planes: Int, hw: Int, eps: Float, epilogue: NormEpilogue) {
        let epi = epilogueArgs(epilogue, x)
        if gpuShaped, case let chunk = gpuNormChunk(planes: planes, hw: hw), chunk < hw {
            let chunks = (hw + chunk - 1) / chunk
            let part = makeBuffer(count: planes * chunks * 2)
            run("instance_norm", "instance_norm_chunk_stats_wg", global: [chunks * reduceGroup, planes], local: [reduceGroup, 1],
                [.buffer(x), .buffer(part), .int(hw), .int(chunk), .local(reduceGroup * 4)])
            run("instance_norm", "instance_norm_merge", global: [planes], local: nil,
                [.buffer(part), .buffer(mean), .buffer(rstd), .int(planes), .int(hw), .int(chunk), .float(eps)])
            run("instance_norm", "instance_norm_apply_elem", global: [hw, planes], local: [min(256, reduceGroup), 1],
                [.buffer(x), .buffer(y), .buffer(mean), .buffer(rstd), .int(hw)] + epi)
            return
        }
        if gpuShaped {
            run("instance_norm", "instance_norm_forward", global: [planes * reduceGroup], local: [reduceGroup],
                [.buffer(x), .buffer(y), .buffer(mean), .buffer(rstd), .int(hw), .float(eps)] + epi + [.local(reduceGroup * 4)])
            return
        }
        let chunk = normChunk, chunks = normChunks(hw: hw)
        let part = makeBuffer(count: planes * chunks * 2)
        run("instance_norm", "instance_norm_chunk_stats", global: [chunks, planes], local: [1, 1],
            [.buffer(x), .buffer(part), .int(hw), .int(chunk)])
        run("instance_norm", "instance_norm_merge", global: [planes], local: [1],
            [.buffer(part), .buffer(mean), .buffer(rstd), .int(planes), .int(hw), .int(chunk), .float(eps)])
        run("instance_norm", "instance_norm_apply", global: [chunks, planes], local: [1, 1],
            [.buffer(x), .buffer(y), .buffer(mean), .buffer(rstd), .int(hw), .int(chunk)] + epi)
    }

    public func instanceNormBackward(y: Buffer, gy: Buffer, rstd: Buffer, gx: Buffer, planes: Int, hw: Int) {
        normBackward(y, mean: rstd, rstd: rstd, gy: gy, gx: gx, planes: planes, hw: hw, fromX: false, slope: nil)
    }

    public func instanceNormBackward(x: Buffer, mean: Buffer, rstd: Buffer, gy: Buffer, gx: Buffer, planes: Int, hw: Int,
                                     slope: Float?) {
        normBackward(x, mean: mean, rstd: rstd, gy: gy, gx: gx, planes: planes, hw: hw, fromX: true, slope: slope)
    }

    /// The backward kernels over `v`: the normalised output, or with `fromX` the input (then
    /// `mean` is read; otherwise any buffer of `planes` floats stands in).
    private func normBackward(_ v: Buffer, mean: Buffer, rstd: Buffer, gy: Buffer, gx: Buffer, planes: Int, hw: Int,
                              fromX: Bool, slope: Float?) {
        let mode: [KernelArg] = [.int(fromX ? 1 : 0), .int(slope == nil ? 0 : 1), .float(slope ?? 0)]
        if gpuShaped, case let chunk = gpuNormChunk(planes: planes, hw: hw), chunk < hw {
            let chunks = (hw + chunk - 1) / chunk
            let part = makeBuffer(count: planes * chunks * 2), stats = makeBuffer(count: planes * 2)
            run("instance_norm", "instance_norm_chunk_grad_sums_wg", global: [chunks * reduceGroup, planes], local: [reduceGroup, 1],
                [.buffer(v), .buffer(gy), .buffer(mean), .buffer(rstd), .buffer(part), .int(hw), .int(chunk)] + mode
                    + [.local(reduceGroup * 4)])
            run("instance_norm", "instance_norm_merge_grad", global: [planes], local: nil,
                [.buffer(part), .buffer(stats), .int(planes), .int(hw), .int(chunk)])
            run("instance_norm", "instance_norm_apply_grad_elem", global: [hw, planes], local: [min(256, reduceGroup), 1],
                [.buffer(v), .buffer(gy), .buffer(stats), .buffer(mean), .buffer(rstd), .buffer(gx), .int(hw)] + mode)
            return
        }
        if gpuShaped {
            run("instance_norm", "instance_norm_backward", global: [planes * reduceGroup], local: [reduceGroup],
                [.buffer(v), .buffer(gy), .buffer(mean), .buffer(rstd), .buffer(gx), .int(hw)] + mode + [.local(reduceGroup * 4)])
            return
        }
        let chunk = normChunk, chunks = normChunks(hw: hw)
        let part = makeBuffer(count: planes * chunks * 2)
        run("instance_norm", "instance_norm_chunk_grad_sums", global: [chunks, planes], local: [1, 1],
            [.buffer(v), .buffer(gy), .buffer(mean), .buffer(rstd), .buffer(part), .int(hw), .int(chunk)] + mode)
        run("instance_norm", "instance_norm_apply_grad", global: [chunks, planes], local: [1, 1],
            [.buffer(v), .buffer(gy), .buffer(part), .buffer(mean), .buffer(rstd), .buffer(gx), .int(hw), .int(chunk)] + mode)
    }
}
