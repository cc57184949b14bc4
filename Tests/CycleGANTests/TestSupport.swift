import Foundation
import XCTest
@testable import CycleGAN

/// The OpenCL backend tests run against: the first OpenCL device (PoCL in CI). Without
/// one the OpenCL tests fail, unless CYCLEGAN_ALLOW_NO_OPENCL=1 lets them skip.
enum TestDevices {
    static let openCL: OpenCLBackend? = {
        guard let device = DeviceSpec.autoChoice(openCLDevices()) else { return nil }
        do { return try OpenCLBackend(device: device) } catch {
            openCLError = "\(error)"
            return nil
        }
    }()
    /// Why the OpenCL backend could not be made on a device that exists (a kernel build failure).
    nonisolated(unsafe) static var openCLError: String? = nil

    static func requireOpenCL(file: StaticString = #filePath, line: UInt = #line) throws -> OpenCLBackend {
        if let b = openCL { return b }
        if openCLError == nil && ProcessInfo.processInfo.environment["CYCLEGAN_ALLOW_NO_OPENCL"] == "1" {
            throw XCTSkip("no OpenCL device")
        }
        XCTFail(openCLError ?? "no OpenCL device found (install pocl-opencl-icd, or set CYCLEGAN_ALLOW_NO_OPENCL=1)", file: file, line: line)
        throw XCTSkip("no OpenCL device")
    }

    static let cpu = CPUBackend()
}

/// A small deterministic generator for test inputs (not the engine's RNG).
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    mutating func array(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<n).map { _ in uniform(lo, hi) }
    }
}

func maxAbsError(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { max($0, abs(Double($1.0) - Double($1.1))) }
}

extension Backend {
    /// A buffer holding `values`.
    func buffer(_ values: [Float]) -> Buffer {
        let b = makeBuffer(count: values.count)
        upload(values, to: b)
        return b
    }
}

/// The PyTorch reference values in Tests/Fixtures, found from this file's path.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let tensors: SafeTensorsFile = {
        try! SafeTensorsFile(contentsOf: directory.appendingPathComponent("cyclegan_reference.safetensors").path)
    }()
    static let json: [String: Any] = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("cyclegan_reference.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    /// The same files as the library's fixture check reads them.
    static let pytorch: PyTorchFixture = try! PyTorchFixture(directory: directory.path)

    static func tensor(_ key: String) -> HostTensor {
        guard let t = tensors.tensors[key] else { fatalError("fixture has no tensor \(key)") }
        return t
    }
}

/// A scratch folder of this test process, `<tmp>/cyclegan-<tag>-<pid>`, with the built-in
/// demo's images (`trainCount` and `testCount` per domain, `size`² pixels) under `data/`.
func demoScratch(_ tag: String, trainCount: Int, testCount: Int, size: Int, seed: UInt64) -> String {
    let root = NSTemporaryDirectory() + "cyclegan-\(tag)-\(getpid())"
    try! DemoData.write(to: root + "/data", trainCount: trainCount, testCount: testCount, size: size, seed: seed)
    return root
}

extension XCTestCase {
    /// A fresh empty folder, removed when the test ends.
    func tempDir(_ name: String) -> String {
        let d = NSTemporaryDirectory() + "cyclegan-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }
}

extension TrainOptions {
    /// The tiny run the training tests share: run "run" in `checkpointsDir`, 32×32 crops of
    /// `dataroot` resized to `loadSize`, ngf/ndf 4, 6 blocks, 2 epochs, pool of 2, 'latest'
    /// every 4 images and a set per epoch.
    static func tiny(dataroot: String, checkpointsDir: String, loadSize: Int) -> TrainOptions {
        var o = TrainOptions()
        o.dataroot = dataroot
        o.name = "run"
        o.checkpointsDir = checkpointsDir
        o.loadSize = loadSize; o.cropSize = 32
        o.ngf = 4; o.ndf = 4; o.netG = "resnet_6blocks"
        o.nEpochs = 1; o.nEpochsDecay = 1
        o.printFreq = 2; o.saveLatestFreq = 4; o.saveEpochFreq = 1
        o.poolSize = 2
        return o
    }
}

/// A tensor of `shape` with `randomHostTensor`'s values for `seed` (in [lo, hi)), on `backend`.
func randomTensor(_ shape: [Int], seed: UInt64, _ lo: Float = -1, _ hi: Float = 1, on backend: Backend) -> Tensor {
    Tensor(shape: shape, values: randomHostTensor(shape, seed: seed, lo, hi).values, on: backend)
}
