import Foundation

/// Launchers of Kernels/winograd.cl: 3×3 stride-1 convolutions as F(2×2, 3×3) (the
/// residual blocks' convolutions, most of the generator's work). Used by the launchers of
/// OpenCLConv2d.swift; the CPU reference computes the same convolutions directly.
extension OpenCLBackend {
    /// The transformed weights U = G g Gᵀ in GEMM panels, [16][ceil(m/TM)][c][TM]: of
    /// `weight` [m][c][3][3], or with `flip` of `weight` [c][m][3][3] flipped in both axes
    /// (the input gradient's correlation); rounded as a weight beside FP16 activations when
    /// `half` (ROUND_W). Kept while the weight is unchanged (`derived`).
    func winogradWeight(_ weight: Buffer, m: Int, c: Int, flip: Bool, half: Bool) -> Buffer {
        let rows = blocks(m, gemmTile.tm) * gemmTile.tm, stride = winogradStride(rows * c)
        return derived.operand(weight, kind: "winograd m\(m) c\(c)\(flip ? " flipped" : "")\(half ? " half" : "")",
                               bytes: 4 * 16 * stride) {
            let u = makeBuffer(count: 16 * stride)
            // GPUs: a work-item per (panel, c); CPUs: a work-item walks a chunk of the channels,
            // about 8 work-items per compute unit in all.
            let mb = blocks(m, gemmTile.tm)
            let chunk = gpuShaped ? 1 : blocks(c, max(1, min(c, 8 * device.computeUnits / mb)))
            run("winograd", "winograd_weight", half: half, global: [blocks(c, chunk), mb], local: gpuShaped ? [elementGroup, 1] : [1, 1],
                reading: [weight], [.buffer(weight), .buffer(u), .int(stride), .int(m), .int(c), .int(flip ? 1 : 0), .int(chunk)])
            return u
        }
    }

    /// The distance between the 16 positions of a Winograd operand of `count` floats a
    /// position: padded by 32 floats past a multiple of 32, so that the 16 streams a
    /// transform reads or writes do not fall into the same cache sets.
    func winogradStride(_ count: Int) -> Int { blocks(count, 32) * 32 + 32 }

    /// The tile rows per band of a Winograd convolution with an oh × ow output: all of them,
    /// unless its transforms would pass `scratchLimit` floats.
    public func winogradBandRows(m: Int, c: Int, oh: Int, ow: Int) -> Int {
        let tilesX = blocks(ow, 2), tilesY = blocks(oh, 2)
        return max(1, min(tilesY, scratchLimit / (16 * max(c, m) * tilesX)))
    }

    /// y[m][oy][ox] (rows `ldOut` apart, planes oh·ldOut apart, from `yOffset`) = the 3×3
    /// correlation of image `xOffset` of x ([c][h][w], padded by `pad`) with the weights
    /// transformed by `winogradWeight`, plus `bias`; output oh = h + 2·pad − 2, likewise ow.
    /// Runs in bands of tile rows where the transforms would exceed `scratchLimit` floats.
    func winogradConv3x3(_ u: Buffer, _ x: Buffer, xOffset: Int, _ y: Buffer, yOffset: Int, m: Int, c: Int,
                         h: Int, w: Int, pad: Int, reflect: Bool, bias: Buffer?, ldOut: Int? = nil) {
        let t = gemmTile
        let oh = h + 2 * pad - 2, ow = w + 2 * pad - 2
        let tilesX = blocks(ow, 2), tilesY = blocks(oh, 2)
        let bandRows = winogradBandRows(m: m, c: c, oh: oh, ow: ow)
        let bandTiles = bandRows * tilesX
        let nCols = blocks(bandTiles, t.tn) * t.tn, mRows = blocks(m, t.tm) * t.tm
        let uStride = winogradStride(mRows * c), vStride = winogradStride(nCols * c), moStride = winogradStride(m * bandTiles)
        let v = makeBuffer(count: 16 * vStride), mo = makeBuffer(count: 16 * moStride)
        let group = elementGroup
        // CPU shape: tile rows of whole 16-tile panels run the vector output transform (winograd.cl)
        let wholePanels = t.tn == 16 && tilesX % 16 == 0
        for ty0 in stride(from: 0, to: tilesY, by: bandRows) {
            let tiles = min(bandRows, tilesY - ty0) * tilesX, cols = blocks(tiles, t.tn) * t.tn
            // The transforms: a tile row per work-item in the CPU shape, a tile per work-item in the GPU shape.
            let inputArgs: [KernelArg] = [.buffer(x), .int(xOffset), .buffer(v), .int(vStride), .int(c), .int(h), .int(w), .int(pad),
                                          .int(reflect ? 1 : 0), .int(tilesX), .int(tiles), .int(ty0)]
            let outputArgs: [KernelArg] = [.buffer(mo), .int(moStride), .buffer(y), .int(yOffset), .int(m), .int(tiles), .int(tilesX),
                                           .int(oh), .int(ow), .int(ldOut ?? ow), .buffer(bias ?? mo), .int(bias == nil ? 0 : 1), .int(ty0)]
            if gpuShaped {
                run("winograd", "winograd_input_tile", global: [cols, c], local: [group, 1], inputArgs + [.int(0)])
            } else {
                run("winograd", "winograd_input", global: [tiles / tilesX, c], local: [1, min(8, device.maxWorkGroupSize)], inputArgs)
            }
            gemm(u, v, mo, cOffset: 0, m: m, n: tiles, r: c, ldc: tiles, batches: 16, strides: (a: uStride, b: vStride, c: moStride))
            if gpuShaped {
                run("winograd", "winograd_output_tile", global: [tiles, m], local: [group, 1], outputArgs)
            } else if wholePanels && ow % 2 == 0 {
                run("winograd", "winograd_output_rows16", global: [tiles / 16, m], local: [1, min(8, device.maxWorkGroupSize)], outputArgs)
            } else {
                run("winograd", "winograd_output", global: [tiles / tilesX, m], local: [1, min(8, device.maxWorkGroupSize)], outputArgs)
            }
        }
    }

    /// gw (+= with `accumulate`) = the weight gradient of the 3×3 correlation of image
    /// `xOffset` of x ([c][h][w], padded by `pad`) with output gradient gy ([m][oh][ow] from
    /// `gyOffset`), as the adjoint of F(2×2, 3×3): 16 products over the tiles of Ĝ = A dY Aᵀ
    /// and the forward's V, then gw = Gᵀ dU G. Each product's reduction over the tiles is
    /// split into `splits` slices (partial products summed in order by winograd_weight_grad).
    /// In bands of tile rows where the transforms would pass `scratchLimit` floats, each
    /// band's product added to gw in turn (so bands change the order of the sum).
    func winogradWeightGradient(_ x: Buffer, xOffset: Int, _ gy: Buffer, gyOffset: Int, _ gw: Buffer, m: Int, c: Int,
                                h: Int, w: Int, pad: Int, reflect: Bool, splits: Int, accumulate: Bool) {
        let t = gemmTile
        let oh = h + 2 * pad - 2, ow = w + 2 * pad - 2
        let tilesX = blocks(ow, 2), tilesY = blocks(oh, 2)
        let bandRows = winogradBandRows(m: m, c: c, oh: oh, ow: ow), bandTiles = bandRows * tilesX
        let mRows = blocks(m, t.tm) * t.tm, cCols = blocks(c, t.tn) * t.tn
        let gStride = winogradStride(mRows * bandTiles), vStride = winogradStride(cCols * bandTiles)
        let duStride = winogradStride(splits * m * c)
        let gg = makeBuffer(count: 16 * gStride), v = makeBuffer(count: 16 * vStride), du = makeBuffer(count: 16 * duStride)
        let group = elementGroup
        for ty0 in stride(from: 0, to: tilesY, by: bandRows) {
            let tiles = min(bandRows, tilesY - ty0) * tilesX
            let inputArgs: [KernelArg] = [.buffer(x), .int(xOffset), .buffer(v), .int(vStride), .int(c), .int(h), .int(w), .int(pad),
                                          .int(reflect ? 1 : 0), .int(tilesX), .int(tiles), .int(ty0)]
            let gyArgs: [KernelArg] = [.buffer(gy), .int(gyOffset), .buffer(gg), .int(gStride), .int(m), .int(oh), .int(ow), .int(tilesX),
                                       .int(tiles), .int(ty0)]
            if !gpuShaped && t.hasVectorPanels {
                // a tile row per work-item, the panel's channels as one vector
                run("winograd", "winograd_input_wgrad_rows", global: [blocks(c, t.tn), tiles / tilesX], local: [1, 1], inputArgs)
                run("winograd", "winograd_gy_wgrad_rows", global: [blocks(m, t.tm), tiles / tilesX], local: [1, 1], gyArgs)
            } else {
                run("winograd", "winograd_input_tile", global: [cCols, tiles], local: [min(group, cCols), 1], inputArgs + [.int(1)])
                run("winograd", "winograd_gy_wgrad", global: [mRows, tiles], local: [min(group, mRows), 1], gyArgs)
            }
            // dU[p] (split s at p·duStride + s·m·c) = Σ over the slice's tiles of Ĝ[p] · V[p]
            launchGEMM(gg, aBatch: gStride, v, bBatch: vStride, du, cBatch: duStride, m: m, n: c, r: tiles, ldc: c, batches: 16,
                       splits: splits, rChunk: blocks(tiles, splits))
            let gradArgs: [KernelArg] = [.buffer(du), .int(duStride), .int(splits), .buffer(gw), .int(m), .int(c),
                                         .int(accumulate || ty0 > 0 ? 1 : 0)]
            if !gpuShaped && t.hasVectorPanels {
                run("winograd", "winograd_weight_grad_lanes", global: [blocks(c, t.tn), m], local: [1, 1], gradArgs)
            } else {
                run("winograd", "winograd_weight_grad", global: [c, m], local: [min(group, c), 1], gradArgs)
            }
        }
    }
}
