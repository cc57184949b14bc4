import Foundation
import XCTest
@testable import CycleGAN

/// `.pth` import against Tests/Fixtures/pth, made by make_fixtures.py (hand-made files in
/// torch's exact layouts, and torch_*.pth written by torch.save itself); expected.json
/// holds their tensors.
final class PyTorchCheckpointTests: XCTestCase {
    static let directory = Fixture.directory.appendingPathComponent("pth")

    /// expected.json: content name → key → (shape, values).
    static let expected: [String: [String: HostTensor]] = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("expected.json"))
        let json = try! JSONSerialization.jsonObject(with: data) as! [String: [String: [String: [Double]]]]
        return json.mapValues { tensors in
            tensors.mapValues { HostTensor(shape: $0["shape"]!.map { Int($0) }, values: $0["values"]!.map { Float($0) }) }
        }
    }()

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Loads `name` and checks every key, shape and value against `content` exactly.
    func assertLoads(_ name: String, as content: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let got = try PyTorchCheckpoint.load(Self.path(name))
        let want = try XCTUnwrap(Self.expected[content], file: file, line: line)
        XCTAssertEqual(got.keys.sorted(), want.keys.sorted(), name, file: file, line: line)
        for (key, tensor) in want {
            XCTAssertEqual(got[key]?.shape, tensor.shape, "\(name) \(key)", file: file, line: line)
            XCTAssertEqual(got[key]?.values, tensor.values, "\(name) \(key)", file: file, line: line)
        }
    }

    /// The one-line message `load` throws for `name`.
    func loadError(_ name: String) -> String {
        do {
            _ = try PyTorchCheckpoint.load(Self.path(name))
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    // MARK: - Both formats, as torch writes them

    func testZipFormat() throws {
        try assertLoads("small_zip.pth", as: "small")
        try assertLoads("protocol4_zip.pth", as: "small")
        try assertLoads("bigendian_zip.pth", as: "small")
    }

    func testLegacyFormat() throws {
        try assertLoads("small_legacy.pth", as: "small")
    }

    func testRealTorchSave() throws {
        try assertLoads("torch_zip.pth", as: "torch")
        try assertLoads("torch_legacy.pth", as: "torch")
    }

    /// {"state_dict": ..., "epoch": 5} of a DataParallel model: "module." stripped. The zip
    /// one as torch 1.6 wrote it under another archive name, with zip64 central extras;
    /// the legacy one with a torch 0.4 storage view.
    func testWrappedStateDictAndModulePrefix() throws {
        try assertLoads("wrapped_zip64.pth", as: "small")
        try assertLoads("wrapped_legacy.pth", as: "small")
        let raw = try Data(contentsOf: Self.directory.appendingPathComponent("wrapped_legacy.pth"))
        XCTAssertNotNil(raw.range(of: Data("module.model.1.weight".utf8)))
    }

    /// Values recomputed here, independently of expected.json.
    func testDtypesAndViews() throws {
        for name in ["small_zip.pth", "small_legacy.pth"] {
            let sd = try PyTorchCheckpoint.load(Self.path(name))
            let w = try XCTUnwrap(sd["model.4.weight"]), wt = try XCTUnwrap(sd["model.5.weight"])
            XCTAssertEqual(w.shape, [4, 5])
            XCTAssertEqual(wt.shape, [5, 4])
            // ramp(26, 5) from storage offset 3; the transposed view shares the storage.
            let ramp: [Float] = (0..<26).map { i in Float((i * 37 + 55) % 101 - 50) / 64 }
            XCTAssertEqual(w.values, Array(ramp[3..<23]))
            for i in 0..<5 { for j in 0..<4 { XCTAssertEqual(wt.values[i * 4 + j], w.values[j * 5 + i]) } }
            XCTAssertEqual(sd["model.2.num_batches_tracked"], HostTensor(shape: [], values: [12345]))
            XCTAssertEqual(sd["model.2.running_mean"]?.values, (0..<4).map { Float(0.1 * Double($0) - 0.15) })
            XCTAssertEqual(sd["extra.half"]?.values, [-1.25, 3, 65504])
            XCTAssertEqual(sd["extra.bf16"]?.values, [1.5, -0.15625])
            XCTAssertEqual(sd["extra.int32"], HostTensor(shape: [2, 2], values: [-3, 7, 100000, 0]))
            XCTAssertEqual(sd["model.1.weight"]?.shape, [4, 3, 7, 7])
        }
    }

    // MARK: - Refusals and damage

    func testMaliciousGlobalIsRefused() {
        for name in ["malicious_zip.pth", "malicious_legacy.pth"] {
            let message = loadError(name)
            XCTAssertTrue(message.contains("refusing to load global os.system"), message)
            XCTAssertTrue(message.contains(name), message)
        }
    }

    func testTruncatedFilesNameTheFile() {
        let zip = loadError("truncated_zip.pth")
        XCTAssertTrue(zip.hasPrefix(Self.path("truncated_zip.pth") + ": truncated"), zip)
        let legacy = loadError("truncated_legacy.pth")
        XCTAssertTrue(legacy.hasPrefix(Self.path("truncated_legacy.pth") + ": truncated storage "), legacy)
    }

    func testDeflatedEntryIsRefused() {
        let message = loadError("deflated_zip.pth")
        XCTAssertTrue(message.contains("archive/data.pkl is deflate-compressed"), message)
    }

    func testNotACheckpoint() {
        for bytes in [[], [0x80, 0x02, 0x4B, 0x07, 0x2E], Array("hello, world".utf8)] as [[UInt8]] {
            XCTAssertThrowsError(try PyTorchCheckpoint.load(data: Data(bytes), name: "x.pth")) {
                XCTAssertEqual("\($0)", "x.pth: not a PyTorch checkpoint (neither a zip archive nor a legacy pickle)")
            }
        }
        XCTAssertThrowsError(try PyTorchCheckpoint.load(Self.path("no_such.pth"))) {
            XCTAssertTrue("\($0)".hasPrefix("cannot read "), "\($0)")
        }
    }

    /// Every fourth prefix and a thousand single-byte corruptions of both formats: each load
    /// returns or throws, never traps.
    func testDamagedInputNeverCrashes() throws {
        var rng = TestRNG(7)
        for name in ["small_zip.pth", "small_legacy.pth"] {
            let bytes = [UInt8](try Data(contentsOf: Self.directory.appendingPathComponent(name)))
            for n in stride(from: 0, to: bytes.count, by: 4) {
                _ = try? PyTorchCheckpoint.load(data: Data(bytes[..<n]), name: name)
            }
            for _ in 0..<1000 {
                var damaged = bytes
                let at = Int(rng.next() % UInt64(bytes.count))
                damaged[at] = UInt8(truncatingIfNeeded: rng.next())
                _ = try? PyTorchCheckpoint.load(data: Data(damaged), name: name)
            }
        }
    }

    // MARK: - The unpickler alone

    /// pickle.dumps({'a': [1, -2, 3.5, None, True, b'xy'], 'b': (-300, 2**40, -2**70, 'é'),
    /// 'c': {1: 2}}, protocol=4).
    func testUnpicklerPlainValues() throws {
        let hex = "80049553000000000000007d94288c0161945d94284b014afeffffff47400c0000000000004e884302787994658c01"
            + "6294284ad4feffff8a060000000000018a090000000000000000c08c02c3a99474948c0163947d944b014b0273752e"
        let bytes = stride(from: 0, to: hex.count, by: 2).map { i -> UInt8 in
            let s = hex.index(hex.startIndex, offsetBy: i)
            return UInt8(hex[s..<hex.index(s, offsetBy: 2)], radix: 16)!
        }
        let unpickler = Unpickler(isAllowed: { _ in false },
                                  call: { name, _ in throw CheckpointFormatError("call \(name)") },
                                  persistentLoad: { _ in throw CheckpointFormatError("persistent id") })
        let (value, end) = try unpickler.load(bytes, from: 0)
        XCTAssertEqual(end, bytes.count)
        guard case .dict(let d) = value, case .list(let a)? = d["a"], case .tuple(let b)? = d["b"],
              case .dict(let c)? = d["c"] else { return XCTFail("\(value)") }
        XCTAssertEqual("\(a.items)", "\([PickleValue.int(1), .int(-2), .float(3.5), .none, .bool(true), .bytes([0x78, 0x79])])")
        XCTAssertEqual("\(b)", "\([PickleValue.int(-300), .int(1 << 40), .bigInt([0, 0, 0, 0, 0, 0, 0, 0, 0xC0]), .string("é")])")
        XCTAssertEqual("\(c.items.map { "\($0.key)=\($0.value)" })", "[\"int(1)=int(2)\"]")
    }
}
