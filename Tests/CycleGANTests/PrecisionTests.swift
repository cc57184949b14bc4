import XCTest
@testable import CycleGAN

/// `--precision tf32` and `--precision mixed` (Precision.swift): every op that either changes,
/// on the OpenCL device in both kernel shapes and with the direct convolutions, against the
/// CPU reference computed in the same precision; the roundings themselves, bit for bit; the
/// loss scaler's skip and halve; what FP16 storage saves. (A resume in `mixed` is exact:
/// OpenCLTrainingTests.)
final class PrecisionTests: XCTestCase {
    /// Every case whose activations `mixed` stores in FP16 (the others are FP32 in every
    /// precision), at the parity tests' awkward shapes and at the large planes.
    static let cases = (OpCases.parity + OpCases.largePlanes).filter(\.runsOnActivations)

    /// Values at the edges of the roundings: ties (to even, both ways), FP16's largest
    /// finite value and the first that rounds to infinity, FP16 subnormals and the ties
    /// between them, values below FP16's smallest subnormal, FP32 values past FP16's range
    /// and past TF32's largest, infinities and NaNs (one whose payload lies in the bits TF32
    /// drops).
    static let edges: [Float] = [
        0, -0.0, 1, -1, 1 + 0x1p-11, 1 + 3 * 0x1p-11, -(1 + 3 * 0x1p-11), 1 + 0x1p-12, 1 + 0x1p-11 + 0x1p-23,
        0.1, -0.3333333, 1234.5678, 65504, 65519.996, 65520, -65520, 70000, 1e30, .greatestFiniteMagnitude,
        -.greatestFiniteMagnitude, .infinity, -.infinity, .nan, Float(bitPattern: 0x7f80_0001), Float(bitPattern: 0xffc0_1000),
        0x1p-14, 0x1p-14 - 0x1p-25, 0x1p-14 - 0x1p-24, 6.0e-5, 1e-5, -3e-6, 0x1p-24, 0x1p-25, 3 * 0x1p-25,
        5 * 0x1p-25, 0x1p-26, 1e-40, .leastNonzeroMagnitude,
    ]

    /// Whether `a` and `b` are the same value (NaN equal to NaN, 0 and −0 told apart).
    static func same(_ a: Float, _ b: Float) -> Bool { a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern }

    func testHostRoundingsAreFP16AndTF32() {
        // TF32: 10 mantissa bits, ties to even, FP32's exponent range
        XCTAssertEqual(Rounding.tf32(1 + 0x1p-11), 1)                          // tie, to even (down)
        XCTAssertEqual(Rounding.tf32(1 + 3 * 0x1p-11), 1 + 0x1p-9)             // tie, to even (up)
        XCTAssertEqual(Rounding.tf32(1 + 0x1p-11 + 0x1p-23), 1 + 0x1p-10)      // past the tie
        XCTAssertEqual(Rounding.tf32(.greatestFiniteMagnitude), .infinity)
        XCTAssertEqual(Rounding.tf32(-(1 + 0x1p-11 + 0x1p-23)), -(1 + 0x1p-10))
        XCTAssertTrue(Rounding.tf32(.nan).isNaN)
        // FP16: the same mantissa, 5 exponent bits
        XCTAssertEqual(Rounding.half(65519.996), 65504)
        XCTAssertEqual(Rounding.half(65520), .infinity)
        XCTAssertEqual(Rounding.half(0x1p-25), 0)                              // tie between 0 and the smallest subnormal
        XCTAssertEqual(Rounding.half(3 * 0x1p-25), 0x1p-23)                    // tie, to even (up)
        XCTAssertEqual(Rounding.half(1e30), .infinity)
        for v in Self.edges where !v.isNaN && abs(v) <= 65504 && abs(v) >= 0x1p-14 {
            XCTAssertEqual(Rounding.half(v), Rounding.tf32(v), "\(v): FP16 normals have TF32's mantissa")
        }
    }

    /// The kernels round as the host does: the weight packers (`round_half` beside FP16
    /// activations, `round_tf32` under tf32), the stores into FP16 buffers (`vstore_half_rte`
    /// in the cast kernel, the host's conversion on upload), and the loads back.
    func testKernelRoundingsAreTheHostRoundings() throws {
        let device = try TestDevices.requireOpenCL().device
        let mixed = try OpenCLBackend(device: device, precision: .mixed)
        let tf32 = try OpenCLBackend(device: device, precision: .tf32)
        let n = Self.edges.count
        func packed(_ b: OpenCLBackend, half: Bool) -> [Float] {
            let src = b.makeBuffer(count: n)
            b.upload(Self.edges, to: src)
            return b.download(b.packRows(src, offset: 0, p: n, r: 1, tile: 1, half: half))
        }
        let fp16 = Self.edges.map(Rounding.half), t32 = Self.edges.map(Rounding.tf32)
        for (i, (got, want)) in zip(packed(mixed, half: true), fp16).enumerated() {
            XCTAssertTrue(Self.same(got, want), "round_half(\(Self.edges[i])) = \(got), expected \(want)")
        }
        for (i, (got, want)) in zip(packed(tf32, half: false), t32).enumerated() {
            XCTAssertTrue(Self.same(got, want), "round_tf32(\(Self.edges[i])) = \(got), expected \(want)")
        }
        for (i, (got, want)) in zip(packed(mixed, half: false), Self.edges).enumerated() {
            XCTAssertTrue(Self.same(got, want), "no rounding beside FP32 activations: \(Self.edges[i]) became \(got)")
        }
        for backend in [mixed as Backend, CPUBackend(precision: .mixed)] {
            let x = backend.makeBuffer(count: n), y = backend.makeBuffer(count: n, dtype: .float16)
            let z = backend.makeBuffer(count: n, dtype: .float16), back = backend.makeBuffer(count: n)
            backend.upload(Self.edges, to: x)
            backend.cast(x, to: y, count: n)
            backend.upload(Self.edges, to: z)
            backend.cast(y, to: back, count: n)
            for (i, want) in fp16.enumerated() {
                let (cast, uploaded, loaded) = (backend.download(y)[i], backend.download(z)[i], backend.download(back)[i])
                XCTAssertTrue(Self.same(cast, want) && Self.same(uploaded, want) && Self.same(loaded, want),
                              "\(backend.name): \(Self.edges[i]) stored in FP16 as \(cast) (cast), \(uploaded) (upload), "
                                + "loaded back as \(loaded); expected \(want)")
            }
        }
    }

    /// Runs `cases` on `backend` against the CPU reference in the same precision; asserts
    /// every output within its tolerance (Precision.fp16StoredTolerance for FP16-stored
    /// outputs under `mixed`, 1e-4 otherwise) and returns the outputs.
    @discardableResult
    func assertParity(_ backend: Backend, _ label: String, cases: [OpCase] = PrecisionTests.cases) -> [ParityResult] {
        let results = checkParity(cases, on: backend)
        var worst: [String: ParityResult] = [:]
        for r in results {
            XCTAssertTrue(r.passed, "\(label): \(r.summary)")
            let key = "\(r.output) (tolerance \(r.tolerance))"
            if r.relativeError >= (worst[key]?.relativeError ?? -1) { worst[key] = r }
        }
        for (key, r) in worst.sorted(by: { $0.key < $1.key }) { print("\(label): worst \(key): \(r.relativeError) (\(r.op) \(r.shape))") }
        return results
    }

    func testEveryActivationOpMatchesTheReferenceInMixedPrecision() throws {
        let device = try TestDevices.requireOpenCL().device
        for shape in [OpenCLTuning.KernelShape.cpu, .gpu] {
            assertParity(try OpenCLBackend(device: device, tuning: OpenCLTuning(kernelShape: shape), precision: .mixed),
                         "mixed, \(shape)-shaped")
        }
        let convs = Self.cases.filter { $0.geometry != nil }
        assertParity(try OpenCLBackend(device: device, convAlgorithm: .direct, precision: .mixed), "mixed, direct", cases: convs)
    }

    func testEveryConvolutionMatchesTheReferenceInTF32() throws {
        let device = try TestDevices.requireOpenCL().device
        let convs = Self.cases.filter { $0.geometry != nil }
        for shape in [OpenCLTuning.KernelShape.cpu, .gpu] {
            assertParity(try OpenCLBackend(device: device, tuning: OpenCLTuning(kernelShape: shape), precision: .tf32),
                         "tf32, \(shape)-shaped", cases: convs)
        }
        assertParity(try OpenCLBackend(device: device, convAlgorithm: .direct, precision: .tf32), "tf32, direct", cases: convs)
    }

    /// The parity above cannot pass by both sides computing FP32: each precision moves every
    /// convolution output away from FP32's by about its rounding (FP16: 2^-11 of a value
    /// stored; TF32: a few 2^-11 of the operands, summed), on the device as on the reference.
    func testEachPrecisionChangesTheResults() throws {
        let device = try TestDevices.requireOpenCL().device
        let convs = Self.cases.filter { $0.geometry != nil && $0.inputs["x"]!.values.count > 1000 }
        XCTAssertFalse(convs.isEmpty)
        for precision in [Precision.mixed, .tf32] {
            let ocl = try OpenCLBackend(device: device, precision: precision), cpu = CPUBackend(precision: precision)
            for c in convs {
                let exact = c.outputs(on: TestDevices.cpu)
                for (name, got) in [("device", c.outputs(on: ocl)), ("reference", c.outputs(on: cpu))] {
                    for key in ["y", "grad_x", "grad_weight"] {
                        let e = relativeError(got[key]!, exact[key]!)
                        XCTAssertTrue(e > 2e-5 && e < 2e-3, "\(precision) \(name) \(c.op) \(c.shape) \(key): \(e) from FP32")
                    }
                }
            }
        }
    }

    // MARK: the loss scaler

    /// Gradients with an inf or a NaN: the step is skipped (parameters, moments and step
    /// counts unchanged) and the scale halves; finite gradients are unscaled and stepped; the
    /// scale doubles after `growthInterval` clean iterations, unless that would be infinite.
    /// On both backends.
    func testLossScalerSkipsAndHalvesOnInfAndGrowsAfterTheInterval() throws {
        for backend in [try TestDevices.requireOpenCL() as Backend, TestDevices.cpu] {
            let p = Tensor(shape: [3], values: [1, 2, 3], on: backend, requiresGrad: true)
            let q = Tensor(shape: [2], values: [-1, 4], on: backend, requiresGrad: true)
            let adam = Adam([p, q], lr: 0.1)
            let scaler = LossScaler()
            for bad in [Float.infinity, -.infinity, .nan] {
                p.grad = Tensor(shape: [3], values: [65536, 0, -65536], on: backend)
                q.grad = Tensor(shape: [2], values: [bad, 1], on: backend)
                let scale = scaler.scale
                XCTAssertFalse(try scaler.step(adam), "\(backend.name): a step with \(bad) in a gradient")
                XCTAssertEqual(p.toArray(), [1, 2, 3])
                XCTAssertEqual(q.toArray(), [-1, 4])
                XCTAssertEqual(adam.steps, [0, 0])
                scaler.update()
                XCTAssertEqual(scaler.scale, scale / 2)
                XCTAssertEqual(scaler.growthTracker, 0)
            }
            XCTAssertEqual(scaler.skippedSteps, 3)
            p.grad = Tensor(shape: [3], values: [8192, 0, -8192], on: backend)   // scale 8192: unscaled 1, 0, −1
            q.grad = Tensor(shape: [2], values: [8192 * 3, 0], on: backend)
            XCTAssertTrue(try scaler.step(adam))
            XCTAssertEqual(p.grad!.toArray(), [1, 0, -1])
            XCTAssertEqual(q.grad!.toArray(), [3, 0])
            XCTAssertEqual(adam.steps, [1, 1])
            XCTAssertNotEqual(p.toArray(), [1, 2, 3])
            scaler.update()
            XCTAssertEqual(scaler.growthTracker, 1)
            scaler.restore(scale: 8, growthTracker: LossScaler.growthInterval - 1)
            scaler.update()
            XCTAssertEqual(scaler.scale, 16)
            XCTAssertEqual(scaler.growthTracker, 0)
            // as torch: no growth to infinity
            scaler.restore(scale: 0x1p127, growthTracker: LossScaler.growthInterval - 1)
            scaler.update()
            XCTAssertEqual(scaler.scale, 0x1p127)
            XCTAssertEqual(scaler.growthTracker, 0)
        }
    }

    /// A scale that overflows FP16 in a real training step (the first FP16 gradient is inf):
    /// both optimisers skip, no weight moves, the scale halves; the losses are still the
    /// forward's. The same step at a scale FP16 holds trains.
    func testAnOverflowingScaleSkipsTheTrainingStep() throws {
        let backend = try OpenCLBackend(device: try TestDevices.requireOpenCL().device, precision: .mixed)
        var c = CycleGANConfig()
        c.ngf = 4; c.ndf = 4; c.nBlocks = 1; c.poolSize = 2
        let model = CycleGANModel(c, on: backend)
        let scaler = try XCTUnwrap(model.lossScaler)
        let a = randomTensor([1, 3, 32, 32], seed: 1, on: backend), b = randomTensor([1, 3, 32, 32], seed: 2, on: backend)
        let before = model.netG_A.stateDict()
        scaler.restore(scale: 1e9, growthTracker: 5)
        let losses = try model.step(realA: a, realB: b)
        XCTAssertTrue(losses.values.allSatisfy(\.isFinite), "\(losses.values)")
        XCTAssertTrue(model.netG_A.stateDict() == before, "a skipped step moved G_A's weights")
        XCTAssertEqual(model.optimizerG.steps.max(), 0)
        XCTAssertEqual(model.optimizerD.steps.max(), 0)
        XCTAssertEqual(scaler.scale, 5e8)
        XCTAssertEqual(scaler.growthTracker, 0)
        scaler.restore(scale: 1024, growthTracker: 0)
        try model.step(realA: a, realB: b)
        XCTAssertFalse(model.netG_A.stateDict() == before, "a step at scale 1024 left G_A's weights as they were")
        XCTAssertEqual(model.optimizerG.steps.max(), 1)
        XCTAssertEqual(model.optimizerD.steps.max(), 1)
        XCTAssertEqual(scaler.scale, 1024)
        XCTAssertEqual(scaler.growthTracker, 1)
    }

    /// pix2pix in `mixed` on the device and on the reference: a U-Net with batch norm and
    /// dropout (their FP16 kernels, the skip connections' concatenation), the conditional
    /// discriminator's cat of the FP32 input with the FP16 output (promoted to FP32), the
    /// vanilla loss in FP32. Both backends take two steps (none skipped at scale 1024) and
    /// move the weights; the losses from the starting weights agree within FP16's rounding
    /// (the two backends' FP16 stores differ where their FP32 sums straddle a boundary).
    func testPix2PixTrainsInMixedPrecision() throws {
        var c = CycleGANConfig()
        c.netG = "unet_128"; c.norm = .batch; c.dropout = true; c.ngf = 4; c.ndf = 4
        c.ganMode = .vanilla; c.poolSize = 0; c.lambdaL1 = 100
        var results: [[Float]] = []  // each backend's losses of both steps
        for backend in [try OpenCLBackend(device: try TestDevices.requireOpenCL().device, precision: .mixed) as Backend,
                        CPUBackend(precision: .mixed)] {
            let model = Pix2PixModel(c, on: backend)
            let before = model.netG.stateDict()
            let a = randomTensor([1, 3, 128, 128], seed: 4, on: backend), b = randomTensor([1, 3, 128, 128], seed: 5, on: backend)
            model.lossScaler!.restore(scale: 1024, growthTracker: 0)
            var losses: [Float] = []
            for _ in 0..<2 { losses += try model.trainingStep(realA: a, realB: b).values }
            XCTAssertTrue(losses.allSatisfy(\.isFinite), "\(backend.name): \(losses)")
            XCTAssertEqual(model.optimizerG.steps.max(), 2, "\(backend.name): steps skipped at scale 1024")
            XCTAssertFalse(model.netG.stateDict() == before)
            XCTAssertEqual(model.currentVisuals.map { $0.1.dtype }, [.float32, .float16, .float32])
            results.append(losses)
        }
        // the first step's G_L1, D_real and D_fake come from the starting weights: FP16 rounding apart only
        // (G_GAN reads the D just updated, whose near-zero gradients Adam's first steps turn into ±lr either way)
        for (i, name) in Pix2PixModel.lossNames.enumerated() where name != "G_GAN" {
            let (got, want) = (results[0][i], results[1][i])
            XCTAssertLessThan(abs(got - want) / abs(want), 2e-3, "\(name): device \(got), reference \(want)")
        }
    }

    // MARK: memory

    /// What a generator's forward keeps for its backward, under `mixed` against `fp32`: the
    /// activations are FP16, so about half (the FP32 norm statistics and the FP32 input image
    /// remain).
    func testMixedPrecisionHalvesTheSavedActivations() throws {
        let device = try TestDevices.requireOpenCL().device
        var saved: [Precision: Int] = [:]
        for precision in [Precision.fp32, .mixed] {
            let backend = try OpenCLBackend(device: device, precision: precision)
            var c = CycleGANConfig()
            c.ngf = 8; c.nBlocks = 2
            let g = makeGenerator(c, inputNC: 3, outputNC: 3, on: backend)
            let x = randomTensor([1, 3, 64, 64], seed: 3, on: backend)
            backend.synchronize()
            // the weights' derived operands (Winograd transforms, packed panels) are a cache, not saved activations
            let base = backend.liveMemoryBytes - backend.derived.heldBytes
            let y = g(x)
            backend.synchronize()
            saved[precision] = backend.liveMemoryBytes - backend.derived.heldBytes - base
            XCTAssertEqual(y.dtype, precision.activationType)
            y.to(.float32).mseLoss(target: 0).backward()
            XCTAssertEqual(g.parameters().first!.grad!.dtype, .float32, "master weights' gradients stay FP32")
        }
        let ratio = Double(saved[.mixed]!) / Double(saved[.fp32]!)
        print("saved activations: fp32 \(saved[.fp32]!) bytes, mixed \(saved[.mixed]!) bytes (\(ratio))")
        XCTAssertLessThan(ratio, 0.55)
        XCTAssertGreaterThan(ratio, 0.45)
    }
}
