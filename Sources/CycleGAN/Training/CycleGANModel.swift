/// The model configuration the trainer needs (a subset of the command-line options), for
/// CycleGAN and pix2pix alike.
public struct CycleGANConfig: Sendable {
    public var inputNC = 3, outputNC = 3
    public var ngf = 64, ndf = 64
    /// `--netG`: resnet_9blocks, resnet_6blocks (`nBlocks` blocks), unet_256 or unet_128.
    public var netG = "resnet_9blocks"
    public var nBlocks = 9
    /// `--norm` of every network.
    public var norm: NormKind = .instance
    /// Dropout in the generators (`--no_dropout` off; CycleGAN never has it).
    public var dropout = false
    /// pix2pix's `--lambda_L1`.
    public var lambdaL1: Float = 100
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
public final class CycleGANModel: GANModel {
    public let config: CycleGANConfig
    public let backend: Backend
    public let netG_A: any Generator, netG_B: any Generator
    public let netD_A: any Discriminator, netD_B: any Discriminator
    public let optimizerG: Adam, optimizerD: Adam
    public let poolA: ImagePool, poolB: ImagePool
    /// The pools' random stream (saved in the train state).
    public var poolRandom: RandomStream
    let ganLoss: GANLoss
    public private(set) var visuals: CycleGANVisuals?
    /// The data-parallel run this model trains in (nil: one process): gradients are then
    /// averaged over the ranks before each optimiser step.
    public var distributed: Distributed? {
        didSet {
            syncG = distributed.map { GradientBuckets(optimizerG.params, distributed: $0) }
            syncD = distributed.map { GradientBuckets(optimizerD.params, distributed: $0) }
        }
    }
    private var syncG: GradientBuckets?, syncD: GradientBuckets?
    /// The dynamic loss scale, under `--precision mixed` only.
    public let lossScaler: LossScaler?

    public init(_ config: CycleGANConfig, on backend: Backend) {
        self.config = config
        self.backend = backend
        lossScaler = backend.precision == .mixed ? LossScaler() : nil
        netG_A = makeGenerator(config, inputNC: config.inputNC, outputNC: config.outputNC, on: backend)
        netG_B = makeGenerator(config, inputNC: config.outputNC, outputNC: config.inputNC, on: backend)
        netD_A = makeDiscriminator(config, inputNC: config.outputNC, on: backend)
        netD_B = makeDiscriminator(config, inputNC: config.inputNC, on: backend)
        initNetworks([netG_A, netG_B, netD_A, netD_B], modes: [netG_A.mode, netG_B.mode, netD_A.mode, netD_B.mode], config)
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

    public var optimizers: [(String, Adam, [(String, Module)])] {
        [("optimizer_G", optimizerG, [("G_A", netG_A), ("G_B", netG_B)]),
         ("optimizer_D", optimizerD, [("D_A", netD_A), ("D_B", netD_B)])]
    }

    /// pool_A holds fakes of A (input_nc channels), pool_B fakes of B.
    public var pools: [(String, ImagePool, Int)] { [("pool_A", poolA, config.inputNC), ("pool_B", poolB, config.outputNC)] }

    public var lossNames: [String] { CycleGANLosses.names }

    public func trainingStep(realA: Tensor, realB: Tensor) throws -> Losses {
        Losses(names: CycleGANLosses.names, values: try step(realA: realA, realB: realB).values)
    }

    /// The official visuals: real_A fake_B rec_A (idt_B) real_B fake_A rec_B (idt_A).
    public var currentVisuals: [(String, Tensor)] {
        guard let v = visuals else { return [] }
        var list: [(String, Tensor)] = [("real_A", v.realA), ("fake_B", v.fakeB), ("rec_A", v.recA)]
        if let t = v.idtB { list.append(("idt_B", t)) }
        list += [("real_B", v.realB), ("fake_A", v.fakeA), ("rec_B", v.recB)]
        if let t = v.idtA { list.append(("idt_A", t)) }
        return list
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
        scaledBackward(lossG, scaler: lossScaler, onLeafReady: syncG?.ready)
        try syncG?.finish()
        try optimizerStep(optimizerG, scaler: lossScaler)

        // 3. discriminators
        netD_A.setRequiresGrad(true)
        netD_B.setRequiresGrad(true)
        optimizerD.zeroGrad()
        let lossD_A = backwardD(netD_A, real: realB, fake: poolB.query(fakeB.detach(), random: &poolRandom))
        let lossD_B = backwardD(netD_B, real: realA, fake: poolA.query(fakeA.detach(), random: &poolRandom))
        try syncD?.finish()
        try optimizerStep(optimizerD, scaler: lossScaler)
        lossScaler?.update()

        visuals = CycleGANVisuals(realA: realA, fakeB: fakeB.detach(), recA: recA.detach(), idtB: idtB?.detach(),
                                  realB: realB, fakeA: fakeA.detach(), recB: recB.detach(), idtA: idtA?.detach())
        let v = try readLosses([lossD_A, lossG_A, lossCycleA, lossIdtA, lossD_B, lossG_B, lossCycleB, lossIdtB], on: backend)
        return CycleGANLosses(D_A: v[0], G_A: v[1], cycle_A: v[2], idt_A: v[3], D_B: v[4], G_B: v[5], cycle_B: v[6], idt_B: v[7])
    }

    /// loss_D = 0.5·(GAN(D(real), real) + GAN(D(fake), fake)); backward.
    private func backwardD(_ netD: any Discriminator, real: Tensor, fake: Tensor) -> Tensor {
        let lossReal = ganLoss(netD(real, record: nil), targetIsReal: true)
        let lossFake = ganLoss(netD(fake.detach(), record: nil), targetIsReal: false)
        let loss = (lossReal + lossFake) * 0.5
        scaledBackward(loss, scaler: lossScaler, onLeafReady: syncD?.ready)
        return loss
    }
}
