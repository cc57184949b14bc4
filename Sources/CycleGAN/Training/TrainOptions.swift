import Foundation

/// Every option of `cyclegan train`, with the official names and defaults (the official
/// options/base_options.py and train_options.py; docs/semantics.md §8), plus ours: device,
/// seed, skip_bad_images, stop_after, max_pixels. `--model pix2pix` changes the defaults as
/// the official model does (`withPix2PixDefaults`).
public struct TrainOptions: Sendable {
    /// `--model`: cycle_gan or pix2pix.
    public var model = "cycle_gan"
    /// `--dataset_mode`: unaligned (CycleGAN's) or aligned (pix2pix's A|B pairs).
    public var datasetMode = "unaligned"
    public var dataroot: String? = nil
    public var name = "experiment_name"
    public var checkpointsDir = "./checkpoints"
    public var inputNC = 3, outputNC = 3
    public var ngf = 64, ndf = 64
    public var netD = "basic", netG = "resnet_9blocks"
    public var nLayersD = 3
    public var norm = "instance"
    /// `--no_dropout`: CycleGAN forces it; pix2pix's generator has dropout unless it is given.
    public var noDropout = true
    public var initType: InitType = .normal
    public var initGain: Float = 0.02
    public var direction = "AtoB"
    public var serialBatches = false
    public var batchSize = 1
    public var loadSize = 286, cropSize = 256
    public var maxDatasetSize = Int.max
    public var preprocess: PreprocessMode = .resize_and_crop
    public var noFlip = false
    public var epoch = "latest"
    public var printFreq = 100, displayFreq = 400, updateHTMLFreq = 1000
    public var saveLatestFreq = 5000, saveEpochFreq = 5
    public var saveByIter = false
    public var continueTrain = false
    public var epochCount = 1
    public var phase = "train"
    public var nEpochs = 100, nEpochsDecay = 100
    public var beta1 = 0.5, lr = 0.0002
    public var ganMode: GANMode = .lsgan
    public var poolSize = 50
    public var lrPolicy: LRPolicy = .linear
    public var lrDecayIters = 50
    public var lambdaA: Float = 10, lambdaB: Float = 10, lambdaIdentity: Float = 0.5
    /// pix2pix's `--lambda_L1`.
    public var lambdaL1: Float = 100
    public var noHTML = false
    // ours
    public var device = "auto"
    /// `--precision` (fp32, tf32, mixed).
    public var precision = "fp32"
    public var seed: UInt64 = 2017
    public var skipBadImages = false
    /// `--max_pixels`: the most pixels an image may have, as read or on the way to the networks.
    public var maxPixels = ImageIO.defaultMaxPixels
    /// Stop (saving `latest`) after this many images in total; nil: train to the end.
    public var stopAfter: Int? = nil
    /// Whether the run trains on the built-in demo data (no --dataroot).
    public var demo = false

    public init() {}

    /// The settings of the built-in demo (used for every option the user did not set
    /// when there is no --dataroot): small images and networks that show a translation
    /// on a 2-core CPU in about ten minutes.
    public static var demoDefaults: TrainOptions {
        var o = TrainOptions()
        o.demo = true
        o.name = "demo"
        o.loadSize = 72; o.cropSize = 64
        o.ngf = 32; o.ndf = 32
        o.netG = "resnet_6blocks"
        o.nEpochs = 4; o.nEpochsDecay = 4
        o.printFreq = 50; o.displayFreq = 100; o.updateHTMLFreq = 100
        o.saveEpochFreq = 2
        return o
    }

    /// The official pix2pix defaults (models/pix2pix_model.py): a U-Net with batch norm and
    /// dropout on aligned pairs, no image pool, the vanilla GAN loss. Options the user gives
    /// are applied after these.
    public func withPix2PixDefaults() -> TrainOptions {
        var o = self
        o.model = "pix2pix"
        o.netG = "unet_256"; o.norm = "batch"; o.datasetMode = "aligned"; o.noDropout = false
        o.poolSize = 0; o.ganMode = .vanilla
        if demo {
            // the demo's pairs at 128x128 (unet_128 needs multiples of 128)
            o.name = "demo_pix2pix"
            o.netG = "unet_128"; o.loadSize = 142; o.cropSize = 128
        }
        return o
    }

    public var nBlocks: Int { netG == "resnet_6blocks" ? 6 : 9 }
    public var lastEpoch: Int { nEpochs + nEpochsDecay }

    /// The smallest side a training image may reach the networks with (`NetworkSize`).
    public var minimumImageSide: Int { NetworkSize.trainingMinimum(netG: netG, netD: netD, nLayers: nLayersD) }

    /// The widest networks accepted (`--ngf`, `--ndf`): 512 makes a 9-block generator of
    /// 180 M parameters; wider ones would only exhaust memory.
    public static let maxWidth = 512
    /// The most layers of the `n_layers` discriminator: 10 already needs 3072-pixel images.
    public static let maxLayersD = 10
    /// The largest `--max_pixels` accepted (a gigapixel).
    public static let maxMaxPixels: UInt64 = 1_000_000_000
    /// The largest --load_size and --crop_size (a side of 65536 pixels is already 4 Gpx).
    public static let maxSide = 65536
    /// The most epochs (--n_epochs, --n_epochs_decay, --epoch_count) and images per batch.
    public static let maxEpochs = 1 << 20, maxBatchSize = 4096

    /// Checks values the official code would reject or mis-handle; the error names the option.
    public func validate() throws {
        func bad(_ option: String, _ what: String) -> OptionError { OptionError("--\(option): \(what)") }
        guard model == "cycle_gan" || model == "pix2pix" else {
            throw bad("model", "\"\(model)\" is not supported for training (expected cycle_gan or pix2pix; colorization and template are not implemented)")
        }
        let modes = model == "pix2pix" ? ["aligned"] : ["unaligned"]
        guard modes.contains(datasetMode) else {
            throw bad("dataset_mode", "\"\(datasetMode)\" does not train --model \(model) (expected \(modes.joined(separator: " or ")))")
        }
        if let p = Self.netGProblem(netG) { throw bad("netG", p) }
        guard ["basic", "n_layers", "pixel"].contains(netD) else { throw bad("netD", "\"\(netD)\" is not one of basic, n_layers, pixel") }
        if let p = Self.normProblem(norm) { throw bad("norm", p) }
        if model == "cycle_gan" && !noDropout {
            throw bad("no_dropout", "CycleGAN has no dropout (the official cycle_gan model forces --no_dropout)")
        }
        guard direction == "AtoB" || direction == "BtoA" else { throw bad("direction", "expected AtoB or BtoA, got \"\(direction)\"") }
        guard inputNC == 1 || inputNC == 3 else { throw bad("input_nc", "expected 1 or 3, got \(inputNC)") }
        guard outputNC == 1 || outputNC == 3 else { throw bad("output_nc", "expected 1 or 3, got \(outputNC)") }
        guard (1...Self.maxWidth).contains(ngf) else { throw bad("ngf", "expected 1 to \(Self.maxWidth), got \(ngf)") }
        guard (1...Self.maxWidth).contains(ndf) else { throw bad("ndf", "expected 1 to \(Self.maxWidth), got \(ndf)") }
        guard (1...Self.maxLayersD).contains(nLayersD) else {
            throw bad("n_layers_D", "expected 1 to \(Self.maxLayersD), got \(nLayersD)")
        }
        guard (1...Self.maxBatchSize).contains(batchSize) else { throw bad("batch_size", "expected 1 to \(Self.maxBatchSize), got \(batchSize)") }
        guard (1...Self.maxMaxPixels).contains(maxPixels) else {
            throw bad("max_pixels", "expected 1 to \(Self.maxMaxPixels), got \(maxPixels)")
        }
        guard (1...Self.maxSide).contains(cropSize) else { throw bad("crop_size", "expected 1 to \(Self.maxSide), got \(cropSize)") }
        guard (1...Self.maxSide).contains(loadSize) else { throw bad("load_size", "expected 1 to \(Self.maxSide), got \(loadSize)") }
        try validateImageSizes()
        for (option, value, lowest) in [("n_epochs", nEpochs, 0), ("n_epochs_decay", nEpochsDecay, 0), ("epoch_count", epochCount, 1)]
        where !(lowest...Self.maxEpochs).contains(value) {
            throw bad(option, "expected \(lowest) to \(Self.maxEpochs), got \(value)")
        }
        guard lr > 0 else { throw bad("lr", "must be positive, got \(lr)") }
        guard beta1 >= 0 && beta1 < 1 else { throw bad("beta1", "must be in [0, 1), got \(beta1)") }
        guard poolSize >= 0 else { throw bad("pool_size", "must be non-negative, got \(poolSize)") }
        for (option, value) in [("print_freq", printFreq), ("display_freq", displayFreq), ("save_latest_freq", saveLatestFreq),
                                ("save_epoch_freq", saveEpochFreq), ("update_html_freq", updateHTMLFreq), ("lr_decay_iters", lrDecayIters)]
        where value < 1 {
            throw bad(option, "must be at least 1, got \(value)")
        }
        guard lr.isFinite else { throw bad("lr", "expected a finite number, got \(lr)") }
        for (option, value) in [("lambda_A", lambdaA), ("lambda_B", lambdaB), ("lambda_identity", lambdaIdentity),
                                ("lambda_L1", lambdaL1), ("init_gain", initGain)]
        where !(value.isFinite && value >= 0) {
            throw bad(option, "expected a finite number ≥ 0, got \(value)")
        }
        if model == "cycle_gan" && lambdaIdentity > 0 && inputNC != outputNC {
            throw bad("lambda_identity", "the identity loss needs --input_nc equal to --output_nc (or --lambda_identity 0)")
        }
        if let s = stopAfter, s < 1 { throw bad("stop_after", "must be positive, got \(s)") }
    }

    /// The checks of --load_size and --crop_size that hold whatever the images: what the
    /// transform makes of every image must suit the networks (sides multiples of 4, at least
    /// `minimumImageSide`) and --max_pixels. Sizes that depend on the image are checked per
    /// image, from its header, when the dataset is made (`TransformOptions.sizeProblem`).
    func validateImageSizes() throws {
        func bad(_ option: String, _ what: String) -> OptionError { OptionError("--\(option): \(what)") }
        let minimum = minimumImageSide, multiple = NetworkSize.multiple(netG: netG)
        let networks = "the \(netG) generator needs \(NetworkSize.minimum(netG: netG)) and the \(netD) discriminator "
            + "\(NetworkSize.discriminatorMinimum(netD: netD, nLayers: nLayersD))"
        func checkSide(_ option: String, _ side: Int, _ role: String) throws {
            guard side % multiple == 0 else {
                throw bad(option, "\(side) is not a multiple of \(multiple), which the generator needs (\(role))")
            }
            guard side >= minimum else {
                throw bad(option, "\(side) is smaller than the networks' minimum side of \(minimum) (\(networks))")
            }
        }
        switch preprocess {
        case .resize_and_crop, .scale_width_and_crop:
            guard loadSize >= cropSize else { throw bad("load_size", "\(loadSize) is smaller than --crop_size \(cropSize)") }
            try checkSide("crop_size", cropSize, "the side of the crops")
            if preprocess == .resize_and_crop && pixelCount(loadSize, loadSize) > maxPixels {
                throw bad("load_size", "images resized to \(loadSize)x\(loadSize) would have more than --max_pixels \(maxPixels)")
            }
        case .crop:
            try checkSide("crop_size", cropSize, "the side of the crops")
        case .scale_width:
            try checkSide("load_size", loadSize, "--preprocess scale_width makes every image this wide")
        case .none:
            break
        }
    }

    /// The generators `--netG` names.
    public static let generators = ["resnet_9blocks", "resnet_6blocks", "unet_256", "unet_128"]

    static func netGProblem(_ v: String) -> String? {
        generators.contains(v) ? nil : "\"\(v)\" is not one of \(generators.joined(separator: ", "))"
    }

    static func normProblem(_ v: String) -> String? {
        NormKind(rawValue: v) == nil ? "\"\(v)\" is not one of instance, batch, none" : nil
    }

    /// The trainer's model configuration.
    public var modelConfig: CycleGANConfig {
        var c = CycleGANConfig()
        c.inputNC = direction == "AtoB" ? inputNC : outputNC
        c.outputNC = direction == "AtoB" ? outputNC : inputNC
        c.ngf = ngf; c.ndf = ndf; c.nBlocks = nBlocks; c.netG = netG
        c.norm = NormKind(rawValue: norm) ?? .instance
        c.dropout = !noDropout
        c.lambdaL1 = lambdaL1
        c.netD = netD; c.nLayersD = nLayersD
        c.ganMode = ganMode
        c.lambdaA = lambdaA; c.lambdaB = lambdaB; c.lambdaIdentity = lambdaIdentity
        c.poolSize = poolSize; c.lr = lr; c.beta1 = beta1
        c.initType = initType; c.initGain = initGain
        c.seed = seed
        return c
    }

    public var schedule: LRSchedule {
        LRSchedule(policy: lrPolicy, lr: lr, epochCount: epochCount, nEpochs: nEpochs, nEpochsDecay: nEpochsDecay,
                   lrDecayIters: lrDecayIters)
    }

    /// (name, value, default) of every option, in the official order, for train_opt.txt
    /// and the JSON options file.
    public var listing: [(String, String, String)] {
        let d = TrainOptions()
        func s(_ v: Any) -> String { "\(v)" }
        func mx(_ v: Int) -> String { v == Int.max ? "inf" : "\(v)" }
        return [
            ("batch_size", s(batchSize), s(d.batchSize)), ("beta1", s(beta1), s(d.beta1)),
            ("checkpoints_dir", checkpointsDir, d.checkpointsDir), ("continue_train", s(continueTrain), s(d.continueTrain)),
            ("crop_size", s(cropSize), s(d.cropSize)), ("dataroot", dataroot ?? "None", "None"),
            ("dataset_mode", datasetMode, d.datasetMode), ("device", device, d.device), ("direction", direction, d.direction),
            ("display_freq", s(displayFreq), s(d.displayFreq)), ("epoch", epoch, d.epoch), ("epoch_count", s(epochCount), s(d.epochCount)),
            ("gan_mode", ganMode.rawValue, d.ganMode.rawValue), ("init_gain", s(initGain), s(d.initGain)),
            ("init_type", initType.rawValue, d.initType.rawValue), ("input_nc", s(inputNC), s(d.inputNC)),
            ("lambda_A", s(lambdaA), s(d.lambdaA)), ("lambda_B", s(lambdaB), s(d.lambdaB)),
            ("lambda_L1", s(lambdaL1), s(d.lambdaL1)), ("lambda_identity", s(lambdaIdentity), s(d.lambdaIdentity)), ("load_size", s(loadSize), s(d.loadSize)),
            ("lr", s(lr), s(d.lr)), ("lr_decay_iters", s(lrDecayIters), s(d.lrDecayIters)),
            ("lr_policy", lrPolicy.rawValue, d.lrPolicy.rawValue), ("max_dataset_size", mx(maxDatasetSize), mx(d.maxDatasetSize)),
            ("max_pixels", s(maxPixels), s(d.maxPixels)),
            ("model", model, d.model), ("n_epochs", s(nEpochs), s(d.nEpochs)), ("n_epochs_decay", s(nEpochsDecay), s(d.nEpochsDecay)),
            ("n_layers_D", s(nLayersD), s(d.nLayersD)), ("name", name, d.name), ("ndf", s(ndf), s(d.ndf)),
            ("netD", netD, d.netD), ("netG", netG, d.netG), ("ngf", s(ngf), s(d.ngf)), ("no_dropout", s(noDropout), s(d.noDropout)), ("no_flip", s(noFlip), s(d.noFlip)),
            ("no_html", s(noHTML), s(d.noHTML)), ("norm", norm, d.norm), ("output_nc", s(outputNC), s(d.outputNC)),
            ("phase", phase, d.phase), ("pool_size", s(poolSize), s(d.poolSize)), ("precision", precision, d.precision), ("preprocess", preprocess.rawValue, d.preprocess.rawValue),
            ("print_freq", s(printFreq), s(d.printFreq)), ("save_by_iter", s(saveByIter), s(d.saveByIter)),
            ("save_epoch_freq", s(saveEpochFreq), s(d.saveEpochFreq)), ("save_latest_freq", s(saveLatestFreq), s(d.saveLatestFreq)),
            ("seed", s(seed), s(d.seed)), ("serial_batches", s(serialBatches), s(d.serialBatches)),
            ("skip_bad_images", s(skipBadImages), s(d.skipBadImages)), ("stop_after", stopAfter.map(s) ?? "None", "None"),
            ("update_html_freq", s(updateHTMLFreq), s(d.updateHTMLFreq)),
        ]
    }

    /// train_opt.txt in the official format.
    public var optionsText: String {
        var out = "----------------- Options ---------------\n"
        for (k, v, d) in listing {
            let comment = v == d ? "" : "\t[default: \(d)]"
            out += String(repeating: " ", count: max(0, 25 - k.count)) + k + ": "
                + v + String(repeating: " ", count: max(0, 30 - v.count)) + comment + "\n"
        }
        return out + "----------------- End -------------------\n"
    }

    /// The options as a JSON object (name → value string).
    public var optionsJSON: Data {
        var d: [String: String] = [:]
        for (k, v, _) in listing { d[k] = v }
        return (try? JSONSerialization.data(withJSONObject: d, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    }
}

/// A wrong option value: one line naming the option.
public struct OptionError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
