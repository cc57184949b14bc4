import XCTest
@testable import CycleGAN

/// The PyTorch fixture's model (ngf 8, ndf 8, 2 blocks, 32×32, batch 2): per-layer
/// activations, the first iteration's images, losses and gradients, and the weights after
/// one and two iterations, on the CPU reference and on OpenCL.
final class FixtureModelTests: XCTestCase {
    static func config() -> CycleGANConfig {
        let m = Fixture.json["model"] as! [String: Any]
        var c = CycleGANConfig()
        c.ngf = m["ngf"] as! Int; c.ndf = m["ndf"] as! Int; c.nBlocks = m["n_blocks"] as! Int
        c.nLayersD = m["n_layers_D"] as! Int; c.inputNC = m["nc"] as! Int; c.outputNC = m["nc"] as! Int
        c.lambdaA = Float(m["lambda_A"] as! Double); c.lambdaB = Float(m["lambda_B"] as! Double)
        c.lambdaIdentity = Float(m["lambda_identity"] as! Double)
        c.poolSize = m["pool_size"] as! Int; c.lr = m["lr"] as! Double; c.beta1 = m["beta1"] as! Double
        c.ganMode = GANMode(rawValue: m["gan_mode"] as! String)!
        return c
    }

    /// A model with the fixture's initial weights.
    static func model(on backend: Backend) throws -> CycleGANModel {
        let model = CycleGANModel(config(), on: backend)
        for (name, net) in model.networks {
            var dict: [String: HostTensor] = [:]
            for (k, t) in Fixture.tensors.tensors where k.hasPrefix("init/\(name)/") { dict[String(k.dropFirst(name.count + 6))] = t }
            try net.loadStateDict(dict)
        }
        return model
    }

    static func input(_ key: String, on b: Backend) -> Tensor {
        let t = Fixture.tensor(key)
        return Tensor(shape: t.shape, values: t.values, on: b)
    }

    /// Conv biases that feed an instance norm: their gradient is zero up to rounding.
    static func feedsInstanceNorm(_ net: String, _ key: String, nBlocks: Int) -> Bool {
        guard key.hasSuffix(".bias") else { return false }
        if net.hasPrefix("D") { return ["model.2.bias", "model.5.bias", "model.8.bias"].contains(key) }
        return key != "model.\(17 + nBlocks).bias"
    }

    /// Worst relative error per group of tensors, for the note.
    var worst: [String: Double] = [:]

    func compare(_ group: String, _ key: String, _ ours: [Float], _ ref: [Float], tolerance: Double,
                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.count, ref.count, "\(key): size", file: file, line: line)
        guard ours.count == ref.count else { return }
        let e = relativeError(ours, ref)
        if ProcessInfo.processInfo.environment["FIXTURE_VERBOSE"] != nil { print("  \(group) \(key) \(e)") }
        worst[group] = max(worst[group] ?? 0, e)
        XCTAssertLessThanOrEqual(e, tolerance, "\(key): relative error \(e)", file: file, line: line)
    }

    /// Reflect-pads an NCHW host tensor (PyTorch's ReflectionPad2d), for the fused pad layers.
    static func reflectPad(_ v: [Float], _ s: [Int], _ p: Int) -> [Float] {
        let (n, c, h, w) = (s[0], s[1], s[2], s[3])
        let ph = h + 2 * p, pw = w + 2 * p
        var out = [Float](repeating: 0, count: n * c * ph * pw)
        for plane in 0..<(n * c) {
            for y in 0..<ph {
                for x in 0..<pw {
                    let iy = CPUBackend.reflectIndex(y - p, h), ix = CPUBackend.reflectIndex(x - p, w)
                    out[(plane * ph + y) * pw + x] = v[(plane * h + iy) * w + ix]
                }
            }
        }
        return out
    }

    func runFixture(on backend: Backend, forwardTolerance: Double) throws {
        worst = [:]
        let model = try Self.model(on: backend)
        let n = model.config.nBlocks
        let realA = Self.input("step1/real_A", on: backend), realB = Self.input("step1/real_B", on: backend)

        // Per-layer activations (no grad), G_A on real_A and D_A on real_B.
        var acts: [String: Tensor] = [:]
        withNoGrad {
            _ = model.netG_A(realA) { k, t in acts["G_A/" + k] = t }
            _ = model.netD_A(realB) { k, t in acts["D_A/" + k] = t }
        }
        var checked = 0
        for (key, ref) in Fixture.tensors.tensors where key.hasPrefix("act/") {
            let name = String(key.dropFirst(4))
            if name == "G_A/model.0" {  // the reflect pad folded into model.1
                compare("act", key, Self.reflectPad(realA.toArray(), realA.shape, 3), ref.values, tolerance: 0)
            } else if name == "G_A/model.\(16 + n)" {  // the reflect pad folded into model.<17+n>
                let prev = acts["G_A/model.\(15 + n)"]!
                compare("act", key, Self.reflectPad(prev.toArray(), prev.shape, 3), ref.values, tolerance: forwardTolerance)
            } else {
                guard let ours = acts[name] else { XCTFail("no activation \(name)"); continue }
                XCTAssertEqual(ours.shape, ref.shape, key)
                compare("act", key, ours.toArray(), ref.values, tolerance: forwardTolerance)
            }
            checked += 1
        }
        XCTAssertEqual(checked, 33)

        // Iteration 1.
        let losses1 = try model.step(realA: realA, realB: realB)
        let v = model.visuals!
        let images: [(String, Tensor?)] = [("fake_B", v.fakeB), ("rec_A", v.recA), ("fake_A", v.fakeA),
                                           ("rec_B", v.recB), ("idt_A", v.idtA), ("idt_B", v.idtB)]
        for (name, t) in images {
            compare("step1 images", name, t!.toArray(), Fixture.tensor("step1/\(name)").values, tolerance: forwardTolerance)
        }
        let refLosses1 = Fixture.json["step1_losses"] as! [String: Double]
        for (name, value) in zip(CycleGANLosses.names, losses1.values) {
            compare("step1 losses", name, [value], [Float(refLosses1[name]!)], tolerance: forwardTolerance)
        }
        // Gradients (G from loss_G, D from loss_D_A + loss_D_B).
        for (net, module) in model.networks {
            for (key, p) in module.namedParameters() {
                let ref = Fixture.tensor("step1/grad/\(net)/\(key)").values
                guard let g = p.grad?.toArray() else { XCTFail("\(net) \(key): no gradient"); continue }
                if Self.feedsInstanceNorm(net, key, nBlocks: n) {
                    let err = maxAbsError(g, ref)
                    worst["grad (IN-fed biases, max abs)"] = max(worst["grad (IN-fed biases, max abs)"] ?? 0, err)
                    XCTAssertLessThanOrEqual(err, 1e-5, "\(net) \(key): abs error \(err)")
                } else {
                    compare("grad", "\(net) \(key)", g, ref, tolerance: 1e-4)
                }
            }
        }
        // After the second Adam step a weight depends on the ratio of two gradients, which
        // amplifies the fixture's own fp32 rounding: PyTorch itself in float64 lands 1.26e-4
        // from its float32 fixture on G_B model.19.bias and 4e-5 to 6e-5 on the other G_B
        // weights (Tests/Fixtures/after2_precision_check.py); ours land at 1.24e-4 and the same
        // 3e-5 to 6e-5. So after2 is held to 2e-4; after1 and all gradients to 1e-4.
        func compareWeights(_ prefix: String, tolerance: Double) {
            for (net, module) in model.networks {
                for (key, p) in module.namedParameters() where !Self.feedsInstanceNorm(net, key, nBlocks: n) {
                    compare(prefix, "\(prefix) \(net) \(key)", p.toArray(), Fixture.tensor("\(prefix)/\(net)/\(key)").values,
                            tolerance: tolerance)
                }
            }
        }
        compareWeights("after1", tolerance: 1e-4)

        // Iteration 2.
        let losses2 = try model.step(realA: Self.input("step2/real_A", on: backend), realB: Self.input("step2/real_B", on: backend))
        let refLosses2 = Fixture.json["step2_losses"] as! [String: Double]
        for (name, value) in zip(CycleGANLosses.names, losses2.values) {
            compare("step2 losses", name, [value], [Float(refLosses2[name]!)], tolerance: 1e-4)
        }
        compareWeights("after2", tolerance: 2e-4)
        for (g, e) in worst.sorted(by: { $0.key < $1.key }) { print("fixture model \(backend.name) \(g): worst \(e)") }
    }

    func testCPUReferenceMatchesPyTorch() throws {
        try runFixture(on: TestDevices.cpu, forwardTolerance: 1e-5)
    }

    func testOpenCLMatchesPyTorch() throws {
        try runFixture(on: try TestDevices.requireOpenCL(), forwardTolerance: 1e-4)
    }
}
