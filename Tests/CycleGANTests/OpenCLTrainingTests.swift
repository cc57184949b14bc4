import XCTest
@testable import CycleGAN

/// Training runs on the OpenCL backend are reproducible to the bit: two runs with the same
/// seed write the same checkpoints, and a run stopped and resumed writes the checkpoints of
/// the uninterrupted one (TrainingRunTests checks the same on the CPU reference). Every
/// reduction on the device is summed in a fixed order (no atomics), so nothing may differ.
final class OpenCLTrainingTests: XCTestCase {
    static let data = demoScratch("ocl-train-data", trainCount: 3, testCount: 1, size: 32, seed: 6) + "/data"

    /// The tiny model: 32×32 images, ngf/ndf 4, 6 blocks, 2 epochs of 3 images (6 steps),
    /// a 'latest' save mid-run and one per epoch.
    func options(_ dir: String) -> TrainOptions {
        var o = TrainOptions.tiny(dataroot: Self.data, checkpointsDir: dir, loadSize: 32)
        o.displayFreq = 6
        o.noHTML = true
        o.seed = 31
        return o
    }

    /// The configurations trained: the device's own choices; the CPU shape with every weight
    /// gradient split in 3 and the instance norm's planes (1024 pixels at most) in chunks of
    /// 100; the GPU shape with 3 splits (ForcedPathTests checks each against the CPU reference);
    /// `--precision mixed` (FP16 activations, pools and loss scale in the train state).
    static let configs: [String: (OpenCLTuning, Precision)] = [
        "default": (OpenCLTuning(), .fp32),
        "cpu, 3 splits, chunk 100": (OpenCLTuning(kernelShape: .cpu, reductionSplits: 3, normChunk: 100), .fp32),
        "gpu, 3 splits": (OpenCLTuning(kernelShape: .gpu, reductionSplits: 3), .fp32),
        "mixed": (OpenCLTuning(), .mixed),
    ]

    /// Trains on a fresh backend, as a new process would make.
    func train(_ o: TrainOptions, _ config: String) throws -> TrainProgress {
        let device = try TestDevices.requireOpenCL().device
        var o = o
        o.device = device.spec
        let (tuning, precision) = Self.configs[config]!
        o.precision = precision.rawValue
        return try Trainer(options: o, backend: try OpenCLBackend(device: device, tuning: tuning, precision: precision), say: { _ in }).run()
    }

    /// The runs the tests compare against: 6 steps straight in each configuration (made once).
    nonisolated(unsafe) static var straightRuns: [String: String] = [:]
    func straight(_ config: String) throws -> String {
        if let d = Self.straightRuns[config] { return d }
        let d = NSTemporaryDirectory() + "cyclegan-ocl-straight-\(getpid())-\(Self.straightRuns.count)"  // removed in tearDown
        XCTAssertEqual(try train(options(d), config).totalIters, 6)
        Self.straightRuns[config] = d
        return d
    }

    /// 2 steps, stop ('latest' saved mid-epoch), resume for the other 4: the checkpoints of
    /// the 6 steps straight.
    func assertResumeIsExact(_ config: String) throws {
        let first = try straight(config), split = tempDir("split")
        var part1 = options(split)
        part1.stopAfter = 2
        XCTAssertEqual(try train(part1, config).totalIters, 2)
        var part2 = options(split)
        part2.continueTrain = true
        XCTAssertEqual(try train(part2, config).totalIters, 6)
        try assertSameCheckpoints(first, split, config)
        if config != "default" {  // the tuning reached the training step: other bits than the default's
            let latest = "/run/latest_net_G_A.safetensors"
            XCTAssertFalse(FileManager.default.contentsEqual(atPath: first + latest, andPath: try straight("default") + latest), config)
        }
    }

    override class func tearDown() {
        for d in Array(straightRuns.values) + [data] { try? FileManager.default.removeItem(atPath: d) }
        super.tearDown()
    }

    /// Every checkpoint file of `a` exists in `b` with the same bytes; on a difference, the
    /// first differing tensor (by file, then name) and how far it is off.
    func assertSameCheckpoints(_ a: String, _ b: String, _ config: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let names = { (d: String) in
            try FileManager.default.contentsOfDirectory(atPath: d + "/run").filter { $0.hasSuffix(".safetensors") }.sorted()
        }
        let files = try names(a)
        XCTAssertEqual(files, try names(b), file: file, line: line)
        XCTAssertTrue(files.contains("latest_train_state.safetensors") && files.contains("2_net_G_A.safetensors"), "\(files)",
                      file: file, line: line)
        for f in files {
            let pa = "\(a)/run/\(f)", pb = "\(b)/run/\(f)"
            if FileManager.default.contentsEqual(atPath: pa, andPath: pb) { continue }
            let ta = try SafeTensorsFile(contentsOf: pa), tb = try SafeTensorsFile(contentsOf: pb)
            var what = ta.metadata == tb.metadata ? "" : "metadata \(ta.metadata) vs \(tb.metadata)"
            for k in ta.tensors.keys.sorted() where ta.tensors[k] != tb.tensors[k] {
                let x = ta.tensors[k]!.values, y = tb.tensors[k]?.values ?? []
                let differ = x.count == y.count ? zip(x, y).filter { $0 != $1 }.count : -1
                what = "tensor \(k): \(differ) of \(x.count) elements differ, max abs \(x.count == y.count ? maxAbsError(x, y) : .nan), "
                    + "relative \(x.count == y.count ? relativeError(x, y) : .nan)"
                break
            }
            XCTFail("\(config): \(f) differs: \(what)", file: file, line: line)
        }
    }

    func testTwoRunsWithTheSameSeedWriteTheSameCheckpoints() throws {
        let first = try straight("default"), second = tempDir("again")
        XCTAssertEqual(try train(options(second), "default").totalIters, 6)
        try assertSameCheckpoints(first, second, "default")
    }

    func testResumedRunIsTheUninterruptedOne() throws { try assertResumeIsExact("default") }

    func testResumedRunIsTheUninterruptedOneWithSplitsAndNormChunks() throws {
        try assertResumeIsExact("cpu, 3 splits, chunk 100")
    }

    func testResumedRunIsTheUninterruptedOneInTheGPUShape() throws { try assertResumeIsExact("gpu, 3 splits") }

    /// Under `--precision mixed` the pools hold FP16 images (saved as F16) and the train state
    /// the loss scale; the resumed run is still the uninterrupted one to the bit.
    func testResumedRunIsTheUninterruptedOneInMixedPrecision() throws {
        try assertResumeIsExact("mixed")
        let state = try SafeTensorsFile(contentsOf: try straight("mixed") + "/run/latest_train_state.safetensors")
        XCTAssertNotNil(state.metadata["loss_scale"].flatMap(Float.init))
        XCTAssertNotNil(state.metadata["loss_scale_growth_tracker"].flatMap(Int.init))
        XCTAssertEqual(state.tensors["pool_A/0"]?.dtype, .float16, "the pools' FP16 images are saved as F16")
        XCTAssertEqual(state.tensors.values.filter { $0.dtype == .float16 }.count, state.metadata.filter { $0.key.hasSuffix("_count") }
            .map { Int($0.value)! }.reduce(0, +), "only the pools' images are F16")
    }
}
