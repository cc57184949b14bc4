import Foundation

/// The PyTorch reference values in `Tests/Fixtures/pix2pix_reference.safetensors` and
/// `.json` (written by `Tests/Fixtures/make_pix2pix_reference.py` with the official classes'
/// semantics), compared on any backend: a U-Net with batch norm and dropout (a training-mode
/// forward and every gradient, the running statistics after it, an evaluation-mode
/// forward), and two pix2pix training iterations (the first's image, losses and gradients,
/// the weights and running statistics after each). The dropout masks come from the same
/// stream on both sides: the fixture records the stream's starting state.
public struct Pix2PixFixture {
    public let tensors: SafeTensorsFile
    let json: [String: Any]
    let source: String
    public typealias Comparison = PyTorchFixture.Comparison

    public init(directory: String) throws {
        source = directory + "/pix2pix_reference"
        tensors = try SafeTensorsFile(contentsOf: source + ".safetensors")
        guard let data = FileManager.default.contents(atPath: source + ".json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FileError.malformed(source + ".json", "not a JSON object of fixture settings")
        }
        json = object
    }

    private func malformed(_ what: String) -> FileError { FileError.malformed(source, what) }

    private func tensor(_ key: String) throws -> HostTensor {
        guard let t = tensors.tensors[key] else { throw malformed("no tensor \(key)") }
        return t
    }

    private func input(_ key: String, on b: Backend) throws -> Tensor {
        let t = try tensor(key)
        return Tensor(shape: t.shape, values: t.values, on: b)
    }

    private func settings(_ part: String) throws -> [String: Any] {
        guard let s = json[part] as? [String: Any] else { throw malformed("no \(part) settings") }
        return s
    }

    private func int(_ s: [String: Any], _ key: String) throws -> Int {
        guard let v = s[key] as? NSNumber else { throw malformed("setting \(key) is missing or not a number") }
        return v.intValue
    }

    private func streamState(_ s: [String: Any]) throws -> UInt64 {
        guard let text = s["dropout_stream_state"] as? String, let v = UInt64(text) else {
            throw malformed("dropout_stream_state is missing or not an unsigned 64-bit integer")
        }
        return v
    }

    /// The state dict under `prefix` (`unet/init/`, `pix2pix/after1/G/`, …).
    private func dict(_ prefix: String) -> [String: HostTensor] {
        var d: [String: HostTensor] = [:]
        for (k, t) in tensors.tensors where k.hasPrefix(prefix) { d[String(k.dropFirst(prefix.count))] = t }
        return d
    }

    private func compare(_ out: inout [Comparison], _ group: String, _ key: String, _ ours: [Float], _ ref: [Float],
                         _ tolerance: Double) throws {
        guard ours.count == ref.count else { throw malformed("\(key): \(ours.count) values, the fixture has \(ref.count)") }
        out.append(Comparison(group: group, key: key, error: relativeError(ours, ref), tolerance: tolerance))
    }

    /// Part 1, the U-Net (unet_128's layout): forward (`forwardTolerance`), gradients and the
    /// running statistics (1e-4), the evaluation-mode forward (`forwardTolerance`).
    public func compareUnet(on backend: Backend, forwardTolerance: Double) throws -> [Comparison] {
        let s = try settings("unet")
        let g = UnetGenerator(inputNC: try int(s, "input_nc"), outputNC: try int(s, "output_nc"), numDowns: try int(s, "num_downs"),
                              ngf: try int(s, "ngf"), norm: .batch, dropout: true, on: backend)
        try g.loadStateDict(dict("unet/init/"))
        g.mode.dropoutRandom.state = try streamState(s)
        var out: [Comparison] = []
        let x = try input("unet/x", on: backend)
        x.requiresGrad = true
        let y = g(x)
        try compare(&out, "unet forward", "y", y.toArray(), try tensor("unet/y").values, forwardTolerance)
        y.backward(gradient: try input("unet/gy", on: backend))
        guard let gx = x.grad else { throw malformed("no input gradient") }
        try compare(&out, "unet gradients", "x", gx.toArray(), try tensor("unet/grad_x").values, Tolerance.fp32.rtol)
        for (key, p) in g.namedParameters() {
            guard let grad = p.grad else { throw malformed("\(key): no gradient") }
            try compare(&out, "unet gradients", key, grad.toArray(), try tensor("unet/grad/\(key)").values, Tolerance.fp32.rtol)
        }
        for (key, b) in g.namedBuffers() {
            try compare(&out, "unet running statistics", key, b.toArray(), try tensor("unet/after/\(key)").values, Tolerance.fp32.rtol)
        }
        g.mode.training = false
        let yEval = withNoGrad { g(x) }
        try compare(&out, "unet eval forward", "y_eval", yEval.toArray(), try tensor("unet/y_eval").values, forwardTolerance)
        try backend.throwIfFailed()
        return out
    }

    /// The fixture's pix2pix configuration.
    public func pix2pixConfig() throws -> CycleGANConfig {
        let s = try settings("pix2pix")
        var c = CycleGANConfig()
        c.inputNC = try int(s, "input_nc"); c.outputNC = try int(s, "output_nc")
        c.ngf = try int(s, "ngf"); c.ndf = try int(s, "ndf")
        c.netG = try int(s, "num_downs") == 8 ? "unet_256" : "unet_128"
        c.netD = "basic"; c.nLayersD = try int(s, "n_layers_D")
        c.norm = .batch; c.dropout = true; c.poolSize = 0
        guard let mode = (s["gan_mode"] as? String).flatMap(GANMode.init),
              let l1 = s["lambda_L1"] as? NSNumber, let lr = s["lr"] as? NSNumber, let beta1 = s["beta1"] as? NSNumber else {
            throw malformed("pix2pix settings: gan_mode, lambda_L1, lr, beta1")
        }
        c.ganMode = mode; c.lambdaL1 = l1.floatValue; c.lr = lr.doubleValue; c.beta1 = beta1.doubleValue
        return c
    }

    /// Part 2, two pix2pix iterations: the first's fake_B and losses (`forwardTolerance`),
    /// its gradients (1e-4), the weights and running statistics after it (1e-4); the second's
    /// losses (1e-4) and weights (2e-4, as the CycleGAN fixture's second step).
    public func compareTraining(on backend: Backend, forwardTolerance: Double) throws -> [Comparison] {
        let s = try settings("pix2pix")
        let model = Pix2PixModel(try pix2pixConfig(), on: backend)
        for (name, net) in model.networks { try net.loadStateDict(dict("pix2pix/init/\(name)/")) }
        model.netG.mode.dropoutRandom.state = try streamState(s)
        var out: [Comparison] = []
        func losses(_ key: String, _ got: Losses, _ tolerance: Double) throws {
            guard let ref = json[key] as? [String: Double] else { throw malformed("no \(key)") }
            for name in Pix2PixModel.lossNames {
                guard let r = ref[name], let v = got[name] else { throw malformed("\(key) has no \(name)") }
                try compare(&out, key.replacingOccurrences(of: "_", with: " "), name, [v], [Float(r)], tolerance)
            }
        }
        func state(_ prefix: String, _ tolerance: Double) throws {
            for (net, module) in model.networks {
                for (key, t) in module.namedParameters() + module.namedBuffers() {
                    try compare(&out, "weights \(prefix)", "\(net) \(key)", t.toArray(),
                                try tensor("pix2pix/\(prefix)/\(net)/\(key)").values, tolerance)
                }
            }
        }
        let losses1 = try model.trainingStep(realA: try input("pix2pix/step1/real_A", on: backend),
                                             realB: try input("pix2pix/step1/real_B", on: backend))
        guard let fakeB = model.currentVisuals.first(where: { $0.0 == "fake_B" })?.1 else { throw malformed("no fake_B") }
        try compare(&out, "step1 images", "fake_B", fakeB.toArray(), try tensor("pix2pix/step1/fake_B").values, forwardTolerance)
        try losses("step1_losses", losses1, forwardTolerance)
        for (net, module) in model.networks {
            for (key, p) in module.namedParameters() {
                guard let g = p.grad else { throw malformed("\(net) \(key): no gradient") }
                try compare(&out, "gradients", "\(net) \(key)", g.toArray(), try tensor("pix2pix/step1/grad/\(net)/\(key)").values, Tolerance.fp32.rtol)
            }
        }
        try state("after1", Tolerance.fp32.rtol)
        let losses2 = try model.trainingStep(realA: try input("pix2pix/step2/real_A", on: backend),
                                             realB: try input("pix2pix/step2/real_B", on: backend))
        try losses("step2_losses", losses2, Tolerance.fp32.rtol)
        try state("after2", 2e-4)
        try backend.throwIfFailed()
        return out
    }
}
