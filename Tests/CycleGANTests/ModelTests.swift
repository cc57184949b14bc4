import XCTest
@testable import CycleGAN

final class ModelTests: XCTestCase {
    let cpu = TestDevices.cpu

    func testParameterCountsAndKeysMatchTheOfficialNetworks() {
        let g9 = ResnetGenerator(ngf: 64, nBlocks: 9, on: cpu)
        XCTAssertEqual(g9.parameterCount, 11_378_179)
        XCTAssertEqual(g9.namedParameters().count, 48)
        XCTAssertTrue(g9.namedParameters().contains { $0.0 == "model.10.conv_block.5.weight" })
        XCTAssertEqual(g9.namedParameters().last?.0, "model.26.bias")
        let g6 = ResnetGenerator(ngf: 64, nBlocks: 6, on: cpu)
        XCTAssertEqual(g6.namedParameters().count, 36)
        XCTAssertEqual(Set(g6.namedParameters().map { $0.0 }).isSuperset(of: ["model.16.weight", "model.19.weight", "model.23.weight"]), true)
        let d = NLayerDiscriminator(ndf: 64, nLayers: 3, on: cpu)
        XCTAssertEqual(d.parameterCount, 2_764_737)
        XCTAssertEqual(d.namedParameters().map { $0.0 }, ["model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias",
                                                        "model.5.weight", "model.5.bias", "model.8.weight", "model.8.bias",
                                                        "model.11.weight", "model.11.bias"])
        let p = PixelDiscriminator(ndf: 64, on: cpu)
        XCTAssertEqual(p.parameterCount, 8_705)
        XCTAssertEqual(p.namedParameters().map { $0.0 }, ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias", "net.5.weight", "net.5.bias"])
    }

    func testLoadStateDictReportsEveryMismatchByName() {
        let d = NLayerDiscriminator(ndf: 4, nLayers: 3, on: cpu)
        var dict = d.stateDict()
        dict.removeValue(forKey: "model.2.bias")
        dict["model.99.weight"] = HostTensor(shape: [1], values: [0])
        dict["model.0.weight"] = HostTensor(shape: [1, 1], values: [0])
        XCTAssertThrowsError(try d.loadStateDict(dict)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("missing keys: model.2.bias"), text)
            XCTAssertTrue(text.contains("unexpected keys: model.99.weight"), text)
            XCTAssertTrue(text.contains("model.0.weight: expected shape [4, 3, 4, 4], found [1, 1]"), text)
        }
        // a matching dict loads
        let other = NLayerDiscriminator(ndf: 4, nLayers: 3, on: cpu)
        initWeights(other, seed: 5)
        XCTAssertNoThrow(try d.loadStateDict(other.stateDict()))
        XCTAssertEqual(d.stateDict(), other.stateDict())
    }

    func testInitialisationTypes() {
        let conv = Conv2d(64, 32, kernelSize: 3, on: cpu)
        for type in InitType.allCases {
            initWeights(conv, type: type, gain: 0.02, seed: 9)
            let w = conv.weight.toArray()
            let std = (w.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(w.count)).squareRoot()
            XCTAssertEqual(conv.bias!.toArray(), [Float](repeating: 0, count: 32))
            switch type {
            case .normal: XCTAssertEqual(std, 0.02, accuracy: 0.001)
            case .xavier: XCTAssertEqual(std, 0.02 * (2.0 / Double(64 * 9 + 32 * 9)).squareRoot(), accuracy: 0.0001)
            case .kaiming: XCTAssertEqual(std, (2.0 / Double(64 * 9)).squareRoot(), accuracy: 0.003)
            case .orthogonal:
                // rows (32 of length 576) orthonormal times the gain
                for (a, b) in [(0, 0), (0, 1), (5, 17), (31, 31)] {
                    var dot = 0.0
                    for i in 0..<576 { dot += Double(w[a * 576 + i]) * Double(w[b * 576 + i]) }
                    XCTAssertEqual(dot, a == b ? 0.0004 : 0, accuracy: 1e-7)
                }
            }
        }
        // the seed decides the numbers
        initWeights(conv, seed: 1); let a = conv.weight.toArray()
        initWeights(conv, seed: 1); XCTAssertEqual(conv.weight.toArray(), a)
        initWeights(conv, seed: 2); XCTAssertNotEqual(conv.weight.toArray(), a)
    }

    func testLearningRatePolicies() {
        let linear = LRSchedule(policy: .linear, lr: 2e-4, epochCount: 1, nEpochs: 100, nEpochsDecay: 100)
        XCTAssertEqual(linear.rate(afterEpochs: 0), 2e-4)
        XCTAssertEqual(linear.rate(afterEpochs: 99), 2e-4)
        XCTAssertEqual(linear.rate(afterEpochs: 100), 2e-4 * (1 - 1.0 / 101), accuracy: 1e-12)
        XCTAssertEqual(linear.rate(afterEpochs: 199), 2e-4 * (1 - 100.0 / 101), accuracy: 1e-12)
        let step = LRSchedule(policy: .step, lr: 1, lrDecayIters: 50)
        XCTAssertEqual(step.rate(afterEpochs: 49), 1)
        XCTAssertEqual(step.rate(afterEpochs: 50), 0.1, accuracy: 1e-12)
        let cosine = LRSchedule(policy: .cosine, lr: 1, nEpochs: 10)
        XCTAssertEqual(cosine.rate(afterEpochs: 5), 0.5, accuracy: 1e-12)
        XCTAssertEqual(cosine.rate(afterEpochs: 10), 0, accuracy: 1e-12)
    }

    /// A scripted random source for the pool's random branch.
    struct Scripted: PoolRandomSource {
        var uniforms: [Double], ints: [Int]
        mutating func uniform() -> Double { uniforms.removeFirst() }
        mutating func int(below n: Int) -> Int { ints.removeFirst() }
    }

    func testImagePoolFillsThenSwapsWithProbabilityOneHalf() {
        let pool = ImagePool(size: 2)
        var r = Scripted(uniforms: [0.7, 0.3], ints: [1])
        func batch(_ v: Float) -> Tensor { Tensor(shape: [1, 1, 1, 2], values: [v, v + 0.5], on: cpu) }
        XCTAssertEqual(pool.query(batch(1), random: &r).toArray(), [1, 1.5])   // stored
        XCTAssertEqual(pool.query(batch(2), random: &r).toArray(), [2, 2.5])   // stored, pool full
        // u = 0.7 > 0.5: returns stored image 1 (value 2) and stores the new one there
        XCTAssertEqual(pool.query(batch(3), random: &r).toArray(), [2, 2.5])
        XCTAssertEqual(pool.images[1].toArray(), [3, 3.5])
        // u = 0.3: returns the new image
        XCTAssertEqual(pool.query(batch(4), random: &r).toArray(), [4, 4.5])
        XCTAssertEqual(pool.images.map { $0.toArray()[0] }, [1, 3])
        // size 0: unchanged
        var r0 = Scripted(uniforms: [], ints: [])
        XCTAssertEqual(ImagePool(size: 0).query(batch(5), random: &r0).toArray(), [5, 5.5])
        // a batch of two is handled image by image
        let pool2 = ImagePool(size: 3)
        let two = Tensor(shape: [2, 1, 1, 1], values: [7, 8], on: cpu)
        XCTAssertEqual(pool2.query(two, random: &r0).toArray(), [7, 8])
        XCTAssertEqual(pool2.images.count, 2)
    }

    func testFrozenDiscriminatorGetsNoGradientButPassesItThrough() {
        let g = ResnetGenerator(inputNC: 3, outputNC: 3, ngf: 4, nBlocks: 1, on: cpu)
        let d = NLayerDiscriminator(inputNC: 3, ndf: 4, nLayers: 2, on: cpu)
        initWeights(g, seed: 1); initWeights(d, seed: 2)
        d.setRequiresGrad(false)
        let x = randomTensor([1, 3, 16, 16], seed: 3, on: cpu)
        d(g(x), record: nil).mseLoss(target: 1).backward()
        for p in d.parameters() { XCTAssertNil(p.grad) }
        for (k, p) in g.namedParameters() {
            XCTAssertNotNil(p.grad, k)
        }
        let norm = g.parameters().compactMap { $0.grad?.toArray() }.flatMap { $0 }.reduce(0) { $0 + abs($1) }
        XCTAssertGreaterThan(norm, 0)
    }

    /// Finite differences through a whole tiny generator and a loss.
    func testGeneratorGradientAgreesWithFiniteDifferences() {
        let g = ResnetGenerator(inputNC: 2, outputNC: 2, ngf: 3, nBlocks: 1, on: cpu)
        initWeights(g, gain: 0.3, seed: 11)
        let x = randomTensor([1, 2, 8, 8], seed: 12, on: cpu)
        let target = randomTensor([1, 2, 8, 8], seed: 13, -0.5, 0.5, on: cpu)
        func loss() -> Double { Double(withNoGrad { g(x).mseLoss(target: 0.2) }.item()) }
        g.zeroGrad()
        g(x).mseLoss(target: 0.2).backward()
        var analytic: [Float] = [], numeric: [Float] = []
        var rng = TestRNG(3)
        for (_, p) in g.namedParameters() where p.shape.count == 4 {
            let grad = p.grad!.toArray()
            for _ in 0..<4 {
                let i = Int(rng.next() % UInt64(p.count))
                var v = p.toArray()
                let h: Float = 1e-3
                v[i] += h; cpu.upload(v, to: p.buffer); let lp = loss()
                v[i] -= 2 * h; cpu.upload(v, to: p.buffer); let lm = loss()
                v[i] += h; cpu.upload(v, to: p.buffer)
                analytic.append(grad[i]); numeric.append(Float((lp - lm) / Double(2 * h)))
            }
        }
        XCTAssertEqual(analytic.count, 32)
        XCTAssertLessThan(relativeError(analytic, numeric), 5e-3)
    }

    func testSeededTrainingOnTheCPUReferenceIsBitReproducible() throws {
        func run() throws -> [[Float]] {
            var c = CycleGANConfig()
            c.ngf = 4; c.ndf = 4; c.nBlocks = 1; c.seed = 77; c.poolSize = 1
            let m = CycleGANModel(c, on: cpu)
            var out: [[Float]] = []
            for s in 0..<3 {
                let a = Tensor(shape: [1, 3, 32, 32], values: randomHostTensor([1, 3, 32, 32], seed: UInt64(100 + s)).values, on: cpu)
                let b = Tensor(shape: [1, 3, 32, 32], values: randomHostTensor([1, 3, 32, 32], seed: UInt64(200 + s)).values, on: cpu)
                out.append(try m.step(realA: a, realB: b).values)
            }
            return out
        }
        let first = try run(), second = try run()
        XCTAssertEqual(first, second)
        XCTAssertTrue(first.allSatisfy { $0.allSatisfy { $0.isFinite && $0 != 0 } })
    }

    /// The graph is released by backward: the same network runs three times in a step and
    /// device memory returns to where it was.
    func testBackwardReleasesSavedTensors() throws {
        let ocl = try TestDevices.requireOpenCL()
        var c = CycleGANConfig()
        c.ngf = 4; c.ndf = 4; c.nBlocks = 1; c.poolSize = 1
        let m = CycleGANModel(c, on: ocl)
        let a = randomTensor([1, 3, 32, 32], seed: 1, on: ocl)
        let b = randomTensor([1, 3, 32, 32], seed: 2, on: ocl)
        // Step 1 creates the Adam moments and the pool's image; step 2 runs while step 1's
        // gradients are still held (they are cleared at each phase's zero_grad).
        try m.step(realA: a, realB: b)
        try m.step(realA: a, realB: b)
        let allocations = ocl.bufferAllocations
        try m.step(realA: a, realB: b)
        try m.step(realA: a, realB: b)
        XCTAssertEqual(ocl.bufferAllocations, allocations, "a warm training step creates no device buffers")
    }

    /// The networks run each norm fused with the layer after it unless a layer's output is
    /// recorded: both ways give the same outputs and parameter gradients, bit for bit on
    /// OpenCL in both kernel shapes (the fused kernels evaluate the same float expressions
    /// in the same order), and within rounding on the CPU reference (whose fused backward
    /// recomputes the normalised value from the float statistics).
    func testFusedNormsGiveTheUnfusedOutputsAndGradients() throws {
        let device = try TestDevices.requireOpenCL().device
        let backends: [(String, Backend)] = [
            ("cpu-ref", cpu),
            ("opencl cpu-shaped", try OpenCLBackend(device: device, tuning: OpenCLTuning(kernelShape: .cpu))),
            ("opencl gpu-shaped", try OpenCLBackend(device: device, tuning: OpenCLTuning(kernelShape: .gpu))),
        ]
        for (name, be) in backends {
            let g = ResnetGenerator(inputNC: 3, outputNC: 3, ngf: 4, nBlocks: 2, on: be)
            let d = NLayerDiscriminator(inputNC: 3, ndf: 4, nLayers: 3, on: be)
            let p = PixelDiscriminator(inputNC: 3, ndf: 4, on: be)
            initWeights(g, seed: 21); initWeights(d, seed: 22); initWeights(p, seed: 23)
            let x = randomTensor([1, 3, 32, 32], seed: 24, on: be)
            let modules: [Module] = [g, d, p]
            func run(fused: Bool) -> (outputs: [[Float]], grads: [[Float]]) {
                let record: ((String, Tensor) -> Void)? = fused ? nil : { _, _ in }
                for m in modules { m.zeroGrad() }
                let fake = g(x, record: record), patch = d(fake, record: record), pixel = p(fake, record: record)
                (patch.mseLoss(target: 1) + pixel.mseLoss(target: 0) + fake.l1Loss(x)).backward()
                return ([fake, patch, pixel].map { $0.toArray() }, modules.flatMap { $0.parameters() }.map { $0.grad!.toArray() })
            }
            let fused = run(fused: true), unfused = run(fused: false)
            // Inference (no graph): the fused norms overwrite their inputs, with the same values.
            let inferred = withNoGrad { () -> [[Float]] in
                let fake = g(x, record: nil)
                return [fake, d(fake, record: nil), p(fake, record: nil)].map { $0.toArray() }
            }
            for (a, b) in zip(inferred, fused.outputs) {
                if be is CPUBackend { XCTAssertEqual(a, b, "\(name): in-place inference differs") } else { XCTAssertEqual(a, b) }
            }
            XCTAssertEqual(fused.grads.count, unfused.grads.count)
            // (the bias gradients of convs followed by a norm are 0 up to rounding: measured
            // against the largest value of their kind, not their own)
            let scale = (unfused.outputs + unfused.grads).map { $0.map { abs($0) }.max() ?? 0 }
            for (i, (a, b)) in zip(fused.outputs + fused.grads, unfused.outputs + unfused.grads).enumerated() {
                if be is CPUBackend {
                    let kindScale = i < 3 ? scale[..<3].max()! : scale[3...].max()!
                    XCTAssertLessThanOrEqual(maxAbsError(a, b), 1e-5 * Double(kindScale), "\(name): array \(i)")
                } else {
                    XCTAssertEqual(a, b, "\(name): fused and unfused differ in their bits")
                }
            }
            XCTAssertTrue(fused.grads.allSatisfy { $0.contains { $0 != 0 } }, "\(name): every parameter gets a gradient")
        }
    }
}
