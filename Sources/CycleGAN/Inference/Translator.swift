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
    /// "cycle_gan" (both directions, testA/testB) or "test" (one generator, a plain folder).
    public var model = "cycle_gan"
    public var modelSuffix = ""
    public var direction = "AtoB"
    public var phase = "test"
    public var inputNC = 3, outputNC = 3
    public var ngf = 64
    public var netG = "resnet_9blocks"
    /// nil: native resolution (reflect-padded to a multiple of 4, output cropped back).
    public var preprocess: PreprocessMode? = nil
    public var loadSize = 286, cropSize = 256
    public var seed: UInt64 = 2017
    public init() {}

    var nBlocks: Int { netG == "resnet_6blocks" ? 6 : 9 }
}

/// Translates images with trained generators and writes them, with an index.html, into
/// `<results_dir>/<name>/test_<epoch>/`.
public final class Translator {
    public let options: TestOptions
    let backend: Backend
    public let outputDirectory: String

    public init(options: TestOptions, backend: Backend) throws {
        guard options.model == "cycle_gan" || options.model == "test" else {
            throw OptionError("--model: expected cycle_gan or test, got \"\(options.model)\"")
        }
        guard ["resnet_9blocks", "resnet_6blocks"].contains(options.netG) else {
            throw OptionError("--netG: \"\(options.netG)\" is not supported (expected resnet_9blocks or resnet_6blocks)")
        }
        if let n = options.numTest, n < 1 { throw OptionError("--num_test: must be positive, got \(n)") }
        self.options = options
        self.backend = backend
        outputDirectory = ((options.resultsDir as NSString).appendingPathComponent(options.name) as NSString).appendingPathComponent("test_\(options.epoch)")
    }

    /// A generator of the run, loaded from `<epoch>_net_<name>` (.safetensors, else .pth).
    func generator(_ name: String, inputNC: Int, outputNC: Int) throws -> ResnetGenerator {
        let g = ResnetGenerator(inputNC: inputNC, outputNC: outputNC, ngf: options.ngf, nBlocks: options.nBlocks, on: backend)
        let store = CheckpointStore(directory: "\(options.checkpointsDir)/\(options.name)")
        _ = try store.loadNetwork(g, name: name, label: options.epoch)
        return g
    }

    /// An image as a [1, c, h, w] tensor in [-1, 1]: native size reflect-padded to a multiple
    /// of 4, or the chosen preprocessing. Returns the tensor and the size to crop back to.
    func input(_ path: String, channels: Int) throws -> (Tensor, h: Int, w: Int) {
        var image = try ImageIO.load(path)
        if let p = options.preprocess {
            var t = TransformOptions()
            t.preprocess = p; t.loadSize = options.loadSize; t.cropSize = options.cropSize; t.flip = false
            t.grayscale = channels == 1
            var rng = RandomStream(seed: options.seed)
            let (values, shape) = applyTransform(image, t, rng: &rng)
            return (Tensor(shape: [1] + shape, values: values, on: backend), shape[1], shape[2])
        }
        if channels == 1 { image = toGrayscale(image) }
        let c = image.channels, h = image.height, w = image.width
        let ph = (h + 3) / 4 * 4, pw = (w + 3) / 4 * 4
        guard ph <= 2 * h - 1 || h == ph, pw <= 2 * w - 1 || w == pw else {
            throw ImageError(path: path, reason: "image of \(w)x\(h) is too small to pad to a multiple of 4")
        }
        var values = [Float](repeating: 0, count: c * ph * pw)
        for ch in 0..<c {
            for y in 0..<ph {
                let sy = y < h ? y : 2 * h - 2 - y  // reflect into the image
                for x in 0..<pw {
                    let sx = x < w ? x : 2 * w - 2 - x
                    values[(ch * ph + y) * pw + x] = Float(image.pixels[(sy * w + sx) * c + ch]) / 127.5 - 1
                }
            }
        }
        return (Tensor(shape: [1, c, ph, pw], values: values, on: backend), h, w)
    }

    /// Writes a [1, c, H, W] tensor cropped to h×w as a PNG.
    func save(_ t: Tensor, h: Int, w: Int, to path: String) throws {
        let c = t.shape[1], H = t.shape[2], W = t.shape[3]
        let v = t.toArray()
        var out = [Float](repeating: 0, count: c * h * w)
        for ch in 0..<c { for y in 0..<h { for x in 0..<w { out[(ch * h + y) * w + x] = v[(ch * H + y) * W + x] } } }
        try ImageIO.savePNG(imageFromCHW(out, shape: [c, h, w]), to: path)
    }

    static func imageFiles(_ folder: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError("dataset folder \(folder) does not exist")
        }
        let exts = Set(UnalignedDataset.imageExtensions)
        let files = (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? [])
            .filter { exts.contains(($0 as NSString).pathExtension.lowercased()) }
            .map { "\(folder)/\($0)" }.sorted()
        guard !files.isEmpty else { throw DatasetError("dataset folder \(folder) has no images (.jpg, .jpeg, .png, …)") }
        return files
    }

    static func stem(_ path: String) -> String { ((path as NSString).lastPathComponent as NSString).deletingPathExtension }

    /// Translates everything; returns the number of inputs processed.
    @discardableResult
    public func run(say: (String) -> Void = { print($0) }) throws -> Int {
        let imagesDir = outputDirectory + "/images"
        var rows: [(String, [String])] = []
        let o = options
        // Inputs and generators are checked before anything is written.
        try withNoGrad {
            if o.model == "test" {
                let files = try Self.imageFiles(o.dataroot)
                let g = try generator("G\(o.modelSuffix)", inputNC: o.inputNC, outputNC: o.outputNC)
                try FileManager.default.createDirectory(atPath: imagesDir, withIntermediateDirectories: true)
                for path in files.prefix(o.numTest ?? Int.max) {
                    let s = Self.stem(path)
                    let (x, h, w) = try input(path, channels: o.inputNC)
                    try save(x, h: h, w: w, to: "\(imagesDir)/\(s)_real.png")
                    try save(g(x), h: h, w: w, to: "\(imagesDir)/\(s)_fake.png")
                    rows.append((s, ["real", "fake"]))
                }
            } else {
                let aToB = o.direction == "AtoB"
                let filesA = try Self.imageFiles("\(o.dataroot)/\(o.phase)\(aToB ? "A" : "B")")
                let filesB = try Self.imageFiles("\(o.dataroot)/\(o.phase)\(aToB ? "B" : "A")")
                let gA = try generator("G_A", inputNC: o.inputNC, outputNC: o.outputNC)
                let gB = try generator("G_B", inputNC: o.outputNC, outputNC: o.inputNC)
                try FileManager.default.createDirectory(atPath: imagesDir, withIntermediateDirectories: true)
                let count = min(max(filesA.count, filesB.count), o.numTest ?? Int.max)
                for i in 0..<count {
                    let pa = filesA[i % filesA.count], pb = filesB[i % filesB.count]
                    let s = Self.stem(pa)
                    let (a, ha, wa) = try input(pa, channels: o.inputNC)
                    let (b, hb, wb) = try input(pb, channels: o.outputNC)
                    let fakeB = gA(a), fakeA = gB(b)
                    try save(a, h: ha, w: wa, to: "\(imagesDir)/\(s)_real_A.png")
                    try save(fakeB, h: ha, w: wa, to: "\(imagesDir)/\(s)_fake_B.png")
                    try save(gB(fakeB), h: ha, w: wa, to: "\(imagesDir)/\(s)_rec_A.png")
                    try save(b, h: hb, w: wb, to: "\(imagesDir)/\(s)_real_B.png")
                    try save(fakeA, h: hb, w: wb, to: "\(imagesDir)/\(s)_fake_A.png")
                    try save(gA(fakeA), h: hb, w: wb, to: "\(imagesDir)/\(s)_rec_B.png")
                    rows.append((s, ["real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B"]))
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
        say("translated \(rows.count) image(s) into \(imagesDir); page: \(outputDirectory)/index.html")
        return rows.count
    }
}
