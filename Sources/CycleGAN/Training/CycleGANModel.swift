/// The CycleGAN configuration the trainer needs (a subset of the command-line options).
public struct CycleGANConfig: Sendable {
    public var inputNC = 3, outputNC = 3
    public var ngf = 64, ndf = 64
    public var nBlocks = 9
    public var netD = "basic"
    public var nLayersD = 3
    public var ganMode: GANMode = .lsgan
    public var lambdaA: Float = 10, lambdaB: Float = 10, lambdaIdentity: Float = 0.5
    public var poolSize = 50
    public var lr = 2e-4, beta1 = 0.5
    public var initType: InitType = .normal
    public var initGain: Float = 0.02
    public var seed: UInt64 = 0
    public init() {}
}

/// The eight losses of one iteration, in the official logging order.
public struct CycleGANLosses: Sendable {
    public var D_A: Float = 0, G_A: Float = 0, cycle_A: Float = 0, idt_A: Float = 0
    public var D_B: Float = 0, G_B: Float = 0, cycle_B: Float = 0, idt_B: Float = 0

    public static let names = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]
    public var values: [Float] { [D_A, G_A, cycle_A, idt_A, D_B, G_B, cycle_B, idt_B] }
    public var isFinite: Bool { values.allSatisfy { $0.isFinite } }
}

/// The images one iteration produced (for display and tests).
public struct CycleGANVisuals {
    public var realA: Tensor, fakeB: Tensor, recA: Tensor, idtB: Tensor?
    public var realB: Tensor, fakeA: Tensor, recB: Tensor, idtA: Tensor?
}

/// The CycleGAN model and its training iteration, exactly as the official
/// `CycleGANModel.optimize_parameters` (models/cycle_gan_model.py; docs/semantics.md, §4).
public final class CycleGANModel {
    public let config: CycleGANConfig
    public let backend: Backend
    public let netG_A: ResnetGenerator, netG_B: ResnetGenerator
    public let netD_A: any Discriminator, netD_B: any Discriminator
    public let optimizerG: Adam, optimizerD: Adam
    public let poolA: ImagePool, poolB: ImagePool
    /// The pools' random stream (saved in the train state).
    public var poolRandom: RandomStream
    let ganLoss: GANLoss
    public private(set) var visuals: CycleGANVisuals?

    public init(_ config: CycleGANConfig, on backend: Backend) {
        self.config = config
        self.backend = backend
        netG_A = ResnetGenerator(inputNC: config.inputNC, outputNC: config.outputNC, ngf: config.ngf, nBlocks: config.nBlocks, on: backend)
        netG_B = ResnetGenerator(inputNC: config.outputNC, outputNC: config.inputNC, ngf: config.ngf, nBlocks: config.nBlocks, on: backend)
        func discriminator(_ nc: Int) -> any Discriminator {
            config.netD == "pixel" ? PixelDiscriminator(inputNC: nc, ndf: config.ndf, on: backend)
                : NLayerDiscriminator(inputNC: nc, ndf: config.ndf, nLayers: config.netD == "basic" ? 3 : config.nLayersD, on: backend)
        }
        netD_A = discriminator(config.outputNC)
        netD_B = discriminator(config.inputNC)
        // Initialisation stream: one sub-seed per network.
        let initSeed = CPUBackend.mix64(config.seed, 0x1417)
        for (k, net) in ([netG_A, netG_B, netD_A, netD_B] as [Module]).enumerated() {
            initWeights(net, type: config.initType, gain: config.initGain, seed: CPUBackend.mix64(initSeed, UInt64(k)))
        }
        optimizerG = Adam(netG_A.parameters() + netG_B.parameters(), lr: config.lr, betas: (config.beta1, 0.999))
        optimizerD = Adam(netD_A.parameters() + netD_B.parameters(), lr: config.lr, betas: (config.beta1, 0.999))
        poolA = ImagePool(size: config.poolSize)
        poolB = ImagePool(size: config.poolSize)
        poolRandom = RandomStream(seed: CPUBackend.mix64(config.seed, 0x9001))
        ganLoss = GANLoss(config.ganMode)
    }

    /// The four networks by the official names.
    public var networks: [(String, Module)] {
        [("G_A", netG_A), ("G_B", netG_B), ("D_A", netD_A), ("D_B", netD_B)]
    }

    /// Sets the learning rate of both optimisers.
    public func setLearningRate(_ lr: Double) { optimizerG.lr = lr; optimizerD.lr = lr }

    /// One training iteration on a batch of each domain; returns the eight losses (the only
    /// values read back to the host). Throws the backend's first device failure, if any, in
    /// place of losses read after it.
    @discardableResult
    public func step(realA: Tensor, realB: Tensor) throws -> CycleGANLosses {
        let c = config
        // 1. forward
        let fakeB = netG_A(realA)
        let recA = netG_B(fakeB)
        let fakeA = netG_B(realB)
        let recB = netG_A(fakeA)

        // 2. generators, discriminators frozen
        netD_A.setRequiresGrad(false)
        netD_B.setRequiresGrad(false)
        optimizerG.zeroGrad()
        var idtA: Tensor? = nil, idtB: Tensor? = nil
        var lossIdtA: Tensor? = nil, lossIdtB: Tensor? = nil
        if c.lambdaIdentity > 0 {
            idtA = netG_A(realB)
            lossIdtA = idtA!.l1Loss(realB) * (c.lambdaB * c.lambdaIdentity)
            idtB = netG_B(realA)
            lossIdtB = idtB!.l1Loss(realA) * (c.lambdaA * c.lambdaIdentity)
        }
        let lossG_A = ganLoss(netD_A(fakeB, record: nil), targetIsReal: true)
        let lossG_B = ganLoss(netD_B(fakeA, record: nil), targetIsReal: true)
        let lossCycleA = recA.l1Loss(realA) * c.lambdaA
        let lossCycleB = recB.l1Loss(realB) * c.lambdaB
        var lossG = lossG_A + lossG_B + lossCycleA + lossCycleB
        if let lossIdtA, let lossIdtB { lossG = lossG + lossIdtA + lossIdtB }
        lossG.backward()
        optimizerG.step()

        // 3. discriminators
        netD_A.setRequiresGrad(true)
        netD_B.setRequiresGrad(true)
        optimizerD.zeroGrad()
        let lossD_A = backwardD(netD_A, real: realB, fake: poolB.query(fakeB.detach(), random: &poolRandom))
        let lossD_B = backwardD(netD_B, real: realA, fake: poolA.query(fakeA.detach(), random: &poolRandom))
        optimizerD.step()

        visuals = CycleGANVisuals(realA: realA, fakeB: fakeB.detach(), recA: recA.detach(), idtB: idtB?.detach(),
                                  realB: realB, fakeA: fakeA.detach(), recB: recB.detach(), idtA: idtA?.detach())
        // The one host synchronisation of the step: the eight losses in a single read.
        let all = Tensor(filled: 0, shape: [8], on: backend)
        for (i, loss) in [lossD_A, lossG_A, lossCycleA, lossIdtA, lossD_B, lossG_B, lossCycleB, lossIdtB].enumerated() {
            if let loss { backend.copy(loss.buffer, srcOffset: 0, to: all.buffer, dstOffset: i, count: 1) }
        }
        let v = all.toArray()
        try backend.throwIfFailed()
        return CycleGANLosses(D_A: v[0], G_A: v[1], cycle_A: v[2], idt_A: v[3], D_B: v[4], G_B: v[5], cycle_B: v[6], idt_B: v[7])
    }

    /// loss_D = 0.5·(GAN(D(real), real) + GAN(D(fake), fake)); backward.
    private func backwardD(_ netD: any Discriminator, real: Tensor, fake: Tensor) -> Tensor {
        let lossReal = ganLoss(netD(real, record: nil), targetIsReal: true)
        let lossFake = ganLoss(netD(fake.detach(), record: nil), targetIsReal: false)
        let loss = (lossReal + lossFake) * 0.5
        loss.backward()
        return loss
    }
}
