/// The pix2pix model and its training iteration, exactly as the official
/// `Pix2PixModel.optimize_parameters` (models/pix2pix_model.py; docs/semantics.md, "pix2pix"):
/// one generator G from A to B, one conditional discriminator D on cat(A, B-or-fake), and
/// per iteration the D step first, then the G step against the updated D.
public final class Pix2PixModel: GANModel {
    public let config: CycleGANConfig
    public let backend: Backend
    public let netG: any Generator
    public let netD: any Discriminator
    public let optimizerG: Adam, optimizerD: Adam
    /// pix2pix keeps no image pool (`--pool_size 0`); the stream is kept for the train state's layout.
    public var poolRandom: RandomStream
    let ganLoss: GANLoss
    public private(set) var currentVisuals: [(String, Tensor)] = []
    /// The data-parallel run this model trains in (nil: one process), as `CycleGANModel.distributed`.
    public var distributed: Distributed? {
        didSet {
            syncG = distributed.map { GradientBuckets(optimizerG.params, distributed: $0) }
            syncD = distributed.map { GradientBuckets(optimizerD.params, distributed: $0) }
        }
    }
    private var syncG: GradientBuckets?, syncD: GradientBuckets?
    /// The dynamic loss scale, under `--precision mixed` only.
    public let lossScaler: LossScaler?

    public static let lossNames = ["G_GAN", "G_L1", "D_real", "D_fake"]
    public var lossNames: [String] { Self.lossNames }

    public init(_ config: CycleGANConfig, on backend: Backend) {
        self.config = config
        self.backend = backend
        lossScaler = backend.precision == .mixed ? LossScaler() : nil
        netG = makeGenerator(config, inputNC: config.inputNC, outputNC: config.outputNC, on: backend)
        netD = makeDiscriminator(config, inputNC: config.inputNC + config.outputNC, on: backend)
        initNetworks([netG, netD], modes: [netG.mode, netD.mode], config)
        optimizerG = Adam(netG.parameters(), lr: config.lr, betas: (config.beta1, 0.999))
        optimizerD = Adam(netD.parameters(), lr: config.lr, betas: (config.beta1, 0.999))
        poolRandom = RandomStream(seed: CPUBackend.mix64(config.seed, 0x9001))
        ganLoss = GANLoss(config.ganMode)
    }

    public var networks: [(String, Module)] { [("G", netG), ("D", netD)] }
    public var optimizers: [(String, Adam, [(String, Module)])] {
        [("optimizer_G", optimizerG, [("G", netG)]), ("optimizer_D", optimizerD, [("D", netD)])]
    }
    public var pools: [(String, ImagePool, Int)] { [] }

    public func setLearningRate(_ lr: Double) { optimizerG.lr = lr; optimizerD.lr = lr }

    /// One iteration on a batch of inputs `realA` and targets `realB`: the four losses
    /// (G_GAN, G_L1, D_real, D_fake).
    public func trainingStep(realA: Tensor, realB: Tensor) throws -> Losses {
        let fakeB = netG(realA)

        // D step: fake pairs against real pairs
        netD.setRequiresGrad(true)
        optimizerD.zeroGrad()
        let lossDFake = ganLoss(netD(Tensor.cat([realA, fakeB.detach()], dim: 1)), targetIsReal: false)
        let lossDReal = ganLoss(netD(Tensor.cat([realA, realB], dim: 1)), targetIsReal: true)
        scaledBackward((lossDFake + lossDReal) * 0.5, scaler: lossScaler, onLeafReady: syncD?.ready)
        try syncD?.finish()
        try optimizerStep(optimizerD, scaler: lossScaler)

        // G step: fool the updated D (frozen, still in training mode) and stay near the target
        netD.setRequiresGrad(false)
        optimizerG.zeroGrad()
        let lossGGAN = ganLoss(netD(Tensor.cat([realA, fakeB], dim: 1)), targetIsReal: true)
        let lossGL1 = fakeB.l1Loss(realB) * config.lambdaL1
        scaledBackward(lossGGAN + lossGL1, scaler: lossScaler, onLeafReady: syncG?.ready)
        try syncG?.finish()
        try optimizerStep(optimizerG, scaler: lossScaler)
        lossScaler?.update()

        currentVisuals = [("real_A", realA), ("fake_B", fakeB.detach()), ("real_B", realB)]
        return Losses(names: Self.lossNames, values: try readLosses([lossGGAN, lossGL1, lossDReal, lossDFake], on: backend))
    }
}
