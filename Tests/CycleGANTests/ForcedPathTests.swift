import XCTest
@testable import CycleGAN

/// The paths that production takes on larger devices but a 2-core CPU never chooses, forced
/// through `OpenCLTuning` and checked against the CPU reference (‖ocl − cpu‖/‖cpu‖ ≤ 1e-4):
/// weight gradients whose reduction is split into several slices, the instance norm's merge
/// of several chunks with a ragged last one, and the GPU-shaped kernels (work-group
/// reductions, 4×8 GEMM tiles). Each configuration runs every op of `OpCases.parity` and
/// `OpCases.largePlanes`; each proves its path was taken twice: the backend's own plan
/// (the split count, the chunk count, the shape) and bits that differ from the same
/// shape without the forcing (a reduction summed in another order).
final class ForcedPathTests: XCTestCase {
    struct Config {
        let name: String
        let tuning: OpenCLTuning
    }

    static let cases = OpCases.parity + OpCases.largePlanes
    static let convCases = cases.filter { $0.geometry != nil }
    static let normCases = cases.filter { $0.op.hasPrefix("instance_norm2d") }

    /// Each case's outputs on the CPU reference, computed once for every configuration.
    static let reference: [[String: [Float]]] = cases.map { $0.outputs(on: TestDevices.cpu) }

    /// The plane size of an instance-norm case (x is [n][c][h][w]).
    static func planeSize(_ c: OpCase) -> Int { c.inputs["x"]!.shape[2] * c.inputs["x"]!.shape[3] }

    /// Runs every case on `config` and checks it against the reference; returns the outputs.
    func runParity(_ config: Config, on device: OpenCLDeviceInfo) throws -> (OpenCLBackend, [[String: [Float]]]) {
        let ocl = try OpenCLBackend(device: device, tuning: config.tuning)
        var outputs: [[String: [Float]]] = []
        var worst: [String: ParityResult] = [:]
        for (c, ref) in zip(Self.cases, Self.reference) {
            let got = c.outputs(on: ocl)
            outputs.append(got)
            for r in compareOutputs(c, got: got, reference: ref, tolerance: 1e-4) {
                XCTAssertTrue(r.passed, "\(config.name): \(r.summary)")
                let key = r.op
                if r.relativeError >= (worst[key]?.relativeError ?? -1) { worst[key] = r }
            }
        }
        for (_, r) in worst.sorted(by: { $0.key < $1.key }) { print("forced \(config.name): worst \(r.summary)") }
        return (ocl, outputs)
    }

    /// Whether any output of any case in `subset` differs in its bits between two runs.
    func differingCases(_ a: [[String: [Float]]], _ b: [[String: [Float]]], outputs keys: [String],
                        where include: (OpCase) -> Bool) -> (differ: Int, of: Int, same: [String]) {
        var differ = 0, total = 0, same: [String] = []
        for (i, c) in Self.cases.enumerated() where include(c) {
            total += 1
            if keys.contains(where: { a[i][$0] != b[i][$0] }) { differ += 1 } else { same.append("\(c.op) \(c.shape)") }
        }
        return (differ, total, same)
    }

    /// CPU shape: weight gradients split into 3 slices (a ragged last one wherever 3 does
    /// not divide the positions), instance norm in chunks of 40 (2 float16 vectors and a
    /// scalar tail); against the same shape with one slice and the production chunk of 2048,
    /// whose own multi-chunk merge the large planes (2 and 5 chunks) reach.
    func testCPUShapeWithSplitWeightGradientsAndSmallNormChunks() throws {
        let device = try TestDevices.requireOpenCL().device
        let (base, baseOut) = try runParity(Config(name: "cpu, 1 split, chunk 2048",
                                                   tuning: OpenCLTuning(kernelShape: .cpu, reductionSplits: 1)), on: device)
        let (forced, forcedOut) = try runParity(Config(name: "cpu, 3 splits, chunk 40",
                                                       tuning: OpenCLTuning(kernelShape: .cpu, reductionSplits: 3, normChunk: 40)), on: device)
        XCTAssertFalse(base.gpuShaped)
        XCTAssertFalse(forced.gpuShaped)

        // The plans: every weight gradient split (3×3 stride 1 on Winograd's adjoint, the others
        // on the implicit GEMM), every norm plane chunked.
        var paths = Set<OpenCLBackend.WeightGradientPlan.Path>()
        for c in Self.convCases {
            let plan = forced.weightGradientPlan(c.geometry!)
            paths.insert(plan.path)
            XCTAssertEqual(plan.splits, 3, "\(c.op) \(c.shape): \(plan)")
            XCTAssertEqual(base.weightGradientPlan(c.geometry!), OpenCLBackend.WeightGradientPlan(path: plan.path, splits: 1))
        }
        XCTAssertEqual(paths, [.implicit, .winograd])
        for c in Self.normCases {
            let hw = Self.planeSize(c)
            XCTAssertGreaterThan(forced.normChunks(hw: hw), 1, "\(c.shape)")
            XCTAssertNotEqual(hw % forced.normChunk, 0, "\(c.shape): the last chunk should be ragged")
        }
        let productionChunked = Self.normCases.filter { base.normChunks(hw: Self.planeSize($0)) > 1 }
        XCTAssertEqual(productionChunked.map { base.normChunks(hw: Self.planeSize($0)) }, [2, 5, 2, 5, 2])
        XCTAssertTrue(productionChunked.allSatisfy { Self.planeSize($0) % 2048 != 0 })

        // The bits: the split sums and the chunked merge changed the order of the additions.
        let w = differingCases(baseOut, forcedOut, outputs: ["grad_weight"]) { $0.geometry != nil }
        XCTAssertEqual(w.differ, w.of, "weight gradients bit-identical with 1 and 3 splits: \(w.same)")
        let n = differingCases(baseOut, forcedOut, outputs: ["mean", "rstd", "y", "grad_x"]) { $0.op.hasPrefix("instance_norm2d") }
        XCTAssertEqual(n.differ, n.of, "instance norm bit-identical with chunks of 2048 and 40: \(n.same)")
    }

    /// GPU shape on this device: work-group tree reductions (instance norm, sums, losses,
    /// bias gradients), the 4×8 GEMM tiles with local 16×4, Winograd and every conv pass on
    /// them; with one slice and with 5 slices per weight gradient.
    func testGPUShapeEndToEndWithAndWithoutSplits() throws {
        let device = try TestDevices.requireOpenCL().device
        let (cpuShaped, cpuOut) = try runParity(Config(name: "cpu, 1 split", tuning: OpenCLTuning(kernelShape: .cpu, reductionSplits: 1)),
                                                on: device)
        let (one, oneOut) = try runParity(Config(name: "gpu, 1 split", tuning: OpenCLTuning(kernelShape: .gpu, reductionSplits: 1)),
                                          on: device)
        let (five, fiveOut) = try runParity(Config(name: "gpu, 5 splits", tuning: OpenCLTuning(kernelShape: .gpu, reductionSplits: 5)),
                                            on: device)
        let (packed, packedOut) = try runParity(Config(name: "gpu, gemm v1",
                                                       tuning: OpenCLTuning(kernelShape: .gpu, reductionSplits: 1, gemmVersion: .packed)), on: device)
        let (chunked, chunkedOut) = try runParity(Config(name: "gpu, norm chunks of 40",
                                                         tuning: OpenCLTuning(kernelShape: .gpu, reductionSplits: 1, normChunk: 40)), on: device)
        XCTAssertFalse(cpuShaped.gpuShaped)
        XCTAssertEqual(cpuShaped.gemmVersion, .packed)
        // the passes with at most 4 output channels (several cases above) run on the narrow tile
        for b in [cpuShaped, one, packed] {
            XCTAssertEqual(b.convTile(m: 3).tm, 4)
            XCTAssertEqual(b.convTile(m: 5).tm, b.gemmTile.tm)
        }
        XCTAssertEqual([one.narrowTile?.wgn, one.narrowTile?.wgm], [64, 1])
        for b in [one, five] {
            XCTAssertTrue(b.gpuShaped)
            XCTAssertEqual(b.gemmVersion, .tiled)
            XCTAssertEqual([b.gemmTile.tm, b.gemmTile.tn], [4, 8])
            XCTAssertEqual(b.gemmTile.local, [16, 4, 1])
            XCTAssertEqual(b.reduceGroup, [256, 128, 64, 32, 16, 8, 4, 2, 1].first { $0 <= device.maxWorkGroupSize })
        }
        for c in Self.convCases { XCTAssertEqual(five.weightGradientPlan(c.geometry!).splits, 5, "\(c.op) \(c.shape)") }

        // The work-group tree reductions ran: instance norm and the sum come out in other bits
        // than the CPU shape's chunked and strided sums. (The GEMMs sum each output in the
        // same order whatever the tile, so their bits need not change: the tile asserted
        // above is what their launchers read.)
        let reductions = differingCases(cpuOut, oneOut, outputs: ["y", "mean", "rstd", "grad_x"]) {
            $0.op.hasPrefix("instance_norm2d") || $0.op == "sum"
        }
        XCTAssertEqual(reductions.differ, reductions.of, "bit-identical in the CPU and GPU shapes: \(reductions.same)")
        let split = differingCases(oneOut, fiveOut, outputs: ["grad_weight"]) { $0.geometry != nil }
        XCTAssertEqual(split.differ, split.of, "GPU-shaped weight gradients bit-identical with 1 and 5 splits: \(split.same)")

        // GEMM version 2 (gemm_tiled, conv2d_s1_tiled: local-memory tiles) sums every output
        // in version 1's order: every conv pass gives the same bits.
        XCTAssertEqual(packed.gemmVersion, .packed)
        let versions = differingCases(packedOut, oneOut, outputs: ["y", "grad_x", "grad_weight", "grad_bias"]) { $0.geometry != nil }
        XCTAssertEqual(versions.differ, 0, "conv passes differ between GEMM versions 1 and 2 (\(versions.differ) of \(versions.of))")
        XCTAssertGreaterThan(versions.of, 10)

        // The GPU shape's element- and tile-per-work-item helpers (Winograd transforms, padding,
        // folding, packing) and its tiled GEMMs compute in the CPU shape's order: with one
        // split each, every conv pass but the bias gradient (a work-group tree of another
        // size) gives the same bits in both shapes.
        let shapes = differingCases(cpuOut, oneOut, outputs: ["y", "grad_x", "grad_weight"]) { $0.geometry != nil }
        XCTAssertGreaterThan(shapes.of, 10)
        XCTAssertEqual(shapes.differ, 0, "conv passes differ between the CPU and GPU shapes (\(shapes.differ) of \(shapes.of))")

        // Several work-groups per plane (chunks of 40, merged in order): every norm case has
        // more than one chunk, and its statistics come out in other bits than one work-group's.
        for c in Self.normCases {
            let hw = Self.planeSize(c), planes = c.inputs["x"]!.shape[0] * c.inputs["x"]!.shape[1]
            XCTAssertEqual(chunked.gpuNormChunk(planes: planes, hw: hw), 40)
            XCTAssertGreaterThan(hw, 40, c.shape)
        }
        let perPlane = differingCases(oneOut, chunkedOut, outputs: ["y", "grad_x"]) { $0.op.hasPrefix("instance_norm2d") }
        XCTAssertEqual(perPlane.differ, perPlane.of, "GPU-shaped norms bit-identical with one and several work-groups: \(perPlane.same)")
    }

    /// A device whose kernels allow 32 work-items (where the GPU shape wants 256 per reduction
    /// and tiled GEMM, 128 per element-wise group, 64 elsewhere): the reductions fit their
    /// groups to it, the tiled GEMM falls back to version 1, the other launches run in smaller
    /// groups, and every op still matches the reference.
    func testGPUShapeWithinASmallWorkGroupLimit() throws {
        let device = try TestDevices.requireOpenCL().device
        try XCTSkipIf(device.maxWorkGroupSize < 256, "the device's own limit is below the shape's sizes")
        let (small, _) = try runParity(Config(name: "gpu, 32 work-items", tuning: OpenCLTuning(kernelShape: .gpu, workGroupLimit: 32)),
                                       on: device)
        XCTAssertTrue(small.gpuShaped)
        XCTAssertEqual(small.reduceGroup, 32)
        XCTAssertEqual(small.elementGroup, 32)
        XCTAssertEqual(small.gemmVersion, .packed)
    }

    /// Scratch limited to 16 floats: every convolution's forward and (zero-padded) input
    /// gradient runs in bands of one row (as a photograph's layers run at `test`), and
    /// Winograd's weight gradient too, in both shapes. The bands change nothing in the
    /// forward's and input gradient's sums: the same bits as without them; every pass within
    /// 1e-4 of the reference.
    func testConvolutionsInBandsOfRowsGiveTheSameBits() throws {
        let device = try TestDevices.requireOpenCL().device
        for shape in [OpenCLTuning.KernelShape.cpu, .gpu] {
            let (_, whole) = try runParity(Config(name: "\(shape), whole planes", tuning: OpenCLTuning(kernelShape: shape, reductionSplits: 1)),
                                           on: device)
            let (banded, bandOut) = try runParity(Config(name: "\(shape), bands", tuning: OpenCLTuning(kernelShape: shape, reductionSplits: 1,
                                                                                                   scratchLimit: 16)), on: device)
            for c in Self.convCases {
                let g = c.geometry!, bands = banded.convolutionBands(g)
                if banded.isWinograd(g) {
                    XCTAssertEqual(banded.winogradBandRows(m: g.k, c: g.c, oh: g.oh, ow: g.ow), 1, c.shape)
                } else {
                    XCTAssertEqual(bands.forward, 1, c.shape)
                }
                if g.padding == .zeros && !banded.isWinograd(g) { XCTAssertEqual(bands.inputGradient, 1, c.shape) }
            }
            let d = differingCases(whole, bandOut, outputs: ["y", "grad_x"]) { $0.geometry != nil }
            XCTAssertGreaterThan(d.of, 10)
            XCTAssertEqual(d.differ, 0, "\(shape): convolutions differ in bands of rows (\(d.differ) of \(d.of))")
            // Winograd's weight gradient adds each band's product in turn, so bands change the
            // order of its sum (the reference still within 1e-4, checked by runParity); the
            // implicit GEMM's does not band.
            let w = differingCases(whole, bandOut, outputs: ["grad_weight"]) { $0.geometry != nil && !banded.isWinograd($0.geometry!) }
            XCTAssertGreaterThan(w.of, 5)
            XCTAssertEqual(w.differ, 0, "\(shape): weight gradients differ in bands of rows (\(w.differ) of \(w.of))")
        }
    }

    /// Both GEMM kernels against a Double-precision product on packed panels, at shapes that
    /// leave every tile ragged: M and N not multiples of the 4-wide panels nor of the 64-wide
    /// work-group tiles (several work-groups each way), r not a multiple of the 16-deep
    /// slice, two batches and three splits. The two versions sum in the same order, so
    /// their results must agree to the bit.
    func testGEMMVersionsAtRaggedShapes() throws {
        let device = try TestDevices.requireOpenCL().device
        var results: [OpenCLTuning.GEMMVersion: [[Float]]] = [:]
        for version in [OpenCLTuning.GEMMVersion.packed, .tiled] {
            let b = try OpenCLBackend(device: device, tuning: OpenCLTuning(kernelShape: .gpu, gemmVersion: version))
            XCTAssertEqual(b.gemmVersion, version)
            var outs: [[Float]] = []
            for (m, n, r, batches, splits) in [(70, 130, 37, 2, 1), (5, 3, 1, 1, 1), (129, 66, 50, 1, 3), (64, 64, 16, 1, 1)] {
                var rng = TestRNG(UInt64(m * 1000 + n * 10 + r))
                let a = rng.array(batches * m * r), bm = rng.array(batches * r * n)  // row-major [M][R] and [R][N]
                let (t, u) = (b.gemmTile.tm, b.gemmTile.tn)
                let panelsA = b.blocks(m, t) * r * t, panelsB = b.blocks(n, u) * r * u
                let aBuf = b.buffer(a), bBuf = b.buffer(bm)
                let aPacked = b.makeBuffer(count: batches * panelsA), bPacked = b.makeBuffer(count: batches * panelsB)
                for k in 0..<batches {
                    b.copy(b.packRows(aBuf, offset: k * m * r, p: m, r: r, tile: t), srcOffset: 0, to: aPacked, dstOffset: k * panelsA, count: panelsA)
                    b.copy(b.packCols(bBuf, offset: k * r * n, p: n, r: r, tile: u), srcOffset: 0, to: bPacked, dstOffset: k * panelsB, count: panelsB)
                }
                let c = b.makeBuffer(count: batches * m * n)
                if splits == 1 {
                    b.gemm(aPacked, bPacked, c, cOffset: 0, m: m, n: n, r: r, ldc: n, batches: batches,
                           strides: (a: panelsA, b: panelsB, c: m * n))
                } else {
                    b.fill(c, value: 0)
                    b.gemmSplit(aPacked, bPacked, out: c, outOffset: 0, m: m, n: n, r: r, splits: splits, accumulate: false)
                }
                let got = b.download(c)
                try b.throwIfFailed()
                var expected = [Float](repeating: 0, count: batches * m * n)
                for k in 0..<batches {
                    for i in 0..<m {
                        for j in 0..<n {
                            var sum = 0.0
                            for q in 0..<r { sum += Double(a[(k * m + i) * r + q]) * Double(bm[(k * r + q) * n + j]) }
                            expected[(k * m + i) * n + j] = Float(sum)
                        }
                    }
                }
                let err = relativeError(got, expected)
                XCTAssertLessThan(err, 1e-5, "gemm v\(version.rawValue) \(m)x\(n)x\(r) batches \(batches) splits \(splits)")
                outs.append(got)
            }
            results[version] = outs
        }
        XCTAssertEqual(results[.packed], results[.tiled], "the two GEMM versions differ in their bits")
    }
}
