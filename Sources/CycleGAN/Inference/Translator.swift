import Foundation

/// The options of `cyclegan test`.
public struct TestOptions: Sendable {
    public var dataroot = ""
    public var name = "experiment_name"
    public var checkpointsDir = "./checkpoints"
    public var resultsDir = "./results/"
    public var epoch = "latest"
    /// nil: every image (the official default silently stops at 50).
    public var numTest: Int? = nil
    /// "cycle_gan" (both directions, testA/testB), "pix2pix" (G on the A halves of the pairs
    /// in `<dataroot>/<phase>/`) or "test" (one generator, a plain folder).
    public var model = "cycle_gan"
    /// `--dataset_mode`: nil for the model's own (cycle_gan: unaligned, pix2pix: aligned, test: single).
    public var datasetMode: String? = nil
    public var modelSuffix = ""
    public var direction = "AtoB"
    public var phase = "test"
    public var inputNC = 3, outputNC = 3
    public var ngf = 64
    public var netG = "resnet_9blocks"
    /// `--norm` the generator was trained with.
    public var norm = "instance"
    /// `--no_dropout`: whether the generator has no dropout; nil: as the run's saved options
    /// say, else dropout for a U-Net (as the official test.py: its keys are the same either
    /// way) and none for a ResNet (CycleGAN's, whose keys would differ).
    public var noDropout: Bool? = nil
    /// Whether the generator has dropout layers.
    var dropout: Bool { !(noDropout ?? !netG.hasPrefix("unet")) }
    /// `--eval`: evaluation mode (batch norm's running statistics, no dropout). Without it,
    /// as the official test.py, the networks stay in training mode: batch norm normalises by
    /// the image's own statistics and dropout stays on (its masks drawn from `--seed`).
    public var eval = false
    /// nil or `.none`: native resolution (edge-padded for the generator, output cropped back).
    public var preprocess: PreprocessMode? = nil
    public var loadSize = 286, cropSize = 256
    public var seed: UInt64 = 2017
    /// `--max_pixels`: the most pixels an image may have, as read or as fed to the generator.
    public var maxPixels = ImageIO.defaultMaxPixels
    /// `--max_memory`: the bytes a translation may hold (device and host, spill files apart);
    /// nil: half of the device's memory. An image that needs more is translated in tiles.
    public var maxMemory: Int? = nil
    /// `--spill_dir`: where a tiled translation keeps the activations beyond half of
    /// `maxMemory`; nil: the system's temporary folder.
    public var spillDir: String? = nil
    public init() {}

    /// The smallest --max_memory: a band of rows of the widest layer must fit.
    static let minMaxMemory = 64 << 20

    var nBlocks: Int { netG == "resnet_6blocks" ? 6 : 9 }


    /// Checks every option; the error names the option and what was expected.
    public func validate() throws {
        func bad(_ option: String, _ what: String) -> OptionError { OptionError("--\(option): \(what)") }
        guard ["cycle_gan", "pix2pix", "test"].contains(model) else {
            throw bad("model", "expected cycle_gan, pix2pix or test, got \"\(model)\"")
        }
        if let mode = datasetMode, mode != ownDatasetMode {
            throw bad("dataset_mode", "--model \(model) reads \(ownDatasetMode) data, not \"\(mode)\"")
        }
        if let p = Self.netGProblem(netG) { throw bad("netG", p) }
        if let p = TrainOptions.normProblem(norm) { throw bad("norm", p) }
        if let p = Self.ngfProblem(ngf) { throw bad("ngf", p) }
        if let p = Self.channelsProblem(inputNC) { throw bad("input_nc", p) }
        if let p = Self.channelsProblem(outputNC) { throw bad("output_nc", p) }
        guard direction == "AtoB" || direction == "BtoA" else { throw bad("direction", "expected AtoB or BtoA, got \"\(direction)\"") }
        if let n = numTest, n < 1 { throw bad("num_test", "must be positive, got \(n)") }
        guard (1...TrainOptions.maxMaxPixels).contains(maxPixels) else {
            throw bad("max_pixels", "expected 1 to \(TrainOptions.maxMaxPixels), got \(maxPixels)")
        }
        guard (1...TrainOptions.maxSide).contains(loadSize) else { throw bad("load_size", "expected 1 to \(TrainOptions.maxSide), got \(loadSize)") }
        guard (1...TrainOptions.maxSide).contains(cropSize) else { throw bad("crop_size", "expected 1 to \(TrainOptions.maxSide), got \(cropSize)") }
        if preprocess == .resize_and_crop && pixelCount(loadSize, loadSize) > maxPixels {
            throw bad("load_size", "images resized to \(loadSize)x\(loadSize) would have more than --max_pixels \(maxPixels)")
        }
        if let m = maxMemory, m < Self.minMaxMemory { throw bad("max_memory", "expected at least 64M, got \(m) bytes") }
        if let d = spillDir {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: d, isDirectory: &isDir), isDir.boolValue else {
                throw bad("spill_dir", "\(d) is not a folder")
            }
        }
    }

    /// The dataset mode `model` reads.
    var ownDatasetMode: String { ["cycle_gan": "unaligned", "pix2pix": "aligned"][model] ?? "single" }

    static func netGProblem(_ v: String) -> String? { TrainOptions.netGProblem(v) }
    static func ngfProblem(_ v: Int) -> String? {
        (1...TrainOptions.maxWidth).contains(v) ? nil : "expected 1 to \(TrainOptions.maxWidth), got \(v)"
    }
    static func channelsProblem(_ v: Int) -> String? { v == 1 || v == 3 ? nil : "expected 1 or 3, got \(v)" }

    /// The options a training run saved (`<run>/train_opt.json`, name → value), or nil when
    /// there is no such file. Throws `OptionError` naming the file if it is not a regular
    /// file of at most 1 MiB holding a JSON object.
    public static func savedTrainOptions(_ path: String) throws -> [String: String]? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        let bytes: [UInt8]
        do {
            bytes = try RegularFile.contents(path, limit: 1 << 20) { "file is \($0) bytes, too large for a run's options" }
        } catch let error as FileReadError {
            throw OptionError("cannot read \(path): \(error.reason)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw OptionError("\(path) is not a JSON object of options (delete it, or pass --ngf, --netG, --input_nc and --output_nc)")
        }
        return object.mapValues { ($0 as? String) ?? "\($0)" }
    }

    /// Takes the generator's options (ngf, netG, norm, no_dropout, input_nc, output_nc), the
    /// model (cycle_gan or pix2pix) and the direction from a run's saved options, checking each: the error
    /// names the file, the key and what was expected.
    public mutating func adopt(_ saved: [String: String], from path: String) throws {
        func bad(_ key: String, _ what: String) -> OptionError { OptionError("\(path): \(key): \(what)") }
        func int(_ key: String, _ problem: (Int) -> String?) throws -> Int? {
            guard let text = saved[key] else { return nil }
            guard let v = Int(text) else { throw bad(key, "expected a whole number, got \"\(text)\"") }
            if let p = problem(v) { throw bad(key, p) }
            return v
        }
        if let v = try int("ngf", Self.ngfProblem) { ngf = v }
        if let v = try int("input_nc", Self.channelsProblem) { inputNC = v }
        if let v = try int("output_nc", Self.channelsProblem) { outputNC = v }
        if let v = saved["netG"] {
            if let p = Self.netGProblem(v) { throw bad("netG", p) }
            netG = v
        }
        if let v = saved["norm"] {
            if let p = TrainOptions.normProblem(v) { throw bad("norm", p) }
            norm = v
        }
        if let v = saved["no_dropout"] {
            guard let b = ["true": true, "True": true, "false": false, "False": false][v] else {
                throw bad("no_dropout", "expected True or False, got \"\(v)\"")
            }
            noDropout = b
        }
        if let v = saved["model"] {
            guard v == "cycle_gan" || v == "pix2pix" else { throw bad("model", "expected cycle_gan or pix2pix, got \"\(v)\"") }
            model = v
        }
        if let v = saved["direction"] {
            guard v == "AtoB" || v == "BtoA" else { throw bad("direction", "expected AtoB or BtoA, got \"\(v)\"") }
            direction = v
        }
    }
}

/// Translates images with trained generators and writes them, with an index.html, into
/// `<results_dir>/<name>/test_<epoch>/`.
public final class Translator {
    public let options: TestOptions
    let backend: Backend
    public let outputDirectory: String

    /// The bytes a translation may hold: `--max_memory`, else half of the device's memory
    /// (the host's for the CPU reference and for CPU devices).
    public let memoryBudget: Int
    /// Where a tiled translation may spill, and the folder made there for this run (removed at the end).
    private var spillFolder: String? = nil
    private var saidTiled = false

    public init(options: TestOptions, backend: Backend) throws {
        try options.validate()
        self.options = options
        self.backend = backend
        let host = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        let device = (backend as? OpenCLBackend).map { $0.device.isGPU ? $0.device.globalMemory : min(host, $0.device.globalMemory) } ?? host
        memoryBudget = options.maxMemory ?? max(TestOptions.minMaxMemory, device / 2)
        // the generator's kept Winograd transforms (76 MB at ngf 64) count against the budget
        (backend as? OpenCLBackend)?.derived.limit(to: memoryBudget / 8)
        outputDirectory = ((options.resultsDir as NSString).appendingPathComponent(options.name) as NSString).appendingPathComponent("test_\(options.epoch)")
    }

    /// A generator of the run, loaded from `<epoch>_net_<name>` (.safetensors, else .pth), in
    /// training mode (dropout drawing from `--seed`) unless `--eval`.
    func generator(_ name: String, inputNC: Int, outputNC: Int) throws -> any Generator {
        var c = CycleGANConfig()
        c.ngf = options.ngf; c.netG = options.netG; c.nBlocks = options.nBlocks
        c.norm = NormKind(rawValue: options.norm) ?? .instance
        c.dropout = options.dropout
        let g = makeGenerator(c, inputNC: inputNC, outputNC: outputNC, on: backend)
        let store = CheckpointStore(directory: "\(options.checkpointsDir)/\(options.name)")
        _ = try store.loadNetwork(g, name: name, label: options.epoch)
        g.mode.training = !options.eval
        g.mode.dropoutRandom = RandomStream(seed: CPUBackend.mix64(options.seed, 0xD209))
        return g
    }

    /// The transform of `--preprocess` (without flips), or nil at native size.
    func transform(channels: Int) -> TransformOptions? {
        guard let p = options.preprocess, p != .none else { return nil }
        var t = TransformOptions()
        t.preprocess = p; t.loadSize = options.loadSize; t.cropSize = options.cropSize; t.flip = false
        t.grayscale = channels == 1
        t.maxPixels = options.maxPixels
        return t
    }

    /// The size of the generator's input for a w×h image: what `--preprocess` makes of it,
    /// padded to sides that are multiples of 4 and at least the generator's minimum. Throws
    /// `ImageError` if that, or an image made on the way, exceeds `--max_pixels`.
    func inputSize(_ path: String, width: Int, height: Int, channels: Int) throws -> (width: Int, height: Int) {
        var size = (width: width, height: height)
        if let t = transform(channels: channels) {
            let (resized, out) = t.sizes(width: width, height: height)
            try checkPixels(path, (width, height), resized, "--preprocess \(t.preprocess.rawValue) makes it")
            size = out
        }
        return try paddedSize(path, size, original: (width, height))
    }

    /// `size` padded for the generator; throws if that exceeds `--max_pixels`.
    private func paddedSize(_ path: String, _ size: (width: Int, height: Int),
                            original: (Int, Int)) throws -> (width: Int, height: Int) {
        let padded = (width: NetworkSize.generatorInput(size.width, netG: options.netG),
                      height: NetworkSize.generatorInput(size.height, netG: options.netG))
        try checkPixels(path, original, padded, "padded for the generator it is")
        return padded
    }

    private func checkPixels(_ path: String, _ original: (Int, Int), _ size: (width: Int, height: Int), _ what: String) throws {
        guard pixelCount(size.width, size.height) > options.maxPixels else { return }
        throw ImageError(path: path, reason: "image is \(original.0)x\(original.1); \(what) "
                         + "\(size.width)x\(size.height), more than --max_pixels \(options.maxPixels)")
    }

    /// An image as [c][H][W] values in [-1, 1]: at native size, or as `--preprocess` makes it,
    /// then edge-padded for the generator (`padEdges`: reflected as far as the image allows,
    /// the edge repeated beyond); with the size to crop back to.
    struct HostImage { var values: [Float], c: Int, H: Int, W: Int, h: Int, w: Int }

    func input(_ path: String, channels: Int) throws -> HostImage {
        try input(try ImageIO.load(path, maxPixels: options.maxPixels), path: path, channels: channels)
    }

    /// As `input(_:channels:)`, for an image already decoded (a half of an aligned pair).
    func input(_ decoded: Image, path: String, channels: Int) throws -> HostImage {
        var image = decoded
        let original = (image.width, image.height)
        _ = try inputSize(path, width: image.width, height: image.height, channels: channels)
        if let t = transform(channels: channels) {
            var rng = RandomStream(seed: options.seed)
            image = transformImage(image, t, rng: &rng)
        } else if channels == 1 {
            image = toGrayscale(image)
        }
        let padded = try paddedSize(path, (image.width, image.height), original: original)
        let x = padEdges(image, width: padded.width, height: padded.height)
        return HostImage(values: chwValues(x), c: x.channels, H: x.height, W: x.width, h: image.height, w: image.width)
    }

    /// Writes an image cropped to h×w as a PNG.
    func save(_ t: HostImage, to path: String) throws {
        var out = [Float](repeating: 0, count: t.c * t.h * t.w)
        for ch in 0..<t.c { for y in 0..<t.h { for x in 0..<t.w { out[(ch * t.h + y) * t.w + x] = t.values[(ch * t.H + y) * t.W + x] } } }
        try ImageIO.savePNG(imageFromCHW(out, shape: [t.c, t.h, t.w]), to: path)
    }

    /// The bytes an untiled translation of an H×W image holds at its peak, about: two
    /// full-resolution activations of ngf channels (FP16 under `--precision mixed`), and room
    /// for the rest.
    func untiledNeed(height: Int, width: Int) -> Int { 2 * activationBytes(height: height, width: width) + (256 << 20) }

    /// The bytes of one full-resolution activation of ngf channels.
    func activationBytes(height: Int, width: Int) -> Int {
        backend.precision.activationType.size * options.ngf * height * width
    }

    /// `g`'s output for `x`: at once where it fits `memoryBudget`, else in tiles (said once;
    /// ResNets with instance norm only: the bands need every norm's statistics over the whole
    /// image to be the instance norm's).
    func translate(_ g: any Generator, _ x: HostImage, label: String, outputNC: Int,
                   progress: TranslationProgress) throws -> HostImage {
        var out = x
        out.c = outputNC
        let need = untiledNeed(height: x.H, width: x.W)
        // (a full-resolution activation must also fit the device's largest buffer)
        let largest = (backend as? OpenCLBackend)?.device.maxMemAllocSize ?? Int.max
        if need <= memoryBudget && activationBytes(height: x.H, width: x.W) <= largest {
            let y = g(Tensor(shape: [1, x.c, x.H, x.W], values: x.values, on: backend))
            out.values = y.toArray()
            try backend.throwIfFailed()
            return out
        }
        guard let g = g as? ResnetGenerator, g.norm == .instance, !(g.dropout && g.mode.training) else {
            throw ImageError(path: label, reason: "its translation needs about \(gib(need)), more than --max_memory "
                + "\(gib(memoryBudget)); translation in bands of rows takes ResNet generators with instance norm only "
                + "(this one is \(options.netG), --norm \(options.norm)): raise --max_memory or use --preprocess")
        }
        if let why = TiledTranslation.problem(width: x.W, ngf: options.ngf, budget: memoryBudget) {
            throw ImageError(path: label, reason: why)
        }
        let folder = try spillFolderForRun()
        if !saidTiled {
            saidTiled = true
            FileHandle.standardError.write(Data(("note: \(label) (\(x.w)x\(x.h)) needs about \(gib(need)) untiled, more than "
                + "--max_memory \(gib(memoryBudget)): translating it layer by layer in bands of rows, activations past "
                + "\(gib(memoryBudget / 2)) spilled to \(folder) (so are any larger images of this run)\n").utf8))
        }
        let tiled = TiledTranslation(backend: backend, budget: memoryBudget, spillDirectory: folder)
        tiled.progress = { layer, layers, band, bands in progress.tile(layer: layer, of: layers, band: band, of: bands) }
        out.values = try tiled.run(g, image: x.values, channels: x.c, height: x.H, width: x.W)
        return out
    }

    private func gib(_ bytes: Int) -> String { String(format: "%.2f GiB", Double(bytes) / Double(1 << 30)) }

    /// The run's folder under `--spill_dir` (or the temporary folder), made on first use.
    private func spillFolderForRun() throws -> String {
        if let spillFolder { return spillFolder }
        let base = options.spillDir ?? NSTemporaryDirectory()
        var template = Array(((base as NSString).appendingPathComponent("cyclegan-spill-XXXXXX")).utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw OptionError("--spill_dir \(base): cannot make a folder there (\(String(cString: strerror(errno))))")
        }
        spillFolder = String(cString: template)
        return spillFolder!
    }

    static func stem(_ path: String) -> String { ((path as NSString).lastPathComponent as NSString).deletingPathExtension }

    /// `preflight` for aligned pairs: both halves of each file.
    func preflightPairs(_ files: ArraySlice<String>) throws {
        for path in files {
            let header = try ImageIO.probe(path, maxPixels: options.maxPixels)
            guard header.width >= 2 else { throw ImageError(path: path, reason: AlignedDataset.tooNarrow) }
            _ = try inputSize(path, width: header.width / 2, height: header.height, channels: options.inputNC)
            _ = try inputSize(path, width: header.width / 2, height: header.height, channels: options.outputNC)
        }
    }

    /// Reads the header of each file and checks the generator input it makes (`inputSize`),
    /// so that a file that cannot be translated stops the run before anything is written.
    func preflight(_ files: ArraySlice<String>, channels: Int) throws {
        for path in files {
            let header = try ImageIO.probe(path, maxPixels: options.maxPixels)
            _ = try inputSize(path, width: header.width, height: header.height, channels: channels)
        }
    }

    /// Translates everything; returns the number of inputs processed. Every input's header
    /// is checked before anything is written, and a run that fails later removes what it
    /// wrote (and the folders it made).
    @discardableResult
    public func run(say: (String) -> Void = { print($0) }) throws -> Int {
        let imagesDir = outputDirectory + "/images"
        var rows: [(String, [String])] = []
        let o = options
        var written: [String] = []
        let madeFolders = Self.missingFolders(imagesDir)
        func save(_ t: HostImage, to path: String) throws {
            try self.save(t, to: path)
            written.append(path)
        }
        defer {
            if let spillFolder { rmdir(spillFolder) }  // its files were unlinked when made
            spillFolder = nil
        }
        do {
            try withNoGrad {
                if o.model == "test" || o.model == "pix2pix" {
                    // one generator: on a folder of images, or on the input half of each aligned pair
                    let aligned = o.model == "pix2pix"
                    let folder = aligned ? (o.dataroot as NSString).appendingPathComponent(o.phase) : o.dataroot
                    let files = try ImageFolder.files(in: folder).prefix(o.numTest ?? Int.max)
                    if aligned { try preflightPairs(files) } else { try preflight(files, channels: o.inputNC) }
                    let g = try generator(aligned ? "G" : "G\(o.modelSuffix)", inputNC: o.inputNC, outputNC: o.outputNC)
                    try FileManager.default.createDirectory(atPath: imagesDir, withIntermediateDirectories: true)
                    let progress = TranslationProgress(images: files.count)
                    let names = aligned ? ["real_A", "fake_B", "real_B"] : ["real", "fake"]
                    for path in files {
                        let s = Self.stem(path)
                        progress.begin(s)
                        let x: HostImage, target: HostImage?
                        if aligned {
                            let (a, b) = AlignedDataset.halves(try ImageIO.load(path, maxPixels: o.maxPixels))
                            let (input, other) = o.direction == "AtoB" ? (a, b) : (b, a)
                            x = try self.input(input, path: path, channels: o.inputNC)
                            target = try self.input(other, path: path, channels: o.outputNC)
                        } else {
                            x = try input(path, channels: o.inputNC)
                            target = nil
                        }
                        try save(x, to: "\(imagesDir)/\(s)_\(names[0]).png")
                        try save(translate(g, x, label: path, outputNC: o.outputNC, progress: progress), to: "\(imagesDir)/\(s)_\(names[1]).png")
                        if let target { try save(target, to: "\(imagesDir)/\(s)_\(names[2]).png") }
                        rows.append((s, names))
                        progress.end()
                    }
                } else {
                    let aToB = o.direction == "AtoB"
                    let filesA = try ImageFolder.files(in: "\(o.dataroot)/\(o.phase)\(aToB ? "A" : "B")")
                    let filesB = try ImageFolder.files(in: "\(o.dataroot)/\(o.phase)\(aToB ? "B" : "A")")
                    let count = min(max(filesA.count, filesB.count), o.numTest ?? Int.max)
                    try preflight(filesA.prefix(count), channels: o.inputNC)
                    try preflight(filesB.prefix(count), channels: o.outputNC)
                    let gA = try generator("G_A", inputNC: o.inputNC, outputNC: o.outputNC)
                    let gB = try generator("G_B", inputNC: o.outputNC, outputNC: o.inputNC)
                    try FileManager.default.createDirectory(atPath: imagesDir, withIntermediateDirectories: true)
                    let progress = TranslationProgress(images: count)
                    for i in 0..<count {
                        let pa = filesA[i % filesA.count], pb = filesB[i % filesB.count]
                        let s = Self.stem(pa)
                        progress.begin(s)
                        let a = try input(pa, channels: o.inputNC), b = try input(pb, channels: o.outputNC)
                        let fakeB = try translate(gA, a, label: pa, outputNC: o.outputNC, progress: progress)
                        let fakeA = try translate(gB, b, label: pb, outputNC: o.inputNC, progress: progress)
                        try save(a, to: "\(imagesDir)/\(s)_real_A.png")
                        try save(fakeB, to: "\(imagesDir)/\(s)_fake_B.png")
                        try save(translate(gB, fakeB, label: pa, outputNC: o.inputNC, progress: progress), to: "\(imagesDir)/\(s)_rec_A.png")
                        try save(b, to: "\(imagesDir)/\(s)_real_B.png")
                        try save(fakeA, to: "\(imagesDir)/\(s)_fake_A.png")
                        try save(translate(gA, fakeA, label: pb, outputNC: o.outputNC, progress: progress), to: "\(imagesDir)/\(s)_rec_B.png")
                        rows.append((s, ["real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B"]))
                        progress.end()
                    }
                }
            }
            var html = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>\(o.name) test \(o.epoch)</title>"
                + "<style>body{font-family:sans-serif} img{width:200px;margin:2px} td{text-align:center;font-size:12px}</style></head><body>"
                + "<h1>\(o.name), epoch \(o.epoch)</h1>\n"
            for (s, names) in rows {
                html += "<h3>\(s)</h3><table><tr>"
                for n in names { html += "<td><img src=\"images/\(s)_\(n).png\"><br>\(n)</td>" }
                html += "</tr></table>\n"
            }
            html += "</body></html>\n"
            try writeAtomically(Data(html.utf8), to: outputDirectory + "/index.html")
        } catch {
            for path in written { try? FileManager.default.removeItem(atPath: path) }
            for folder in madeFolders { rmdir(folder) }  // only if empty
            throw error
        }
        say("translated \(rows.count) image(s) into \(imagesDir); page: \(outputDirectory)/index.html")
        return rows.count
    }

    /// The folders that creating `path` would make, deepest first.
    static func missingFolders(_ path: String) -> [String] {
        var missing: [String] = []
        var p = (path as NSString).standardizingPath
        while !p.isEmpty && p != "/" && p != "." && !FileManager.default.fileExists(atPath: p) {
            missing.append(p)
            p = (p as NSString).deletingLastPathComponent
        }
        return missing
    }
}
