import Foundation

/// The PyTorch reference values in `Tests/Fixtures` (`cyclegan_reference.safetensors` and
/// `.json`, written by the official networks in PyTorch) compared on any backend: every op
/// case with its gradients, and the fixture's model (per-layer activations, the first
/// iteration's images, losses and gradients, the weights after one and two Adam steps).
/// `cyclegan check --fixtures` runs it on a device (a GPU machine has no XCTest); the
/// fixture tests run it on the CPU reference and on OpenCL.
public struct PyTorchFixture {
    public let tensors: SafeTensorsFile
    let json: [String: Any]
    let source: String

    /// One comparison: the worst relative error of `key` (or its largest absolute error
    /// where `absolute`) against `tolerance`.
    public struct Comparison: Sendable {
        public var group: String
        public var key: String
        public var error: Double
        public var tolerance: Double
        public var absolute = false
        public var passed: Bool { error <= tolerance }
    }

    /// Reads the two fixture files from `directory`.
    public init(directory: String) throws {
        source = directory
        tensors = try SafeTensorsFile(contentsOf: directory + "/cyclegan_reference.safetensors")
        let path = directory + "/cyclegan_reference.json"
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FileError.malformed(path, "not a JSON object of fixture settings")
        }
        json = object
    }

    private func malformed(_ what: String) -> FileError { FileError.malformed(source + "/cyclegan_reference", what) }

    /// The tensor `key` of the fixture.
    public func tensor(_ key: String) throws -> HostTensor {
        guard let t = tensors.tensors[key] else { throw malformed("no tensor \(key)") }
        return t
    }

    private func number(_ settings: [String: Any], _ key: String) throws -> Double {
        guard let v = settings[key] as? NSNumber else { throw malformed("setting \(key) is missing or not a number") }
        return v.doubleValue
    }

    // MARK: op cases

    /// The fixture's op cases, with its own inputs and PyTorch's outputs and gradients.
    public func opCases() throws -> [(name: String, case: OpCase, expected: [String: [Float]])] {
        guard let cases = json["cases"] as? [String: [String: Any]] else { throw malformed("no cases") }
        var out: [(String, OpCase, [String: [Float]])] = []
        for (name, settings) in cases.sorted(by: { $0.key < $1.key }) {
            let prefix = "op/\(name)/"
            var inputs: [String: HostTensor] = [:], expected: [String: [Float]] = [:]
            for (key, t) in tensors.tensors where key.hasPrefix(prefix) {
                let field = String(key.dropFirst(prefix.count))
                if field == "y" || field.hasPrefix("grad_") { expected[field] = t.values } else { inputs[field] = t }
            }
            guard let x = inputs["x"]?.shape, x.count == 4 else { throw malformed("case \(name) has no 4-D input x") }
            func int(_ key: String) throws -> Int { Int(try number(settings, key)) }
            let run: (Backend, [String: HostTensor]) -> [String: [Float]]
            switch settings["op"] as? String ?? "" {
            case "conv2d":
                guard let w = inputs["weight"]?.shape, w.count == 4 else { throw malformed("case \(name) has no weight") }
                let g = Conv2dGeometry(n: x[0], c: x[1], h: x[2], w: x[3], k: w[0], kh: w[2], kw: w[3], stride: try int("stride"),
                                       pad: try int("padding"), padding: settings["padding_mode"] as? String == "reflect" ? .reflect : .zeros)
                run = OpRunner.conv2d(g)
            case "conv_transpose2d":
                guard let w = inputs["weight"]?.shape, w.count == 4 else { throw malformed("case \(name) has no weight") }
                let g = Conv2dGeometry.transposed(n: x[0], cin: x[1], h: x[2], w: x[3], cout: w[1], kernel: w[2],
                                                  stride: try int("stride"), pad: try int("padding"),
                                                  outputPadding: try int("output_padding"))
                run = OpRunner.convTranspose2d(g)
            case "instance_norm2d":
                run = OpRunner.instanceNorm(planes: x[0] * x[1], hw: x[2] * x[3], eps: Float(try number(settings, "eps")))
            case "leaky_relu": run = OpRunner.leakyReLU(slope: Float(try number(settings, "slope")))
            case "tanh": run = OpRunner.tanh()
            case "mse": run = OpRunner.mse(target: Float(try number(settings, "target")))
            case "l1_mean": run = OpRunner.l1()
            default: throw malformed("case \(name): unknown op \(settings["op"] ?? "none")")
            }
            out.append((name, OpCase(op: name, shape: "\(x)", inputs: inputs, run: run), expected))
        }
        return out
    }

    /// Every op case's outputs and gradients on `backend` against PyTorch's.
    public func compareOps(on backend: Backend, tolerance: Double) throws -> [Comparison] {
        var result: [Comparison] = []
        for (name, c, expected) in try opCases() {
            let got = c.outputs(on: backend)
            try backend.throwIfFailed()
            for (field, ref) in expected.sorted(by: { $0.key < $1.key }) {
                guard let ours = got[field], ours.count == ref.count else { throw malformed("\(name): no output \(field) of its size") }
                result.append(Comparison(group: "op", key: "\(name)/\(field)", error: relativeError(ours, ref), tolerance: tolerance))
            }
        }
        return result
    }

    // MARK: the model

    /// The fixture model's configuration (ngf 8, ndf 8, 2 blocks).
    public func modelConfig() throws -> CycleGANConfig {
        guard let m = json["model"] as? [String: Any] else { throw malformed("no model settings") }
        var c = CycleGANConfig()
        c.ngf = Int(try number(m, "ngf")); c.ndf = Int(try number(m, "ndf")); c.nBlocks = Int(try number(m, "n_blocks"))
        c.nLayersD = Int(try number(m, "n_layers_D")); c.inputNC = Int(try number(m, "nc")); c.outputNC = c.inputNC
        c.lambdaA = Float(try number(m, "lambda_A")); c.lambdaB = Float(try number(m, "lambda_B"))
        c.lambdaIdentity = Float(try number(m, "lambda_identity"))
        c.poolSize = Int(try number(m, "pool_size")); c.lr = try number(m, "lr"); c.beta1 = try number(m, "beta1")
        guard let mode = (m["gan_mode"] as? String).flatMap(GANMode.init) else { throw malformed("gan_mode") }
        c.ganMode = mode
        return c
    }

    /// A model with the fixture's initial weights.
    public func model(on backend: Backend) throws -> CycleGANModel {
        let model = CycleGANModel(try modelConfig(), on: backend)
        for (name, net) in model.networks {
            var dict: [String: HostTensor] = [:]
            for (k, t) in tensors.tensors where k.hasPrefix("init/\(name)/") { dict[String(k.dropFirst(name.count + 6))] = t }
            try net.loadStateDict(dict)
        }
        return model
    }

    private func input(_ key: String, on b: Backend) throws -> Tensor {
        let t = try tensor(key)
        return Tensor(shape: t.shape, values: t.values, on: b)
    }

    /// Conv biases that feed an instance norm: their gradient is zero up to rounding, so
    /// they are compared by absolute error (and their weights after a step not at all).
    static func feedsInstanceNorm(_ net: String, _ key: String, nBlocks: Int) -> Bool {
        guard key.hasSuffix(".bias") else { return false }
        if net.hasPrefix("D") { return ["model.2.bias", "model.5.bias", "model.8.bias"].contains(key) }
        return key != "model.\(17 + nBlocks).bias"
    }

    /// Reflect-pads an NCHW host tensor (PyTorch's ReflectionPad2d), for the pad layers the
    /// generator folds into the next convolution.
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

    /// The model on `backend` against PyTorch: activations (`forwardTolerance`), the first
    /// step's images and losses (`forwardTolerance`), gradients and the weights after one
    /// step (1e-4), the second step's losses (1e-4) and weights (2e-4: a weight after two
    /// Adam steps depends on a ratio of gradients, which amplifies the fixture's own fp32
    /// rounding; PyTorch in float64 lands 1.26e-4 from its float32 fixture, see
    /// Tests/Fixtures/after2_precision_check.py).
    public func compareModel(on backend: Backend, forwardTolerance: Double) throws -> [Comparison] {
        var out: [Comparison] = []
        func compare(_ group: String, _ key: String, _ ours: [Float], _ ref: [Float], _ tolerance: Double) throws {
            guard ours.count == ref.count else { throw malformed("\(key): \(ours.count) values, the fixture has \(ref.count)") }
            out.append(Comparison(group: group, key: key, error: relativeError(ours, ref), tolerance: tolerance))
        }
        let model = try model(on: backend)
        let n = model.config.nBlocks
        let realA = try input("step1/real_A", on: backend), realB = try input("step1/real_B", on: backend)

        // Per-layer activations (no grad), G_A on real_A and D_A on real_B.
        var acts: [String: Tensor] = [:]
        guard let gA = model.netG_A as? ResnetGenerator else { throw malformed("the fixture's generators are ResNets") }
        withNoGrad {
            _ = gA(realA) { k, t in acts["G_A/" + k] = t }
            _ = model.netD_A(realB) { k, t in acts["D_A/" + k] = t }
        }
        for (key, ref) in tensors.tensors.sorted(by: { $0.key < $1.key }) where key.hasPrefix("act/") {
            let name = String(key.dropFirst(4))
            if name == "G_A/model.0" {  // the reflect pad folded into model.1
                try compare("activations", key, Self.reflectPad(realA.toArray(), realA.shape, 3), ref.values, 0)
            } else if name == "G_A/model.\(16 + n)", let prev = acts["G_A/model.\(15 + n)"] {  // folded into model.<17+n>
                try compare("activations", key, Self.reflectPad(prev.toArray(), prev.shape, 3), ref.values, forwardTolerance)
            } else {
                guard let ours = acts[name], ours.shape == ref.shape else { throw malformed("no activation \(name) of shape \(ref.shape)") }
                try compare("activations", key, ours.toArray(), ref.values, forwardTolerance)
            }
        }

        // Iteration 1.
        let losses1 = try model.step(realA: realA, realB: realB)
        guard let v = model.visuals else { throw malformed("no visuals after a step") }
        for (name, t) in [("fake_B", v.fakeB), ("rec_A", v.recA), ("fake_A", v.fakeA), ("rec_B", v.recB),
                          ("idt_A", v.idtA), ("idt_B", v.idtB)] {
            guard let t else { throw malformed("no \(name) image") }
            try compare("step1 images", name, t.toArray(), try tensor("step1/\(name)").values, forwardTolerance)
        }
        func losses(_ key: String, _ values: [Float], _ tolerance: Double) throws {
            guard let ref = json[key] as? [String: Double] else { throw malformed("no \(key)") }
            for (name, value) in zip(CycleGANLosses.names, values) {
                guard let r = ref[name] else { throw malformed("\(key) has no \(name)") }
                try compare(key.replacingOccurrences(of: "_", with: " "), name, [value], [Float(r)], tolerance)
            }
        }
        try losses("step1_losses", losses1.values, forwardTolerance)
        // Gradients (G from loss_G, D from loss_D_A + loss_D_B).
        for (net, module) in model.networks {
            for (key, p) in module.namedParameters() {
                let ref = try tensor("step1/grad/\(net)/\(key)").values
                guard let g = p.grad?.toArray() else { throw malformed("\(net) \(key): no gradient") }
                if Self.feedsInstanceNorm(net, key, nBlocks: n) {
                    let e = zip(g, ref).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) }
                    out.append(Comparison(group: "gradients of IN-fed biases (max abs)", key: "\(net) \(key)", error: e,
                                          tolerance: 1e-5, absolute: true))
                } else {
                    try compare("gradients", "\(net) \(key)", g, ref, Tolerance.fp32.rtol)
                }
            }
        }
        func weights(_ prefix: String, _ tolerance: Double) throws {
            for (net, module) in model.networks {
                for (key, p) in module.namedParameters() where !Self.feedsInstanceNorm(net, key, nBlocks: n) {
                    try compare("weights \(prefix)", "\(net) \(key)", p.toArray(), try tensor("\(prefix)/\(net)/\(key)").values, tolerance)
                }
            }
        }
        try weights("after1", Tolerance.fp32.rtol)

        // Iteration 2.
        let losses2 = try model.step(realA: try input("step2/real_A", on: backend), realB: try input("step2/real_B", on: backend))
        try losses("step2_losses", losses2.values, Tolerance.fp32.rtol)
        try weights("after2", 2e-4)
        try backend.throwIfFailed()
        return out
    }
}
