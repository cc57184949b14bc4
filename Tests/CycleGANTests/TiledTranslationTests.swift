import XCTest
@testable import CycleGAN

/// Translation past `--max_memory`: layer by layer in bands of rows, activations spilled to
/// files, the instance norms' statistics over the whole image. The result must be the
/// untiled translation's, and the spill folder must be left empty whatever happens.
final class TiledTranslationTests: CLITestCase {
    static let root = demoScratch("tiled", trainCount: 2, testCount: 2, size: 44, seed: 5)

    /// In process, on the CPU reference and on OpenCL, in FP32 and in `--precision mixed`: a
    /// budget of 48 KB makes every layer run in bands of a few rows and every activation go to
    /// a spill file. In mixed, where the statistics' rounding differs (Double here, float on the
    /// device), a value can be stored one FP16 ulp apart and this small network (gain 0.5)
    /// carries that on: the tiled output stays within 0.6 of what FP16 changes against FP32
    /// (measured 0.013–0.018 against 0.031–0.035).
    func testTiledForwardEqualsTheUntiledOne() throws {
        var backends: [(String, Backend)] = [("cpu-ref", TestDevices.cpu), ("cpu-ref mixed", CPUBackend(precision: .mixed))]
        if let ocl = TestDevices.openCL {
            backends += [("opencl", ocl), ("opencl mixed", try OpenCLBackend(device: ocl.device, precision: .mixed))]
        }
        for (name, be) in backends {
            let g = ResnetGenerator(inputNC: 3, outputNC: 3, ngf: 4, nBlocks: 2, on: be)
            initWeights(g, gain: 0.5, seed: 31)
            let image = randomHostTensor([1, 3, 44, 52], seed: 32, -1, 1).values
            let untiled = withNoGrad { g(Tensor(shape: [1, 3, 44, 52], values: image, on: be)) }.toArray()
            let spill = tempDir("tiled-\(name)")
            let tiled = TiledTranslation(backend: be, budget: 48 << 10, spillDirectory: spill)
            var bands = 0, layersSeen = Set<Int>()
            tiled.progress = { layer, layers, _, _ in bands += 1; layersSeen.insert(layer); XCTAssertEqual(layers, 12) }
            let out = try tiled.run(g, image: image, channels: 3, height: 44, width: 52)
            XCTAssertEqual(out.count, untiled.count)
            let error = maxAbsError(out, untiled)
            if be.precision == .mixed {
                // against what FP16 itself changes: the FP32 forward of the same weights
                let fp32 = ResnetGenerator(inputNC: 3, outputNC: 3, ngf: 4, nBlocks: 2, on: TestDevices.cpu)
                initWeights(fp32, gain: 0.5, seed: 31)
                let exact = withNoGrad { fp32(Tensor(shape: [1, 3, 44, 52], values: image, on: TestDevices.cpu)) }.toArray()
                let fp16Effect = maxAbsError(untiled, exact)
                print("\(name): tiled against untiled, max abs \(error); untiled against FP32 \(fp16Effect)")
                XCTAssertLessThan(error, 0.6 * fp16Effect, name)
                XCTAssertEqual(out.map(Rounding.half), out, "\(name): the output is FP16 values")
            } else {
                XCTAssertLessThan(error, 1e-4, name)
            }
            XCTAssertEqual(layersSeen, Set(1...12), name)
            XCTAssertGreaterThan(bands, 12 * 4, "\(name): every layer in several bands")
            XCTAssertGreaterThan(tiled.spilledBytes, 0, name)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: spill), [], "\(name): spill files left behind")
        }
    }

    func testMemorySizes() {
        XCTAssertEqual(parseMemorySize("1G"), 1 << 30)
        XCTAssertEqual(parseMemorySize("512m"), 512 << 20)
        XCTAssertEqual(parseMemorySize("1.5G"), 3 << 29)
        XCTAssertEqual(parseMemorySize("4096"), 4096)
        XCTAssertEqual(parseMemorySize("64MB"), nil)
        for bad in ["", "G", "-1G", "0", "1X", "nan", "1e30G"] { XCTAssertNil(parseMemorySize(bad), bad) }
        // a band of one row must fit: a quarter of the budget, and 32-bit offsets
        XCTAssertNil(TiledTranslation.problem(width: 6000, ngf: 64, budget: 1 << 30))
        XCTAssertTrue(TiledTranslation.problem(width: 10000, ngf: 64, budget: 64 << 20)?.contains("raise --max_memory") ?? false)
        XCTAssertTrue(TiledTranslation.problem(width: 5_000_000, ngf: 64, budget: 1 << 50)?.contains("too wide") ?? false)
    }

    /// `cyclegan test --max_memory 64M`: tiled (said once), the same images as untiled within
    /// one 8-bit level, the spill folder empty after success and after a device failure, and
    /// bad values refused in one line.
    func testTiledCommandMatchesUntiledAndCleansUp() throws {
        let root = Self.root
        let train = try cyclegan(["train", "--name", "t", "--dataroot", root + "/data", "--checkpoints_dir", root + "/ck",
                                  "--load_size", "36", "--crop_size", "32", "--ngf", "4", "--ndf", "4", "--netG", "resnet_6blocks",
                                  "--n_epochs", "1", "--n_epochs_decay", "0", "--device", "cpu-ref"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let spill = tempDir("spill")
        func test(_ results: String, _ extra: [String], environment: [String: String] = [:]) throws -> Result {
            try cyclegan(["test", "--name", "t", "--dataroot", root + "/data", "--checkpoints_dir", root + "/ck",
                          "--results_dir", root + "/" + results] + extra, environment: environment)
        }
        let untiled = try test("untiled", [])
        XCTAssertEqual(untiled.status, 0, untiled.stderr)
        XCTAssertFalse(untiled.stderr.contains("bands of rows"), untiled.stderr)
        let tiled = try test("tiled", ["--max_memory", "64M", "--spill_dir", spill])
        XCTAssertEqual(tiled.status, 0, tiled.stderr)
        XCTAssertEqual(tiled.stderr.components(separatedBy: "translating it layer by layer in bands of rows").count, 2, tiled.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: spill), [], "spill folder not cleaned up")
        let images = "/t/test_latest/images/"
        for name in try FileManager.default.contentsOfDirectory(atPath: root + "/untiled" + images) {
            let a = try ImageIO.load(root + "/untiled" + images + name), b = try ImageIO.load(root + "/tiled" + images + name)
            XCTAssertEqual([a.width, a.height], [b.width, b.height])
            let worst = zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1, "\(name): tiled differs from untiled by \(worst) levels")
        }
        // a device failure in the middle of a tiled translation: one line, nothing left behind
        let failed = try test("failed", ["--max_memory", "64M", "--spill_dir", spill, "--device", "cl:0:0"],
                              environment: ["CYCLEGAN_FAULT": "launch:300"])
        if TestDevices.openCL != nil {
            assertOneLineError(failed, contains: "error:")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: spill), [], "spill folder not cleaned up after a failure")
            XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/failed/t/test_latest/images"))
        }
        assertOneLineError(try test("bad1", ["--max_memory", "10M"]), contains: "--max_memory")
        assertOneLineError(try test("bad2", ["--max_memory", "lots"]), contains: "--max_memory")
        assertOneLineError(try test("bad3", ["--spill_dir", root + "/nowhere"]), contains: "--spill_dir")
    }
}
