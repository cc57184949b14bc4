/// One iteration's losses, by the model's official logging names and in their order.
public struct Losses: Sendable {
    public var names: [String]
    public var values: [Float]
    public init(names: [String], values: [Float]) { self.names = names; self.values = values }
    public var isFinite: Bool { values.allSatisfy { $0.isFinite } }
    /// The loss named `name`, nil if the model has none.
    public subscript(_ name: String) -> Float? { names.firstIndex(of: name).map { values[$0] } }
}

/// What the trainer, the checkpoints and the report need of a model (`CycleGANModel`,
/// `Pix2PixModel`): its networks, optimisers, pools and random streams, one training
/// iteration, and the images of the last one.
public protocol GANModel: AnyObject {
    var config: CycleGANConfig { get }
    var backend: Backend { get }
    /// The networks by official name: checkpoints are `<label>_net_<name>`.
    var networks: [(String, Module)] { get }
    /// Each optimiser by its train-state name, with the networks it updates in order.
    var optimizers: [(String, Adam, [(String, Module)])] { get }
    /// The image pools by train-state name, with the channels of the images each holds.
    var pools: [(String, ImagePool, Int)] { get }
    /// The pools' random stream (saved in the train state).
    var poolRandom: RandomStream { get set }
    /// The official names of the logged losses, in order.
    var lossNames: [String] { get }
    func setLearningRate(_ lr: Double)
    /// One training iteration on a batch of each side; throws the backend's first device failure.
    func trainingStep(realA: Tensor, realB: Tensor) throws -> Losses
    /// The last iteration's images by official visual name, in display order.
    var currentVisuals: [(String, Tensor)] { get }
    /// The data-parallel run the model trains in (nil: one process).
    var distributed: Distributed? { get set }
    /// The dynamic loss scale under `--precision mixed` (nil otherwise).
    var lossScaler: LossScaler? { get }
}

extension GANModel {
    /// Every network's mode: training or evaluation, and the dropout stream.
    var modes: [(String, NetworkMode)] {
        networks.compactMap { name, net in
            if let g = net as? any Generator { return (name, g.mode) }
            if let d = net as? any Discriminator { return (name, d.mode) }
            return nil
        }
    }
}

/// Backpropagates `loss`, scaled when `scaler` is given.
func scaledBackward(_ loss: Tensor, scaler: LossScaler?, onLeafReady: ((Tensor) -> Void)?) {
    if let scaler { scaler.backward(loss, onLeafReady: onLeafReady) } else { loss.backward(onLeafReady: onLeafReady) }
}

/// Steps `optimizer`: through `scaler` (unscaled, skipped on inf or NaN) when given.
func optimizerStep(_ optimizer: Adam, scaler: LossScaler?) throws {
    if let scaler { try scaler.step(optimizer) } else { optimizer.step() }
}

/// The one host synchronisation of a training step: the one-element losses (nil: 0, a loss
/// the configuration leaves out) gathered on the device and read back in a single transfer,
/// after which the backend's first device failure, if any, is thrown in their place.
func readLosses(_ losses: [Tensor?], on backend: Backend) throws -> [Float] {
    let all = Tensor(filled: 0, shape: [losses.count], on: backend)
    for (i, loss) in losses.enumerated() {
        if let loss { backend.copy(loss.buffer, srcOffset: 0, to: all.buffer, dstOffset: i, count: 1) }
    }
    let v = all.toArray()
    try backend.throwIfFailed()
    return v
}

/// The generator `--netG` names (resnet_9blocks, resnet_6blocks, unet_256, unet_128), with
/// `--norm` and dropout, from `inputNC` to `outputNC` channels.
public func makeGenerator(_ c: CycleGANConfig, inputNC: Int, outputNC: Int, on backend: Backend) -> any Generator {
    switch c.netG {
    case "unet_256", "unet_128":
        return UnetGenerator(inputNC: inputNC, outputNC: outputNC, numDowns: c.netG == "unet_256" ? 8 : 7, ngf: c.ngf,
                             norm: c.norm, dropout: c.dropout, on: backend)
    default:
        return ResnetGenerator(inputNC: inputNC, outputNC: outputNC, ngf: c.ngf, nBlocks: c.nBlocks, norm: c.norm,
                               dropout: c.dropout, on: backend)
    }
}

/// The discriminator `--netD` names (basic, n_layers, pixel) with `--norm`, on `inputNC` channels.
public func makeDiscriminator(_ c: CycleGANConfig, inputNC: Int, on backend: Backend) -> any Discriminator {
    c.netD == "pixel" ? PixelDiscriminator(inputNC: inputNC, ndf: c.ndf, norm: c.norm, on: backend)
        : NLayerDiscriminator(inputNC: inputNC, ndf: c.ndf, nLayers: c.netD == "basic" ? 3 : c.nLayersD, norm: c.norm, on: backend)
}

/// Initialises the networks (one sub-seed each, in order) and seeds every network's dropout stream.
func initNetworks(_ nets: [Module], modes: [NetworkMode], _ c: CycleGANConfig) {
    let initSeed = CPUBackend.mix64(c.seed, 0x1417)
    for (k, net) in nets.enumerated() {
        initWeights(net, type: c.initType, gain: c.initGain, seed: CPUBackend.mix64(initSeed, UInt64(k)))
    }
    for (k, mode) in modes.enumerated() { mode.dropoutRandom = RandomStream(seed: CPUBackend.mix64(c.seed ^ 0xD209, UInt64(k))) }
}
