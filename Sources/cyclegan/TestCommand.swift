import ArgumentParser
import CycleGAN
import Foundation

/// `cyclegan test`: translates test images with a trained model.
struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "test", abstract: "Translate images with a trained model.")

    @OptionGroup var model: ModelOptions
    @Option(name: .customLong("results_dir"), help: "Where results are written (default ./results/).") var resultsDir: String?
    @Option(name: .customLong("num_test"), help: "At most this many images (default: all).") var numTest: Int?
    @Option(name: .customLong("model"), help: "cycle_gan (both directions, testA/testB), pix2pix (A|B pairs in <dataroot>/<phase>/) or test (one generator; --dataroot is a folder of images). Default: the run's own.") var modelKind: String?
    @Flag(name: .customLong("eval"), help: "Evaluation mode: batch norm uses its running statistics and dropout is off. Without it, as the official test.py, the networks stay in training mode.") var eval = false
    @Option(name: .customLong("model_suffix"), help: "With --model test, load <epoch>_net_G<suffix> (use _A for our own runs).") var modelSuffix: String?
    @Option(name: .customLong("phase"), help: "Dataset phase folder prefix (default test).") var phase: String?
    @Option(name: .customLong("aspect_ratio"), help: "Accepted for compatibility; outputs keep the input's aspect.") var aspectRatio: Double?
    @Option(name: .customLong("max_memory"), help: "Memory a translation may hold, device and host (e.g. 1G, 512M; default: half of the device's). Larger images are translated exactly, layer by layer in bands of rows.") var maxMemory: String?
    @Option(name: .customLong("spill_dir"), help: "Where a tiled translation keeps the activations past half of --max_memory (default: the temporary folder).") var spillDir: String?

    func run() {
        runReportingErrors {
            guard Distributed.launchedSize <= 1 else {
                throw OptionError("test translates in one process: run it without mpirun (here \(Distributed.launchedSize) ranks would each write the same files)")
            }
            var o = TestOptions()
            let name = model.name ?? (model.dataroot == nil ? "demo" : "experiment_name")
            let checkpoints = model.checkpointsDir ?? "./checkpoints"
            // Defaults from the run's own options, when it wrote them (those given here win).
            let savedPath = "\(checkpoints)/\(name)/train_opt.json"
            if var saved = try TestOptions.savedTrainOptions(savedPath) {
                if model.ngf != nil { saved["ngf"] = nil }
                if model.netG != nil { saved["netG"] = nil }
                if model.norm != nil { saved["norm"] = nil }
                if model.noDropout { saved["no_dropout"] = nil }
                if model.direction != nil { saved["direction"] = nil }
                if modelKind != nil { saved["model"] = nil }
                if model.inputNC != nil { saved["input_nc"] = nil }
                if model.outputNC != nil { saved["output_nc"] = nil }
                try o.adopt(saved, from: savedPath)
            }
            o.name = name
            o.checkpointsDir = checkpoints
            if let d = model.dataroot {
                o.dataroot = d
            } else {
                let demo = Trainer.demoDataroot(checkpointsDir: checkpoints, name: name)
                guard FileManager.default.fileExists(atPath: demo) else {
                    throw ValidationError("--dataroot is required (no demo data at \(demo); run `cyclegan train` first for the demo)")
                }
                o.dataroot = demo
            }
            if let v = model.ngf { o.ngf = v }
            if let v = model.netG { o.netG = v }
            if let v = model.norm { o.norm = v }
            if model.noDropout { o.noDropout = true }
            if let v = model.datasetMode { o.datasetMode = v }
            if eval { o.eval = true }
            if let v = model.inputNC { o.inputNC = v }
            if let v = model.outputNC { o.outputNC = v }
            if let v = model.epoch { o.epoch = v }
            if let v = model.direction { o.direction = v }
            if let v = model.preprocess { o.preprocess = v }
            if let v = model.loadSize { o.loadSize = v }
            if let v = model.cropSize { o.cropSize = v }
            if let v = model.seed { o.seed = v }
            if let v = try model.parsedMaxPixels() { o.maxPixels = v }
            if let v = resultsDir { o.resultsDir = v }
            o.numTest = numTest
            if let v = modelKind { o.model = v }
            if let v = modelSuffix { o.modelSuffix = v }
            if let v = phase { o.phase = v }
            if let v = maxMemory {
                guard let bytes = parseMemorySize(v) else {
                    throw OptionError("--max_memory: expected a size such as 1G, 512M or a number of bytes, got \"\(v)\"")
                }
                o.maxMemory = bytes
            }
            if let v = spillDir { o.spillDir = v }
            let backend = try model.device.backend()
            try Translator(options: o, backend: backend).run()
        }
    }
}
