import COpenCL
import Foundation

/// Launchers of Kernels/conv2d.cl and Kernels/gemm.cl (the 3×3 stride-1 passes go on to
/// OpenCLWinograd.swift); the twin of CPUConv2d.swift.
///
/// Two algorithms: `gemm` (default) runs each convolution as packed matrix products
/// (implicit GEMM: every pass a stride-1 product read in place from a padded copy of its
/// input, strided convolutions split into phases, the weight gradient's long reduction
/// split and reduced in a fixed order); `direct` runs one work-item per output element
/// (the first version, kept as the baseline that `cyclegan bench` compares against).
/// CYCLEGAN_CONV=direct selects it.
extension OpenCLBackend {
    public enum ConvAlgorithm: String, CaseIterable, Sendable { case gemm, direct }

    private func geometryArgs(_ g: Conv2dGeometry) -> [KernelArg] {
        [.int(g.n), .int(g.c), .int(g.h), .int(g.w), .int(g.k), .int(g.oh), .int(g.ow),
         .int(g.kh), .int(g.kw), .int(g.stride), .int(g.pad), .int(g.padding == .reflect ? 1 : 0)]
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

    /// Panels of TM (or TN) rows of a row-major [P][R] matrix at `offset` in `src`, rounded
    /// as a weight beside FP16 activations when `half` (gemm.cl's ROUND_W).
    func packRows(_ src: Buffer, offset: Int, p: Int, r: Int, tile t: Int, half: Bool = false) -> Buffer {
        let dst = makeBuffer(count: blocks(p, t) * r * t)
        run("gemm", "pack_rows", half: half, global: [t, r, blocks(p, t)], local: packLocal(t), reading: [src],
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
        launchGEMM(a, aBatch: strides.a, b, bOffset: bOffset, bBatch: strides.b, c, cOffset: cOffset, cBatch: strides.c,
                   m: m, n: n, r: r, ldc: ldc, batches: batches, bias: bias)
    }

    /// Launches the chosen GEMM kernel (`gemmVersion`; both take gemm.cl's one argument list
    /// and sum each output's terms in the same order, so they give the same bits) over the
    /// tiles of an m × n product: `batches` independent products, operands `*Batch` floats
    /// apart, each reduction over r split into `splits` slices of `rChunk` (each slice's
    /// partial C `m·ldc` floats after the last), plus bias[m] (one split only).
    func launchGEMM(_ a: Buffer, aBatch: Int = 0, _ b: Buffer, bOffset: Int = 0, bBatch: Int = 0, _ c: Buffer, cOffset: Int = 0,
                    cBatch: Int = 0, m: Int, n: Int, r: Int, ldc: Int, batches: Int = 1, splits: Int = 1, rChunk: Int? = nil,
                    bias: Buffer? = nil) {
        let args: [KernelArg] = [.buffer(a), .int(aBatch), .buffer(b), .int(bOffset), .int(bBatch), .buffer(c), .int(cOffset), .int(cBatch),
                                 .int(m), .int(n), .int(r), .int(ldc), .int(rChunk ?? r), .int(splits), .buffer(bias ?? a),
                                 .int(bias == nil ? 0 : 1)]
        let grid = [blocks(n, gemmTile.tn), blocks(m, gemmTile.tm), batches * splits]
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
        let partial = makeBuffer(count: splits * m * n)
        launchGEMM(a, b, partial, m: m, n: n, r: r, ldc: n, splits: splits, rChunk: blocks(r, splits))
        reducePartials(partial, splits: splits, count: m * n, out: out, outOffset: outOffset, accumulate: accumulate)
    }

    /// out[outOffset + i] (+)= Σ_s partial[s·count + i], s in order (the split-r reduction).
    func reducePartials(_ partial: Buffer, splits: Int, count: Int, out: Buffer, outOffset: Int, accumulate: Bool) {
        run("gemm", "reduce_partials", global: [count], local: [elementGroup],
            [.buffer(partial), .int(splits), .int(count), .buffer(out), .int(outOffset), .int(accumulate ? 1 : 0)])
    }

    // MARK: the implicit GEMM over phase planes (Kernels/conv2d.cl explains the layout)

    /// ceil(k / s): the taps of phase 0 along an axis of a k-tap kernel with stride s.
    private func phaseTaps(_ k: Int, _ s: Int, phase: Int = 0) -> Int { max(0, blocks(k - phase, s)) }

    /// The output rows per band of `g`'s forward, and the phase rows per band of its input
    /// gradient (all of them where one band holds the whole image). The 3×3 stride-1 passes
    /// band their Winograd tile rows instead (`winogradBandRows`).
    public func convolutionBands(_ g: Conv2dGeometry) -> (forward: Int, inputGradient: Int) {
        let s = g.stride, kqy = phaseTaps(g.kh, s), kqx = phaseTaps(g.kw, s)
        let fwdLdx = stride1Layout(ow: g.ow, kw: kqx).ldx
        let forward = max(1, min(g.oh, scratchLimit / (s * s * g.c * fwdLdx) - (kqy - 1)))
        let hq = blocks(g.h + 2 * g.pad, s), wq = blocks(g.w + 2 * g.pad, s)
        let perRow = max(s * s * g.c * wq, g.k * stride1Layout(ow: wq, kw: kqx).ldx)
        let inputGradient = g.padding == .reflect ? hq : max(1, min(hq, scratchLimit / perRow - (kqy - 1)))
        return (forward, inputGradient)
    }

    /// Writes image `offset` of `x` ([c][h][w]) padded by (`padY`, `padX`) into `xp`: for
    /// stride 1 planes of `hq` rows of `ldx` floats, from padded row `row0` on; for stride s
    /// the s·s phase planes of that size (conv2d.cl's pad_phases). Rows and columns past the
    /// padded input, and any slack after the planes in `xp`, are zero.
    func padInput(_ x: Buffer, offset: Int, into xp: Buffer, c: Int, h: Int, w: Int, padY: Int, padX: Int, reflect: Bool,
                  stride: Int = 1, row0: Int = 0, hq: Int, ldx: Int) {
        let common: [KernelArg] = [.buffer(x), .int(offset), .buffer(xp), .int(c), .int(h), .int(w), .int(padY), .int(padX),
                                   .int(reflect ? 1 : 0)]
        if !gpuShaped {
            run("conv2d", "pad_phases_rows", global: [hq, stride * stride * c], local: [min(4, device.maxWorkGroupSize), 1],
                common + [.int(stride), .int(row0), .int(hq), .int(ldx)])
        } else {
            run("conv2d", "pad_phases", global: [ldx, hq, stride * stride * c], local: [elementGroup, 1, 1],
                common + [.int(stride), .int(row0), .int(hq), .int(ldx)])
        }
        let used = stride * stride * c * hq * ldx
        if xp.count > used {
            run("conv2d", "zero_tail", global: [xp.count - used], local: nil, [.buffer(xp), .int(used), .int(xp.count - used)])
        }
    }

    /// The table `name` of an implicit GEMM's row offsets (`make` computes it), uploaded once
    /// per backend. Offsets are 32-bit, as the kernels index: a layout past that records a
    /// device failure.
    func offsetTable(_ name: String, _ make: () -> [Int]) -> Buffer {
        if let t = offsetTables[name] { return t }
        if offsetTables.count >= 256 { offsetTables.removeAll() }  // many image sizes: keep the cache small
        let values = make(), int32 = values.compactMap { Int32(exactly: $0) }
        let table = makeBuffer(count: values.count)
        guard int32.count == values.count else {
            cl.record(CL_INVALID_BUFFER_SIZE, "convolution \(name): offsets past a 32-bit int")
            return table
        }
        if !int32.isEmpty, cl.failure == nil, let m = mem(table, "clEnqueueWriteBuffer") {
            let status = int32.withUnsafeBytes {
                clEnqueueWriteBuffer(cl.queue, m, cl_bool(CL_TRUE), 0, $0.count, $0.baseAddress, 0, nil, nil)
            }
            cl.record(status, "clEnqueueWriteBuffer of a convolution's offset table")
        }
        offsetTables[name] = table
        return table
    }

    /// The row offsets of `g`'s forward and weight gradient, rows r = (c·kh + ky)·kw + kx in
    /// the weight's order, over the (phase) planes of `hq` rows of `ldx` floats that
    /// `padInput` writes: tap (ky, kx) reads phase (ky % s, kx % s) at (ky / s, kx / s).
    func forwardOffsets(_ g: Conv2dGeometry, hq: Int, ldx: Int) -> Buffer {
        offsetTable("forward c\(g.c) k\(g.kh)x\(g.kw) s\(g.stride) hq\(hq) ldx\(ldx)") {
            let s = g.stride
            var t: [Int] = []
            t.reserveCapacity(g.c * g.kh * g.kw)
            for c in 0..<g.c {
                for ky in 0..<g.kh {
                    for kx in 0..<g.kw {
                        t.append((((ky % s) * s + kx % s) * g.c + c) * hq * ldx + (ky / s) * ldx + kx / s)
                    }
                }
            }
            return t
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

    /// y = A · X for packed weights `a` ([ceil(m/TM)][rows][TM]) and the implicit X[r][q] =
    /// xp[xpOffset + roff[r] + oy·ldx + ox] (conv2d_s1): an oh × ow output per channel, its rows
    /// `ldOut` floats apart (default: `ow`), its planes `ldPlane` apart (default: oh·ldOut).
    func convStride1(_ a: Buffer, _ xp: Buffer, xpOffset: Int = 0, _ roff: Buffer, _ y: Buffer, yOffset: Int, m: Int, rows: Int,
                     oh: Int, ow: Int, layout: Stride1Layout, bias: Buffer?, ldOut: Int? = nil, ldPlane: Int? = nil, tile: GEMMTile? = nil) {
        let t = tile ?? gemmTile
        // conv2d_s1_tiled always walks the flat q = oy·ldx + ox; conv2d_s1 also takes the row stride of its grid
        let args: [KernelArg] = [.buffer(a), .buffer(xp), .int(xpOffset), .buffer(roff), .buffer(y), .int(yOffset), .int(m), .int(rows),
                                 .int(oh), .int(ow), .int(layout.ldx), .buffer(bias ?? a), .int(bias == nil ? 0 : 1),
                                 .int(ldOut ?? ow), .int(ldPlane ?? oh * (ldOut ?? ow))]
        if gemmVersion == .tiled {
            runConv("conv2d_s1_tiled", tile: t, global: [blocks(oh * layout.ldx, t.tn), blocks(m, t.tm), 1],
                    local: [t.wgn, t.wgm, 1], args)
            return
        }
        let grid = layout.flat ? [blocks(oh * layout.ldx, t.tn), 1, blocks(m, t.tm)] : [blocks(ow, t.tn), oh, blocks(m, t.tm)]
        // one m-block (few output channels): a work-group takes neighbouring tiles or rows instead
        let local = t.convLocal.map { l in
            grid[2] > 1 ? l : (layout.flat ? [min(8, grid[0]), 1, 1] : [1, min(8, oh), 1])
        }
        runConv("conv2d_s1", tile: t, global: grid, local: local, args + [.int(layout.flat ? 0 : layout.ldx)])
    }

    /// The tiling of a pass with `m` output channels: `narrowTile` for at most its rows.
    func convTile(m: Int) -> GEMMTile {
        if let n = narrowTile, m <= n.tm { return n }
        return gemmTile
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
        let q = g.oh * g.ow, t = gemmTile
        if isWinograd(g) {
            let u = winogradWeight(weight, m: g.k, c: g.c, flip: false, half: x.dtype == .float16)
            for n in 0..<g.n {
                winogradConv3x3(u, x, xOffset: n * g.c * g.h * g.w, y, yOffset: n * g.k * q, m: g.k, c: g.c,
                                h: g.h, w: g.w, pad: g.pad, reflect: g.padding == .reflect, bias: bias)
            }
            return
        }
        // Pad once into (phase) planes, then read them in place: a stride-1 implicit GEMM, in
        // bands of output rows where the planes of the whole image would pass `scratchLimit`.
        let s = g.stride, rows = g.c * g.kh * g.kw, kqy = phaseTaps(g.kh, s), mt = convTile(m: g.k)
        let half = x.dtype == .float16
        let a = derived.operand(weight, kind: "rows k\(g.k) r\(rows) tm\(mt.tm)\(half ? " half" : "")",
                                bytes: 4 * blocks(g.k, mt.tm) * rows * mt.tm) {
            packRows(weight, offset: 0, p: g.k, r: rows, tile: mt.tm, half: half)
        }
        let layout = stride1Layout(ow: g.ow, kw: phaseTaps(g.kw, s)), band = convolutionBands(g).forward
        let xp = makeBuffer(count: s * s * g.c * (band + kqy - 1) * layout.ldx + t.tn + g.kw)
        for n in 0..<g.n {
            for o0 in stride(from: 0, to: g.oh, by: band) {
                let rowsOut = min(band, g.oh - o0), hq = rowsOut + kqy - 1
                padInput(x, offset: n * g.c * g.h * g.w, into: xp, c: g.c, h: g.h, w: g.w, padY: g.pad, padX: g.pad,
                         reflect: g.padding == .reflect, stride: s, row0: s * o0, hq: hq, ldx: layout.ldx)
                convStride1(a, xp, forwardOffsets(g, hq: hq, ldx: layout.ldx), y, yOffset: n * g.k * q + o0 * g.ow, m: g.k, rows: rows,
                            oh: rowsOut, ow: g.ow, layout: layout, bias: bias, ldPlane: q, tile: mt)
            }
        }
    }

    /// Folds the gradient of the padded input (phase planes of `hq` × `ldq`, holding phase rows
    /// from `prow0` on) back onto rows `iy0 ..< iy0 + rowCount` of image `n` of `gx`.
    private func unpadFold(_ gxq: Buffer, _ gx: Buffer, n: Int, _ g: Conv2dGeometry, hq: Int, ldq: Int,
                           iy0: Int = 0, prow0: Int = 0, rowCount: Int? = nil) {
        let count = rowCount ?? g.h
        guard count > 0 else { return }
        let args: [KernelArg] = [.buffer(gxq), .buffer(gx), .int(n * g.c * g.h * g.w), .int(g.c), .int(g.h), .int(g.w),
                                 .int(g.pad), .int(g.padding == .reflect ? 1 : 0), .int(g.stride), .int(hq), .int(ldq),
                                 .int(iy0), .int(prow0), .int(count)]
        if gpuShaped {
            run("conv2d", "unpad_fold_elem", global: [g.w, count, g.c], local: [elementGroup, 1, 1], args)
        } else {
            run("conv2d", "unpad_fold", global: [count, g.c], local: [min(4, device.maxWorkGroupSize), 1], args)
        }
    }

    public func conv2dBackwardData(gy: Buffer, weight: Buffer, gx: Buffer, _ g: Conv2dGeometry) {
        if convAlgorithm == .direct {
            run("conv2d", "conv2d_backward_data", global: [g.w, g.h, g.n * g.c], local: tile2D,
                [.buffer(gy), .buffer(weight), .buffer(gx)] + geometryArgs(g))
            return
        }
        let q = g.oh * g.ow, t = gemmTile, s = g.stride
        // The gradient of the padded input (hp × wp), in s·s phase planes of hq × wq: phase
        // (a, b) is a stride-1 correlation of gY, zero-padded by the phase-0 taps − 1, with
        // that phase's flipped taps. Then fold the padding back.
        let hp = g.h + 2 * g.pad, wp = g.w + 2 * g.pad, hq = blocks(hp, s), wq = blocks(wp, s)
        if isWinograd(g) {
            let gxq = makeBuffer(count: hq * g.c * wq)
            let u = winogradWeight(weight, m: g.c, c: g.k, flip: true, half: gy.dtype == .float16)
            for n in 0..<g.n {
                winogradConv3x3(u, gy, xOffset: n * g.k * q, gxq, yOffset: 0, m: g.c, c: g.k, h: g.oh, w: g.ow,
                                pad: g.kh - 1, reflect: false, bias: nil, ldOut: wq)
                unpadFold(gxq, gx, n: n, g, hq: hq, ldq: wq)
            }
            return
        }
        let kqy = phaseTaps(g.kh, s), kqx = phaseTaps(g.kw, s)
        let layout = stride1Layout(ow: wq, kw: kqx)
        // Bands of phase rows where the planes of the whole image would pass `scratchLimit`
        // (zero padding only: a reflected row's preimages may lie in another band).
        let band = convolutionBands(g).inputGradient, mt = convTile(m: g.c)
        let gxq = makeBuffer(count: s * s * g.c * band * wq)
        let gyp = makeBuffer(count: g.k * (band + kqy - 1) * layout.ldx + t.tn + kqx)
        struct Phase { var index: Int, ku: Int, kv: Int }
        var phases: [Phase] = []
        for pa in 0..<s {
            for pb in 0..<s {
                let ku = phaseTaps(g.kh, s, phase: pa), kv = phaseTaps(g.kw, s, phase: pb)
                guard ku > 0 && kv > 0 else { continue }  // a phase no tap reaches (kernel smaller than the stride)
                phases.append(Phase(index: pa * s + pb, ku: ku, kv: kv))
            }
        }
        // Each phase's flipped taps in GEMM panels, kept while the weight is unchanged (`derived`).
        let half = gy.dtype == .float16
        let flipped = derived.operands(weight, kind: "flipped k\(g.k) c\(g.c) \(g.kh)x\(g.kw) s\(s) tm\(mt.tm)\(half ? " half" : "")",
                                       bytes: phases.reduce(0) { $0 + 4 * blocks(g.c, mt.tm) * g.k * $1.ku * $1.kv * mt.tm }) {
            phases.map { p in
                let a = makeBuffer(count: blocks(g.c, mt.tm) * g.k * p.ku * p.kv * mt.tm)
                runConv("pack_flipped_weight", tile: mt, half: half, global: [blocks(g.c, mt.tm) * mt.tm, g.k],
                        local: [mt.tm, max(1, min(16, device.maxWorkGroupSize / mt.tm))], reading: [weight],
                        [.buffer(weight), .buffer(a), .int(g.k), .int(g.c), .int(g.kh), .int(g.kw), .int(s),
                         .int(p.index / s), .int(p.index % s)])
                return a
            }
        }
        /// Row (k, u, v) of a phase reads gyp[k] (`hg` rows) shifted by the taps the phase lacks.
        func offsets(_ p: Phase, hg: Int) -> Buffer {
            offsetTable("input-gradient k\(g.k) taps \(p.ku)x\(p.kv) of \(kqy)x\(kqx) hg\(hg) ldx\(layout.ldx)") {
                var t: [Int] = []
                for k in 0..<g.k {
                    for u in 0..<p.ku { for v in 0..<p.kv { t.append((k * hg + kqy - p.ku + u) * layout.ldx + kqx - p.kv + v) } }
                }
                return t
            }
        }
        for n in 0..<g.n {
            for i0 in stride(from: 0, to: hq, by: band) {
                let rowsQ = min(band, hq - i0), hg = rowsQ + kqy - 1
                // the planes of phases no tap reaches are 0 (refilled: a ragged last band lays the planes out anew)
                if phases.count < s * s && (i0 == 0 || rowsQ != band) { fill(gxq, value: 0) }
                padInput(gy, offset: n * g.k * q, into: gyp, c: g.k, h: g.oh, w: g.ow, padY: kqy - 1, padX: kqx - 1,
                         reflect: false, row0: i0, hq: hg, ldx: layout.ldx)
                for (p, a) in zip(phases, flipped) {
                    convStride1(a, gyp, offsets(p, hg: hg), gxq, yOffset: p.index * g.c * rowsQ * wq, m: g.c, rows: g.k * p.ku * p.kv,
                                oh: rowsQ, ow: wq, layout: layout, bias: nil, tile: mt)
                }
                // the input rows whose padded row falls in phase rows i0 ..< i0 + rowsQ
                let iy0 = i0 == 0 ? 0 : s * i0 - g.pad, iy1 = i0 + rowsQ == hq ? g.h : s * (i0 + rowsQ) - g.pad
                unpadFold(gxq, gx, n: n, g, hq: rowsQ, ldq: wq, iy0: max(0, iy0), prow0: i0, rowCount: min(g.h, iy1) - max(0, iy0))
            }
        }
    }

    /// How `conv2dBackwardWeight` computes the weight gradient of a geometry.
    public struct WeightGradientPlan: Equatable, Sendable {
        public enum Path: String, Sendable {
            /// One work-item per weight (`CYCLEGAN_CONV=direct`).
            case direct
            /// The padded input's (phase) planes read in place over the flattened output
            /// grid (conv2d_s1_wgrad, conv2d_s1_wgrad_tiled).
            case implicit
            /// 3×3 stride 1: the adjoint of Winograd F(2×2, 3×3) (OpenCLWinograd.swift).
            case winograd
        }
        public var path: Path
        /// The slices of the reduction over output positions (1: not split).
        public var splits: Int
    }

    /// The path and split count that `conv2dBackwardWeight` takes for `g` on this backend.
    public func weightGradientPlan(_ g: Conv2dGeometry) -> WeightGradientPlan {
        if convAlgorithm == .direct { return WeightGradientPlan(path: .direct, splits: 1) }
        if isWinograd(g) {
            let tiles = blocks(g.oh, 2) * blocks(g.ow, 2)
            return WeightGradientPlan(path: .winograd,
                                      splits: reductionSplits(tiles: 16 * blocks(g.k, gemmTile.tm) * blocks(g.c, gemmTile.tn), r: tiles))
        }
        let rows = g.c * g.kh * g.kw, flat = g.oh * (g.ow + phaseTaps(g.kw, g.stride) - 1)
        return WeightGradientPlan(path: .implicit, splits: reductionSplits(tiles: blocks(rows, gemmTile.tm) * blocks(g.k, gemmTile.tn), r: flat))
    }

    public func conv2dBackwardWeight(x: Buffer, gy: Buffer, gw: Buffer, _ g: Conv2dGeometry) {
        let plan = weightGradientPlan(g)
        let rows = g.c * g.kh * g.kw, q = g.oh * g.ow, t = gemmTile, splits = plan.splits, s = g.stride
        if plan.path == .direct {
            run("conv2d", "conv2d_backward_weight", global: [g.kh * g.kw, g.c, g.k], local: nil,
                [.buffer(x), .buffer(gy), .buffer(gw)] + geometryArgs(g))
            return
        }
        if plan.path == .winograd {
            for n in 0..<g.n {
                winogradWeightGradient(x, xOffset: n * g.c * g.h * g.w, gy, gyOffset: n * g.k * q, gw, m: g.k, c: g.c,
                                       h: g.h, w: g.w, pad: g.pad, reflect: g.padding == .reflect, splits: splits, accumulate: n > 0)
            }
            return
        }
        // The forward's planes and table, on the flattened grid (rows ldx apart).
        let ldx = g.ow + phaseTaps(g.kw, s) - 1, hq = g.oh + phaseTaps(g.kh, s) - 1, qf = g.oh * ldx
        let xp = makeBuffer(count: s * s * g.c * hq * ldx + t.tn + g.kw)
        let roff = forwardOffsets(g, hq: hq, ldx: ldx)
        let gyp = makeBuffer(count: blocks(g.k, t.tn) * qf * t.tn)
        let chunk = blocks(qf, splits)
        let partial = splits > 1 ? makeBuffer(count: splits * rows * g.k) : gw
        for n in 0..<g.n {
            padInput(x, offset: n * g.c * g.h * g.w, into: xp, c: g.c, h: g.h, w: g.w, padY: g.pad, padX: g.pad,
                     reflect: g.padding == .reflect, stride: s, hq: hq, ldx: ldx)
            let packArgs: [KernelArg] = [.buffer(gy), .int(n * g.k * q), .buffer(gyp), .int(g.k), .int(g.oh), .int(g.ow), .int(ldx)]
            if gpuShaped {
                run("conv2d", "pack_flat_cols_elem", global: [ldx * t.tn, g.oh, blocks(g.k, t.tn)],
                    local: [elementGroup, 1, 1], packArgs)
            } else {
                run("conv2d", "pack_flat_cols", global: [g.oh, blocks(g.k, t.tn)], local: [min(4, device.maxWorkGroupSize), 1], packArgs)
            }
            let args: [KernelArg] = [.buffer(xp), .buffer(roff), .buffer(gyp), .buffer(partial), .int(rows), .int(g.k), .int(qf),
                                     .int(chunk), .int(splits == 1 && n > 0 ? 1 : 0)]
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
