import Foundation

/// Launchers of Kernels/winograd.cl: 3×3 stride-1 convolutions as F(2×2, 3×3) (the
/// residual blocks' convolutions, most of the generator's work). Used by the launchers of
/// OpenCLConv2d.swift; the CPU reference computes the same convolutions directly.
extension OpenCLBackend {
    /// The transformed weights U = G g Gᵀ in GEMM panels, [16][ceil(m/TM)][c][TM]: of
    /// `weight` [m][c][3][3], or with `flip` of `weight` [c][m][3][3] flipped in both axes
    /// (the input gradient's correlation); rounded as a weight beside FP16 activations when
    /// `half` (ROUND_W).
    func winogradWeight(_ weight: Buffer, m: Int, c: Int, flip: Bool, half: Bool) -> Buffer {
        let rows = blocks(m, gemmTile.tm) * gemmTile.tm
        let u = makeBuffer(count: 16 * winogradStride(rows * c))
        run("winograd", "winograd_weight", half: half, global: [c, rows], local: [min(16, device.maxWorkGroupSize), 1],
            [.buffer(weight), .buffer(u), .int(winogradStride(rows * c)), .int(m), .int(c), .int(flip ? 1 : 0)])
        return u
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
        for ty0 in stride(from: 0, to: tilesY, by: bandRows) {
            let tiles = min(bandRows, tilesY - ty0) * tilesX, cols = blocks(tiles, t.tn) * t.tn
            // The transforms: a tile row per work-item in the CPU shape, a tile per work-item in the GPU shape.
            let inputArgs: [KernelArg] = [.buffer(x), .int(xOffset), .buffer(v), .int(vStride), .int(c), .int(h), .int(w), .int(pad),
                                          .int(reflect ? 1 : 0), .int(tilesX), .int(tiles), .int(ty0)]
            let outputArgs: [KernelArg] = [.buffer(mo), .int(moStride), .buffer(y), .int(yOffset), .int(m), .int(tiles), .int(tilesX),
                                           .int(oh), .int(ow), .int(ldOut ?? ow), .buffer(bias ?? mo), .int(bias == nil ? 0 : 1), .int(ty0)]
            if gpuShaped {
                run("winograd", "winograd_input_tile", global: [cols, c], local: [group, 1], inputArgs)
            } else {
                run("winograd", "winograd_input", global: [tiles / tilesX, c], local: [1, min(8, device.maxWorkGroupSize)], inputArgs)
            }
            gemm(u, v, mo, cOffset: 0, m: m, n: tiles, r: c, ldc: tiles, batches: 16, strides: (a: uStride, b: vStride, c: moStride))
            if gpuShaped {
                run("winograd", "winograd_output_tile", global: [tiles, m], local: [group, 1], outputArgs)
            } else {
                run("winograd", "winograd_output", global: [tiles / tilesX, m], local: [1, min(8, device.maxWorkGroupSize)], outputArgs)
            }
        }
    }
}
