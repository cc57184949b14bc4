import Foundation

/// Launchers of Kernels/conv2d.cl and Kernels/gemm.cl (the 3×3 stride-1 passes go on to
/// OpenCLWinograd.swift); the twin of CPUConv2d.swift.
///
/// Two algorithms: `gemm` (default) runs each convolution as packed matrix products
/// (implicit GEMM: im2col written straight into GEMM panels, col2im gathered for the
/// input gradient, the weight gradient's long reduction split and reduced in a fixed
/// order); `direct` runs one work-item per output element (the first version, kept as the
/// baseline that `cyclegan bench` compares against). CYCLEGAN_CONV=direct selects it.
extension OpenCLBackend {
    public enum ConvAlgorithm: String, CaseIterable, Sendable { case gemm, direct }

    private func geometryArgs(_ g: Conv2dGeometry) -> [KernelArg] {
        [.int(g.n), .int(g.c), .int(g.h), .int(g.w), .int(g.k), .int(g.oh), .int(g.ow),
         .int(g.kh), .int(g.kw), .int(g.stride), .int(g.pad), .int(g.padding == .reflect ? 1 : 0)]
    }

    /// The per-image im2col geometry arguments: C, H, W, OH, OW, KH, KW, stride, pad, reflect.
    private func imageArgs(_ g: Conv2dGeometry) -> [KernelArg] {
        [.int(g.c), .int(g.h), .int(g.w), .int(g.oh), .int(g.ow), .int(g.kh), .int(g.kw),
         .int(g.stride), .int(g.pad), .int(g.padding == .reflect ? 1 : 0)]
    }

    /// ceil(n / t): the tiles or panels of size t that cover n.
    func blocks(_ n: Int, _ t: Int) -> Int { (n + t - 1) / t }

    /// Local size of the packing grids (T, rows, panels): explicit, since a NULL local
    /// size lets PoCL run one work-item per group, which costs more than the copy itself.
    private func packLocal(_ t: Int) -> [Int] {
        let rows = max(1, min(16, device.maxWorkGroupSize / t))
        return [t, rows, 1]
    }

    // MARK: packing and the GEMM

    /// Panels of TM (or TN) rows of a row-major [P][R] matrix at `offset` in `src`.
    func packRows(_ src: Buffer, offset: Int, p: Int, r: Int, tile t: Int) -> Buffer {
        let dst = makeBuffer(count: blocks(p, t) * r * t)
        run("gemm", "pack_rows", global: [t, r, blocks(p, t)], local: packLocal(t),
            [.buffer(src), .int(offset), .buffer(dst), .int(p), .int(r), .int(t)])
        return dst
    }

    /// Panels over the columns of a row-major [R][P] matrix at `offset` in `src`.
    func packCols(_ src: Buffer, offset: Int, p: Int, r: Int, tile t: Int) -> Buffer {
        let dst = makeBuffer(count: blocks(p, t) * r * t)
        run("gemm", "pack_cols", global: [t, r, blocks(p, t)], local: packLocal(t),
            [.buffer(src), .int(offset), .buffer(dst), .int(p), .int(r), .int(t)])
        return dst
    }

    /// C[c_off + m*ldc + n] = Σ_r A(m, r)·B(r, n) (+ bias[m]) in one pass; with `batches`
    /// > 1, that many independent products, each operand the given stride after the last.
    func gemm(_ a: Buffer, _ b: Buffer, bOffset: Int = 0, _ c: Buffer, cOffset: Int,
              m: Int, n: Int, r: Int, ldc: Int, bias: Buffer? = nil,
              batches: Int = 1, strides: (a: Int, b: Int, c: Int) = (0, 0, 0)) {
        launchGEMM(m: m, n: n, z: batches,
                   [.buffer(a), .int(strides.a), .buffer(b), .int(bOffset), .int(strides.b), .buffer(c), .int(cOffset), .int(strides.c),
                    .int(m), .int(n), .int(r), .int(ldc), .int(r), .int(1), .buffer(bias ?? a), .int(bias == nil ? 0 : 1)])
    }

    /// Launches the chosen GEMM kernel (`gemmVersion`) over the tiles of an m × n product
    /// and `z` batches or splits. Both versions sum each output's terms in the same order,
    /// so they give the same bits.
    private func launchGEMM(m: Int, n: Int, z: Int, _ args: [KernelArg]) {
        let grid = [blocks(n, gemmTile.tn), blocks(m, gemmTile.tm), z]
        switch gemmVersion {
        case .packed: run("gemm", "gemm_packed", global: grid, local: gemmTile.local, args)
        case .tiled: run("gemm", "gemm_tiled", global: grid, local: [gemmTile.wgn, gemmTile.wgm, 1], args)
        }
    }

    /// Into how many slices a reduction of `r` terms behind `tiles` TM × TN output tiles is
    /// split (each slice's partial product summed afterwards in a fixed order by
    /// reduce_partials), with at least 256 terms a slice: enough for 16 tiles per compute unit
    /// with GEMM version 1 on CPUs, 64 on GPUs; with version 2, whose work-groups hold
    /// WGM × WGN tiles, 8 work-groups per compute unit (2048 resident work-items, what a
    /// GPU multiprocessor holds). `tuning.reductionSplits` forces a count (at most `r`).
    func reductionSplits(tiles: Int, r: Int) -> Int {
        if let forced = tuning.reductionSplits { return max(1, min(forced, r)) }
        let units = gemmVersion == .tiled ? max(1, tiles / (gemmTile.wgm * gemmTile.wgn)) : max(tiles, 1)
        let target = device.computeUnits * (gemmVersion == .tiled ? 8 : gpuShaped ? 64 : 16)
        return max(1, min(r / 256, target / units))
    }

    /// out[outOffset + m*n'…] (+)= Σ_r A·B with the r range split into `splits` slices for
    /// parallelism and the partial products reduced in a fixed order (deterministic; no atomics).
    func gemmSplit(_ a: Buffer, _ b: Buffer, out: Buffer, outOffset: Int, m: Int, n: Int, r: Int, splits: Int, accumulate: Bool) {
        let chunk = blocks(r, splits)
        let partial = makeBuffer(count: splits * m * n)
        launchGEMM(m: m, n: n, z: splits,
                   [.buffer(a), .int(0), .buffer(b), .int(0), .int(0), .buffer(partial), .int(0), .int(0), .int(m), .int(n), .int(r), .int(n),
                    .int(chunk), .int(splits), .buffer(a), .int(0)])
        reducePartials(partial, splits: splits, count: m * n, out: out, outOffset: outOffset, accumulate: accumulate)
    }

    /// out[outOffset + i] (+)= Σ_s partial[s·count + i], s in order (the split-r reduction).
    func reducePartials(_ partial: Buffer, splits: Int, count: Int, out: Buffer, outOffset: Int, accumulate: Bool) {
        run("gemm", "reduce_partials", global: [count], local: [elementGroup],
            [.buffer(partial), .int(splits), .int(count), .buffer(out), .int(outOffset), .int(accumulate ? 1 : 0)])
    }

    /// Pads image `offset` of `x` ([c][h][w]) by `pad` into rows of `ldx` floats.
    /// Any slack after the padded planes in `xp` is zeroed.
    func padInput(_ x: Buffer, offset: Int, into xp: Buffer, c: Int, h: Int, w: Int, pad: Int, reflect: Bool, ldx: Int) {
        let args: [KernelArg] = [.buffer(x), .int(offset), .buffer(xp), .int(c), .int(h), .int(w), .int(pad), .int(reflect ? 1 : 0), .int(ldx)]
        if gpuShaped {
            run("conv2d", "pad_input_elem", global: [ldx, h + 2 * pad, c], local: [min(64, device.maxWorkGroupSize), 1, 1], args)
        } else {
            run("conv2d", "pad_input", global: [h + 2 * pad, c], local: [min(4, device.maxWorkGroupSize), 1], args)
        }
        let used = c * (h + 2 * pad) * ldx
        if xp.count > used {
            run("conv2d", "zero_tail", global: [xp.count - used], local: nil, [.buffer(xp), .int(used), .int(xp.count - used)])
        }
    }

    /// How a stride-1 conv tiles its output: whole rows in TN-wide tiles (rows of the padded
    /// input `ldx` apart, with slack), or the flattened padded grid (rows exactly
    /// ow + kw − 1 apart), whichever computes fewer wasted positions.
    struct Stride1Layout { var flat: Bool; var ldx: Int }

    func stride1Layout(ow: Int, kw: Int) -> Stride1Layout {
        // conv2d_s1_tiled (GEMM version 2) always walks the flattened grid
        if gemmVersion == .tiled { return Stride1Layout(flat: true, ldx: ow + kw - 1) }
        let rowTiles = blocks(ow, gemmTile.tn) * gemmTile.tn  // computed per row, tiled by rows
        let flatWidth = ow + kw - 1                           // computed per row, flattened
        return flatWidth < rowTiles ? Stride1Layout(flat: true, ldx: flatWidth)
            : Stride1Layout(flat: false, ldx: rowTiles + kw - 1)
    }

    /// A stride-1 convolution of a padded input with packed weights `a`. The output rows
    /// are `ldOut` floats apart (default: `ow`).
    func convStride1(_ a: Buffer, _ xp: Buffer, _ y: Buffer, yOffset: Int, m: Int, c: Int, kh: Int, kw: Int,
                     oh: Int, ow: Int, hp: Int, layout: Stride1Layout, bias: Buffer?, ldOut: Int? = nil) {
        let args: [KernelArg] = [.buffer(a), .buffer(xp), .buffer(y), .int(yOffset), .int(m), .int(c), .int(kh), .int(kw),
                                 .int(oh), .int(ow), .int(hp), .int(layout.ldx), .buffer(bias ?? a), .int(bias == nil ? 0 : 1),
                                 .int(ldOut ?? ow), .int(layout.flat ? 0 : layout.ldx)]
        if gemmVersion == .tiled {
            run("conv2d", "conv2d_s1_tiled", global: [blocks(oh * layout.ldx, gemmTile.tn), blocks(m, gemmTile.tm), 1],
                local: [gemmTile.wgn, gemmTile.wgm, 1], Array(args.dropLast()))
            return
        }
        let grid = layout.flat ? [blocks(oh * layout.ldx, gemmTile.tn), 1, blocks(m, gemmTile.tm)]
            : [blocks(ow, gemmTile.tn), oh, blocks(m, gemmTile.tm)]
        run("conv2d", "conv2d_s1", global: grid, local: gemmTile.convLocal, args)
    }

    /// 3×3 stride-1 convolutions (the residual blocks') run as Winograd F(2×2, 3×3)
    /// (OpenCLWinograd.swift) unless CYCLEGAN_WINOGRAD=0.
    func isWinograd(_ g: Conv2dGeometry) -> Bool { useWinograd && g.stride == 1 && g.kh == 3 && g.kw == 3 }

    // MARK: the three convolution passes

    public func conv2dForward(x: Buffer, weight: Buffer, bias: Buffer?, y: Buffer, _ g: Conv2dGeometry) {
        if convAlgorithm == .direct {
            run("conv2d", "conv2d_forward", global: [g.ow, g.oh, g.n * g.k], local: tile2D,
                [.buffer(x), .buffer(weight), .buffer(bias ?? weight), .int(bias == nil ? 0 : 1), .buffer(y)] + geometryArgs(g))
            return
        }
        let rows = g.c * g.kh * g.kw, q = g.oh * g.ow, t = gemmTile
        if isWinograd(g) {
            let u = winogradWeight(weight, m: g.k, c: g.c, flip: false)
            for n in 0..<g.n {
                winogradConv3x3(u, x, xOffset: n * g.c * g.h * g.w, y, yOffset: n * g.k * q, m: g.k, c: g.c,
                                h: g.h, w: g.w, pad: g.pad, reflect: g.padding == .reflect, bias: bias)
            }
            return
        }
        let a = packRows(weight, offset: 0, p: g.k, r: rows, tile: t.tm)
        if g.stride == 1 && g.kh == g.kw {
            // Pad once, then read the padded rows directly (no im2col).
            let layout = stride1Layout(ow: g.ow, kw: g.kw), hp = g.h + 2 * g.pad
            let xp = makeBuffer(count: g.c * hp * layout.ldx + t.tn + g.kw)
            for n in 0..<g.n {
                padInput(x, offset: n * g.c * g.h * g.w, into: xp, c: g.c, h: g.h, w: g.w, pad: g.pad,
                         reflect: g.padding == .reflect, ldx: layout.ldx)
                convStride1(a, xp, y, yOffset: n * g.k * q, m: g.k, c: g.c, kh: g.kh, kw: g.kw, oh: g.oh, ow: g.ow,
                            hp: hp, layout: layout, bias: bias)
            }
            return
        }
        let b = makeBuffer(count: blocks(q, t.tn) * rows * t.tn)
        for n in 0..<g.n {
            run("conv2d", "im2col_pack_cols", global: [rows, blocks(q, t.tn)], local: [min(16, rows), 1],
                [.buffer(x), .int(n * g.c * g.h * g.w), .buffer(b)] + imageArgs(g))
            gemm(a, b, y, cOffset: n * g.k * q, m: g.k, n: q, r: rows, ldc: q, bias: bias)
        }
    }

    public func conv2dBackwardData(gy: Buffer, weight: Buffer, gx: Buffer, _ g: Conv2dGeometry) {
        if convAlgorithm == .direct {
            run("conv2d", "conv2d_backward_data", global: [g.w, g.h, g.n * g.c], local: tile2D,
                [.buffer(gy), .buffer(weight), .buffer(gx)] + geometryArgs(g))
            return
        }
        let rows = g.c * g.kh * g.kw, q = g.oh * g.ow, t = gemmTile
        if g.stride == 1 && g.kh == g.kw {
            // The padded input's gradient is a full stride-1 correlation of gY (zero-padded by
            // k−1) with the flipped, transposed weight; then fold the padding back.
            let hp = g.h + 2 * g.pad, wp = g.w + 2 * g.pad  // the padded input's size = output of this correlation
            let ldgx = wp, gxp = makeBuffer(count: g.c * hp * ldgx)
            let correlate: (Int) -> Void
            if isWinograd(g) {
                let u = winogradWeight(weight, m: g.c, c: g.k, flip: true)
                correlate = { n in
                    self.winogradConv3x3(u, gy, xOffset: n * g.k * q, gxp, yOffset: 0, m: g.c, c: g.k, h: g.oh, w: g.ow,
                                         pad: g.kh - 1, reflect: false, bias: nil, ldOut: ldgx)
                }
            } else {
                let a = makeBuffer(count: blocks(g.c, t.tm) * g.k * g.kh * g.kw * t.tm)
                run("conv2d", "pack_flipped_weight", global: [blocks(g.c, t.tm) * t.tm, g.k], local: [t.tm, max(1, min(16, device.maxWorkGroupSize / t.tm))],
                    [.buffer(weight), .buffer(a), .int(g.k), .int(g.c), .int(g.kh), .int(g.kw)])
                let layout = stride1Layout(ow: wp, kw: g.kw), gyRows = g.oh + 2 * (g.kh - 1)
                let gyp = makeBuffer(count: g.k * gyRows * layout.ldx + t.tn + g.kw)
                correlate = { n in
                    self.padInput(gy, offset: n * g.k * q, into: gyp, c: g.k, h: g.oh, w: g.ow, pad: g.kh - 1, reflect: false, ldx: layout.ldx)
                    self.convStride1(a, gyp, gxp, yOffset: 0, m: g.c, c: g.k, kh: g.kh, kw: g.kw, oh: hp, ow: wp,
                                     hp: gyRows, layout: layout, bias: nil, ldOut: ldgx)
                }
            }
            for n in 0..<g.n {
                correlate(n)
                let args: [KernelArg] = [.buffer(gxp), .buffer(gx), .int(n * g.c * g.h * g.w), .int(g.c), .int(g.h), .int(g.w),
                                         .int(g.pad), .int(g.padding == .reflect ? 1 : 0), .int(ldgx)]
                if gpuShaped {
                    run("conv2d", "unpad_fold_elem", global: [g.w, g.h, g.c], local: [min(64, device.maxWorkGroupSize), 1, 1], args)
                } else {
                    run("conv2d", "unpad_fold", global: [g.h, g.c], local: [min(4, device.maxWorkGroupSize), 1], args)
                }
            }
            return
        }
        // col[rows][q] = Wᵀ · gY: A = W as [R=k][P=rows] panels over rows; B = gY as [R=k][P=q].
        let a = packCols(weight, offset: 0, p: rows, r: g.k, tile: t.tm)
        let col = makeBuffer(count: rows * q)
        for n in 0..<g.n {
            let b = packCols(gy, offset: n * g.k * q, p: q, r: g.k, tile: t.tn)
            gemm(a, b, col, cOffset: 0, m: rows, n: q, r: g.k, ldc: q)
            run("conv2d", "col2im", global: [g.w, g.h, g.c], local: tile2D,
                [.buffer(col), .buffer(gx), .int(n * g.c * g.h * g.w), .int(g.c), .int(g.h), .int(g.w), .int(g.oh), .int(g.ow),
                 .int(g.kh), .int(g.kw), .int(g.stride), .int(g.pad), .int(g.padding == .reflect ? 1 : 0)])
        }
    }

    /// How `conv2dBackwardWeight` computes the weight gradient of a geometry.
    public struct WeightGradientPlan: Equatable, Sendable {
        public enum Path: String, Sendable {
            /// One work-item per weight (`CYCLEGAN_CONV=direct`).
            case direct
            /// Stride 1, square kernel, long rows: the padded input read in place over the
            /// flattened grid (conv2d_s1_wgrad).
            case stride1
            /// im2col panels and the packed GEMM (gemm_packed).
            case im2col
        }
        public var path: Path
        /// The slices of the reduction over output positions (1: not split).
        public var splits: Int
    }

    /// The path and split count that `conv2dBackwardWeight` takes for `g` on this backend.
    public func weightGradientPlan(_ g: Conv2dGeometry) -> WeightGradientPlan {
        if convAlgorithm == .direct { return WeightGradientPlan(path: .direct, splits: 1) }
        let rows = g.c * g.kh * g.kw, t = gemmTile
        // For short reductions the fixed cost per work-item of the in-place path outweighs
        // the packing it saves: it needs 1024 positions on the flattened padded grid.
        let flat = g.oh * (g.w + 2 * g.pad)
        if g.stride == 1 && g.kh == g.kw && flat >= 1024 {
            return WeightGradientPlan(path: .stride1, splits: reductionSplits(tiles: blocks(rows, t.tm) * blocks(g.k, t.tn), r: flat))
        }
        return WeightGradientPlan(path: .im2col, splits: reductionSplits(tiles: blocks(g.k, t.tm) * blocks(rows, t.tn), r: g.oh * g.ow))
    }

    public func conv2dBackwardWeight(x: Buffer, gy: Buffer, gw: Buffer, _ g: Conv2dGeometry) {
        let plan = weightGradientPlan(g)
        let rows = g.c * g.kh * g.kw, q = g.oh * g.ow, t = gemmTile, splits = plan.splits
        switch plan.path {
        case .direct:
            run("conv2d", "conv2d_backward_weight", global: [g.kh * g.kw, g.c, g.k], local: nil,
                [.buffer(x), .buffer(gy), .buffer(gw)] + geometryArgs(g))
        case .stride1:
            // No im2col: read the padded input at per-row offsets over the flattened grid.
            let ldx = g.w + 2 * g.pad, hp = g.h + 2 * g.pad, qf = g.oh * ldx
            let xp = makeBuffer(count: g.c * hp * ldx + t.tn + g.kw)
            let gyp = makeBuffer(count: blocks(g.k, t.tn) * qf * t.tn)
            let chunk = blocks(qf, splits)
            let partial = splits > 1 ? makeBuffer(count: splits * rows * g.k) : gw
            for n in 0..<g.n {
                padInput(x, offset: n * g.c * g.h * g.w, into: xp, c: g.c, h: g.h, w: g.w, pad: g.pad,
                         reflect: g.padding == .reflect, ldx: ldx)
                let packArgs: [KernelArg] = [.buffer(gy), .int(n * g.k * q), .buffer(gyp), .int(g.k), .int(g.oh), .int(g.ow), .int(ldx)]
                if gpuShaped {
                    run("conv2d", "pack_flat_cols_elem", global: [ldx * t.tn, g.oh, blocks(g.k, t.tn)],
                        local: [min(64, device.maxWorkGroupSize), 1, 1], packArgs)
                } else {
                    run("conv2d", "pack_flat_cols", global: [g.oh, blocks(g.k, t.tn)], local: [min(4, device.maxWorkGroupSize), 1], packArgs)
                }
                let args: [KernelArg] = [.buffer(xp), .buffer(gyp), .buffer(partial), .int(g.c), .int(g.kh), .int(g.kw), .int(hp),
                                         .int(ldx), .int(g.k), .int(qf), .int(chunk), .int(splits == 1 && n > 0 ? 1 : 0)]
                if gemmVersion == .tiled {
                    run("conv2d", "conv2d_s1_wgrad_tiled", global: [blocks(g.k, t.tn), blocks(rows, t.tm), splits],
                        local: [t.wgn, t.wgm, 1], args)
                } else {
                    run("conv2d", "conv2d_s1_wgrad", global: [blocks(rows, t.tm), blocks(g.k, t.tn), splits], local: t.local, args)
                }
                if splits > 1 {
                    reducePartials(partial, splits: splits, count: rows * g.k, out: gw, outOffset: 0, accumulate: n > 0)
                }
            }
        case .im2col:
            let b = makeBuffer(count: blocks(rows, t.tn) * q * t.tn)
            for n in 0..<g.n {
                // gW[k][rows] += gY[k][q] · Xᵀ: A = gY as [P=k][R=q]; B = im2col panels over rows.
                let a = packRows(gy, offset: n * g.k * q, p: g.k, r: q, tile: t.tm)
                run("conv2d", "im2col_pack_rows", global: [g.oh, blocks(rows, t.tn)], local: [1, min(4, device.maxWorkGroupSize)],
                    [.buffer(x), .int(n * g.c * g.h * g.w), .buffer(b)] + imageArgs(g))
                gemmSplit(a, b, out: gw, outOffset: 0, m: g.k, n: rows, r: q, splits: splits, accumulate: n > 0)
            }
        }
    }

    public func channelSum(_ x: Buffer, out: Buffer, n: Int, c: Int, hw: Int) {
        run("conv2d", "channel_sum", global: [c * reduceGroup], local: [reduceGroup],
            [.buffer(x), .buffer(out), .int(n), .int(c), .int(hw), .local(reduceGroup * 4)])
    }

    public func addChannelBias(_ y: Buffer, bias: Buffer, n: Int, c: Int, hw: Int) {
        run("conv2d", "add_channel_bias", global: [hw, n * c], local: [elementGroup, 1],
            [.buffer(y), .buffer(bias), .int(c), .int(hw)])
    }
}
