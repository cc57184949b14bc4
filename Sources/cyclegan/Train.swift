import ArgumentParser
import CycleGAN
import Foundation

extension InitType: ExpressibleByArgument {}
extension GANMode: ExpressibleByArgument {}
extension LRPolicy: ExpressibleByArgument {}
extension PreprocessMode: ExpressibleByArgument {}

/// The options shared by train and test, spelled as the official implementation does.
/// Optional so that unset options keep the official default (or the demo's).
struct ModelOptions: ParsableArguments {
    @Option(name: .customLong("dataroot"), help: "Folder with trainA/trainB (testA/testB). Omit to use the built-in demo.") var dataroot: String?
    @Option(name: .customLong("name"), help: "Experiment name (default experiment_name; demo: demo).") var name: String?
    @Option(name: .customLong("checkpoints_dir"), help: "Where runs are saved (default ./checkpoints).") var checkpointsDir: String?
    @Option(name: .customLong("input_nc"), help: "Input channels, 1 or 3 (default 3).") var inputNC: Int?
    @Option(name: .customLong("output_nc"), help: "Output channels, 1 or 3 (default 3).") var outputNC: Int?
    @Option(name: .customLong("ngf"), help: "Generator width (default 64).") var ngf: Int?
    @Option(name: .customLong("ndf"), help: "Discriminator width (default 64).") var ndf: Int?
    @Option(name: .customLong("netD"), help: "basic | n_layers | pixel (default basic).") var netD: String?
    @Option(name: .customLong("netG"), help: "resnet_9blocks | resnet_6blocks | unet_256 | unet_128 (default resnet_9blocks; pix2pix: unet_256).") var netG: String?
    @Option(name: .customLong("n_layers_D"), help: "Layers of the n_layers discriminator (default 3).") var nLayersD: Int?
    @Option(name: .customLong("norm"), help: "instance | batch | none (default instance; pix2pix: batch). Batch norm keeps its running statistics in the checkpoints; with several images per batch its statistics are the batch's, and under mpirun each rank's own (as PyTorch DDP without SyncBatchNorm).") var norm: String?
    @Option(name: .customLong("dataset_mode"), help: "unaligned (trainA/trainB) | aligned (A|B pairs in <phase>/, pix2pix's default) | single (test: a folder of images).") var datasetMode: String?
    @Option(name: .customLong("init_type"), help: "normal | xavier | kaiming | orthogonal (default normal).") var initType: InitType?
    @Option(name: .customLong("init_gain"), help: "Scale of the initialisation (default 0.02).") var initGain: Float?
    @Flag(name: .customLong("no_dropout"), help: "No dropout in the generator (pix2pix has Dropout(0.5) otherwise; CycleGAN never has it).") var noDropout = false
    @Option(name: .customLong("direction"), help: "AtoB or BtoA (default AtoB).") var direction: String?
    @Flag(name: .customLong("serial_batches"), help: "Take images in order instead of randomly.") var serialBatches = false
    @Option(name: .customLong("batch_size"), help: "Images per batch (default 1).") var batchSize: Int?
    @Option(name: .customLong("load_size"), help: "Scale images to this size (default 286).") var loadSize: Int?
    @Option(name: .customLong("crop_size"), help: "Then crop to this size (default 256).") var cropSize: Int?
    @Option(name: .customLong("max_dataset_size"), help: "At most this many images per domain (default inf).") var maxDatasetSize: String?
    @Option(name: .customLong("preprocess"), help: "resize_and_crop | crop | scale_width | scale_width_and_crop | none.") var preprocess: PreprocessMode?
    @Flag(name: .customLong("no_flip"), help: "No random horizontal flips.") var noFlip = false
    @Option(name: .customLong("epoch"), help: "Which checkpoint to load: latest, an epoch number, or iter_N (default latest).") var epoch: String?
    @Option(name: .customLong("seed"), help: "Seed of every random stream (default 2017; recorded in train_opt.txt).") var seed: UInt64?
    @Option(name: .customLong("max_pixels"), help: "Refuse images of more pixels, as read or resized (default 50000000).") var maxPixels: String?
    @OptionGroup var device: DeviceOption

    /// Fills the shared fields of `o`.
    func apply(to o: inout TrainOptions) throws {
        if let v = dataroot { o.dataroot = v }
        if let v = name { o.name = v }
        if let v = checkpointsDir { o.checkpointsDir = v }
        if let v = inputNC { o.inputNC = v }
        if let v = outputNC { o.outputNC = v }
        if let v = ngf { o.ngf = v }
        if let v = ndf { o.ndf = v }
        if let v = netD { o.netD = v }
        if let v = netG { o.netG = v }
        if let v = nLayersD { o.nLayersD = v }
        if let v = norm { o.norm = v }
        if let v = datasetMode { o.datasetMode = v }
        if noDropout { o.noDropout = true }
        if let v = initType { o.initType = v }
        if let v = initGain { o.initGain = v }
        if let v = direction { o.direction = v }
        if serialBatches { o.serialBatches = true }
        if let v = batchSize { o.batchSize = v }
        if let v = loadSize { o.loadSize = v }
        if let v = cropSize { o.cropSize = v }
        if let v = maxDatasetSize {
            guard v == "inf" || Int(v) != nil else { throw ValidationError("--max_dataset_size: expected a number or inf, got \"\(v)\"") }
            o.maxDatasetSize = Int(v) ?? Int.max
        }
        if let v = preprocess { o.preprocess = v }
        if noFlip { o.noFlip = true }
        if let v = epoch { o.epoch = v }
        if let v = seed { o.seed = v }
        if let v = try parsedMaxPixels() { o.maxPixels = v }
        if let v = device.device { o.device = v }
        o.precision = try device.precision().rawValue
    }

    /// `--max_pixels` as a number (parsed here, so that a wrong value is one line).
    func parsedMaxPixels() throws -> UInt64? {
        guard let v = maxPixels else { return nil }
        guard let n = UInt64(v) else { throw ValidationError("--max_pixels: expected a whole number of pixels, got \"\(v)\"") }
        return n
    }
}

/// `cyclegan train`: trains a CycleGAN or a pix2pix model; without --dataroot, on the built-in demo.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a CycleGAN or pix2pix model (without --dataroot: the built-in day/night demo).",
                                                    discussion: "Under `mpirun -np N`, N ranks train one model data-parallel: --batch_size is per rank, gradients are averaged over the ranks, rank 0 writes. See README.md, \"Several devices and hosts\".")

    @OptionGroup var model: ModelOptions
    @Option(name: .customLong("model"), help: "cycle_gan | pix2pix (default cycle_gan). pix2pix changes the defaults as the official code does: --netG unet_256 --norm batch --dataset_mode aligned --pool_size 0 --gan_mode vanilla, dropout on.") var modelKind: String?
    @Option(name: .customLong("lambda_L1"), help: "pix2pix: weight of the L1 loss (default 100).") var lambdaL1: Float?
    @Option(name: .customLong("print_freq"), help: "Print losses every N images (default 100).") var printFreq: Int?
    @Option(name: .customLong("display_freq"), help: "Save visuals to the web page every N images (default 400).") var displayFreq: Int?
    @Option(name: .customLong("update_html_freq"), help: "Accepted; the page is rewritten at every display.") var updateHTMLFreq: Int?
    @Option(name: .customLong("save_latest_freq"), help: "Save 'latest' every N images (default 5000).") var saveLatestFreq: Int?
    @Option(name: .customLong("save_epoch_freq"), help: "Save every N epochs (default 5).") var saveEpochFreq: Int?
    @Flag(name: .customLong("save_by_iter"), help: "Name mid-epoch saves iter_N instead of latest.") var saveByIter = false
    @Flag(name: .customLong("continue_train"), help: "Resume from the checkpoint --epoch names.") var continueTrain = false
    @Option(name: .customLong("epoch_count"), help: "The starting epoch (default 1).") var epochCount: Int?
    @Option(name: .customLong("phase"), help: "Dataset phase folder prefix (default train).") var phase: String?
    @Option(name: .customLong("n_epochs"), help: "Epochs at the initial learning rate (default 100).") var nEpochs: Int?
    @Option(name: .customLong("n_epochs_decay"), help: "Epochs of linear decay to zero (default 100).") var nEpochsDecay: Int?
    @Option(name: .customLong("beta1"), help: "Adam beta1 (default 0.5).") var beta1: Double?
    @Option(name: .customLong("lr"), help: "Initial learning rate (default 0.0002).") var lr: Double?
    @Option(name: .customLong("gan_mode"), help: "lsgan | vanilla (default lsgan).") var ganMode: GANMode?
    @Option(name: .customLong("pool_size"), help: "Image pool size, 0 disables (default 50).") var poolSize: Int?
    @Option(name: .customLong("lr_policy"), help: "linear | step | cosine (default linear).") var lrPolicy: LRPolicy?
    @Option(name: .customLong("lr_decay_iters"), help: "Epochs between step decays (default 50).") var lrDecayIters: Int?
    @Option(name: .customLong("lambda_A"), help: "Weight of the A→B→A cycle loss (default 10).") var lambdaA: Float?
    @Option(name: .customLong("lambda_B"), help: "Weight of the B→A→B cycle loss (default 10).") var lambdaB: Float?
    @Option(name: .customLong("lambda_identity"), help: "Identity loss weight, relative to lambda (default 0.5).") var lambdaIdentity: Float?
    @Flag(name: .customLong("no_html"), help: "Do not write web/index.html.") var noHTML = false
    @Flag(name: .customLong("skip_bad_images"), help: "Skip undecodable images, and images of a size the networks cannot take, with a warning instead of stopping.") var skipBadImages = false
    @Option(name: .customLong("stop_after"), help: "Stop after N images (saving 'latest'); resume with --continue_train.") var stopAfter: Int?

    func options() throws -> TrainOptions {
        var o = model.dataroot == nil ? TrainOptions.demoDefaults : TrainOptions()
        if let m = modelKind { o = m == "pix2pix" ? o.withPix2PixDefaults() : { var c = o; c.model = m; return c }() }
        try model.apply(to: &o)
        if let v = lambdaL1 { o.lambdaL1 = v }
        if let v = printFreq { o.printFreq = v }
        if let v = displayFreq { o.displayFreq = v }
        if let v = updateHTMLFreq { o.updateHTMLFreq = v }
        if let v = saveLatestFreq { o.saveLatestFreq = v }
        if let v = saveEpochFreq { o.saveEpochFreq = v }
        if saveByIter { o.saveByIter = true }
        if continueTrain { o.continueTrain = true }
        if let v = epochCount { o.epochCount = v }
        if let v = phase { o.phase = v }
        if let v = nEpochs { o.nEpochs = v }
        if let v = nEpochsDecay { o.nEpochsDecay = v }
        if let v = beta1 { o.beta1 = v }
        if let v = lr { o.lr = v }
        if let v = ganMode { o.ganMode = v }
        if let v = poolSize { o.poolSize = v }
        if let v = lrPolicy { o.lrPolicy = v }
        if let v = lrDecayIters { o.lrDecayIters = v }
        if let v = lambdaA { o.lambdaA = v }
        if let v = lambdaB { o.lambdaB = v }
        if let v = lambdaIdentity { o.lambdaIdentity = v }
        if noHTML { o.noHTML = true }
        if skipBadImages { o.skipBadImages = true }
        if let v = stopAfter { o.stopAfter = v }
        return o
    }

    func run() {
        // under mpirun: one rank of a data-parallel run (MPI loaded only then)
        var distributed: Distributed? = nil
        runReportingErrors { distributed = try Distributed.fromEnvironment() }
        defer { distributed?.finalize() }
        runReportingErrors(distributed: distributed) {
            let o = try options()
            try o.validate()
            let backend = try model.device.backend(localRank: distributed?.localRank)
            let who = distributed.map { "rank \($0.rank) of \($0.size) on " } ?? ""
            FileHandle.standardError.write(Data("\(who)device: \(backend.name)\n".utf8))
            let trainer = try Trainer(options: o, backend: backend, distributed: distributed)
            StopRequest.install()
            let progress = try trainer.run()
            if let signal = trainer.interruptedBy {
                FileHandle.standardError.write(Data(("stopped by \(StopRequest.name(signal)) at epoch \(progress.epoch), \(progress.totalIters) images: "
                    + "saved 'latest' in \(trainer.runDirectory); resume with the same command and --continue_train\n").utf8))
                throw ExitCode(128 + signal)
            }
            if !o.noHTML { print("web page: \(trainer.runDirectory)/web/index.html") }
        }
    }
}
