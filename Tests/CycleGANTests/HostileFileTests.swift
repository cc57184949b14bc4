import Foundation
import XCTest
@testable import CycleGAN

/// Hostile checkpoint files, built byte by byte: each must end in one error naming the
/// file (and the tensor or limit), never a trap, a hang or an unbounded allocation.
/// `HostileCheckpointCLITests` runs the same files through the binary.
final class HostileFileTests: XCTestCase {
    /// The error `body` throws, as text ("returned" if it throws nothing).
    func error(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return "returned"
        } catch {
            return "\(error)"
        }
    }

    func assertError(_ body: () throws -> Any, contains parts: String..., file: StaticString = #filePath, line: UInt = #line) {
        let message = error(body)
        XCTAssertFalse(message.contains("\n"), message, file: file, line: line)
        for part in parts { XCTAssertTrue(message.contains(part), "expected \"\(part)\" in: \(message)", file: file, line: line) }
    }

    // MARK: - safetensors

    func testSafetensorsShapeProductOverflow() {
        assertError({ try SafeTensorsFile(data: HostileFiles.safetensorsShapeOverflow, name: "f.safetensors") },
                    contains: "f.safetensors", "tensor w", "more elements than can be counted")
        // a zero after the overflow would make the product 0, but HostTensor multiplies left to right
        let zeroLast = HostileFiles.safetensors(#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}"#)
        assertError({ try SafeTensorsFile(data: zeroLast, name: "f.safetensors") }, contains: "tensor w", "more elements")
    }

    func testSafetensorsOffsetsOverflow() {
        assertError({ try SafeTensorsFile(data: HostileFiles.safetensorsOffsetsOverflow, name: "f.safetensors") },
                    contains: "f.safetensors", "tensor w", "data offsets")
        let past = HostileFiles.safetensors(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 4))
        assertError({ try SafeTensorsFile(data: past, name: "f.safetensors") }, contains: "tensor w", "reach past the end of the file")
        let backwards = HostileFiles.safetensors(#"{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}"#, data: [UInt8](repeating: 0, count: 4))
        assertError({ try SafeTensorsFile(data: backwards, name: "f.safetensors") }, contains: "tensor w", "data offsets")
    }

    func testSafetensorsDimensionsMustBeExactNonNegativeIntegers() {
        // 2^64 - 1 is -1 to NSNumber.intValue; two of them would multiply to 1
        assertError({ try SafeTensorsFile(data: HostileFiles.safetensorsNegativeDimension, name: "f.safetensors") },
                    contains: "tensor w", "shape", "not an integer from 0")
        for shape in ["[-1]", "[2.5]", "[1e3]", "[true]", "[\"4\"]", "[null]", "[9223372036854775808]", "[123456789012345678901234567890]"] {
            let file = HostileFiles.safetensors(#"{"w":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
            assertError({ try SafeTensorsFile(data: file, name: "f.safetensors") }, contains: "tensor w", "not an integer")
        }
        let offsets = HostileFiles.safetensors(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,0]}}"#, data: [0, 0, 0, 0])
        assertError({ try SafeTensorsFile(data: offsets, name: "f.safetensors") }, contains: "tensor w", "data_offsets")
        let dims = HostileFiles.safetensors(#"{"w":{"dtype":"F32","shape":[\#(Array(repeating: "1", count: 65).joined(separator: ","))],"data_offsets":[0,4]}}"#,
                                            data: [0, 0, 0, 0])
        assertError({ try SafeTensorsFile(data: dims, name: "f.safetensors") }, contains: "tensor w", "65 dimensions")
    }

    func testSafetensorsHeaderLength() {
        assertError({ try SafeTensorsFile(data: HostileFiles.safetensorsHeaderPastFile, name: "f.safetensors") },
                    contains: "f.safetensors", "header length 1099511627776")
        var max = Data(repeating: 0xFF, count: 8)
        max.append(contentsOf: Array("{}".utf8))
        assertError({ try SafeTensorsFile(data: max, name: "f.safetensors") }, contains: "header length 18446744073709551615")
        let big = Data([0, 0, 0, 1, 0, 0, 0, 0]) + Data(repeating: 0x20, count: 1 << 24)
        assertError({ try SafeTensorsFile(data: big, name: "f.safetensors") }, contains: "f.safetensors", "at most")
    }

    /// Tensors sharing bytes could multiply one stretch of data into any number of arrays.
    func testSafetensorsOverlappingTensorsAreRefused() {
        let header = "{" + (0..<3).map { #""t\#($0)":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}"# }.joined(separator: ",") + "}"
        let file = HostileFiles.safetensors(header, data: [UInt8](repeating: 0, count: 16))
        assertError({ try SafeTensorsFile(data: file, name: "f.safetensors") }, contains: "f.safetensors", "tensor t1: data overlaps tensor t0")
        // empty tensors may sit anywhere; a written file reads back
        let empty = HostileFiles.safetensors(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                                             data: [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(try SafeTensorsFile(data: empty).tensors["b"]?.values, [0, 0])
    }

    func testErrorsStayOneLineWhateverTheKey() {
        let file = HostileFiles.safetensors(#"{"bad\nkey\u0000":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#, data: [0])
        assertError({ try SafeTensorsFile(data: file, name: "f.safetensors") }, contains: #"tensor bad\nkey\0: dtype I8"#)
        XCTAssertEqual(printable(String(repeating: "é", count: 300)), String(repeating: "é", count: 200) + "…")
    }

    /// Every fourth prefix and a thousand single-byte corruptions of a written file.
    func testDamagedSafetensorsNeverCrash() throws {
        let data = SafeTensorsFile(tensors: ["a": HostTensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
                                             "b": HostTensor(shape: [], values: [7])], metadata: ["k": "v"]).serialized()
        let bytes = [UInt8](data)
        for n in stride(from: 0, to: bytes.count, by: 4) { _ = try? SafeTensorsFile(data: Data(bytes[..<n])) }
        var rng = TestRNG(11)
        for _ in 0..<1000 {
            var damaged = bytes
            damaged[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            _ = try? SafeTensorsFile(data: Data(damaged))
        }
    }

    // MARK: - The unpickler's limits

    static let refuseAll = Unpickler(isAllowed: { _ in false },
                                     call: { name, _ in throw CheckpointFormatError("call \(name)") },
                                     persistentLoad: { _ in throw CheckpointFormatError("persistent id") })

    func unpickle(_ bytes: [UInt8], limits: Unpickler.Limits = .init()) throws -> String {
        var u = Self.refuseAll
        u.limits = limits
        return try u.load(bytes, from: 0) { v -> String in
            switch v {
            case .tuple(let t): return "tuple of \(t.count)"
            case .list(let l): return "list of \(l.items.count)"
            default: return "other"
            }
        }.result
    }

    func testNestingDepthIsCapped() {
        assertError({ try unpickle(HostileFiles.nestedTuples(100_000)) }, contains: "nested more than 2000 deep")
        assertError({ try unpickle(HostileFiles.nestedMarkTuples(100_000)) }, contains: "nested more than 2000 deep")
        assertError({ try unpickle(HostileFiles.nestedLists(100_000)) }, contains: "nested more than 2000 deep")
        XCTAssertEqual(try unpickle(HostileFiles.nestedTuples(2000)), "tuple of 1")
        assertError({ try unpickle(HostileFiles.nestedTuples(2001)) }, contains: "nested more than 2000 deep")
    }

    /// With the depth cap lifted, 100,000 nested containers are still released without
    /// recursion (a recursive release overflows the stack at this depth).
    func testDeepValuesAreReleasedIteratively() throws {
        let unlimited = Unpickler.Limits(maxDepth: .max)
        XCTAssertEqual(try unpickle(HostileFiles.nestedTuples(100_000), limits: unlimited), "tuple of 1")
        XCTAssertEqual(try unpickle(HostileFiles.nestedMarkTuples(100_000), limits: unlimited), "tuple of 1")
        XCTAssertEqual(try unpickle(HostileFiles.nestedLists(100_000), limits: unlimited), "list of 1")
        // and on the error path: a deep tuple left on the stack when the pickle ends early
        assertError({ try unpickle(Array(HostileFiles.nestedTuples(100_000).dropLast()), limits: unlimited) }, contains: "ends early")
    }

    /// The DUP bomb (20 MB growing a process to 1.5 GB before the caps) stops at the stack
    /// limit; the other limits are exercised small, and their defaults once each.
    func testStackMemoAndItemsAreCapped() {
        let limits = Unpickler.Limits()
        XCTAssertEqual([limits.maxDepth, limits.maxStack, limits.maxMemo, limits.maxItems], [2000, 1_000_000, 1_000_000, 2_000_000])
        let start = Date()
        assertError({ try unpickle(HostileFiles.dupBomb(20_000_000)) }, contains: "more than 1000000 values on the stack")
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        // memo: MEMOIZE over and over (each a new key)
        assertError({ try unpickle([0x80, 0x02, 0x4E] + [UInt8](repeating: 0x94, count: 1_000_001) + [0x2E]) },
                    contains: "more than 1000000 memo entries")
        // containers count as items: EMPTY_LIST, POP over and over
        var lists: [UInt8] = [0x80, 0x02]
        lists.reserveCapacity(4_000_010)
        for _ in 0..<2_000_001 { lists += [0x5D, 0x30] }
        assertError({ try unpickle(lists + [0x4E, 0x2E]) }, contains: "more than 2000000 container items")

        let small = Unpickler.Limits(maxDepth: 3, maxStack: 10, maxMemo: 2, maxItems: 5)
        assertError({ try unpickle(HostileFiles.dupBomb(11), limits: small) }, contains: "more than 10 values on the stack")
        assertError({ try unpickle([0x80, 0x02] + [UInt8](repeating: 0x28, count: 11) + [0x2E], limits: small) },
                    contains: "more than 10 values on the stack")
        assertError({ try unpickle([0x80, 0x02, 0x4E, 0x94, 0x94, 0x94, 0x2E], limits: small) }, contains: "more than 2 memo entries")
        // LONG_BINPUT with distinct keys; overwriting a key does not count
        assertError({ try unpickle([0x80, 0x02, 0x4E, 0x72, 7, 0, 0, 0, 0x72, 9, 0, 0, 0, 0x72, 1, 0, 0, 1, 0x2E], limits: small) },
                    contains: "more than 2 memo entries")
        XCTAssertEqual(try unpickle([0x80, 0x02, 0x4E, 0x72, 7, 0, 0, 0, 0x72, 9, 0, 0, 0, 0x72, 7, 0, 0, 0, 0x85, 0x2E], limits: small), "tuple of 1")
        assertError({ try unpickle(HostileFiles.nestedTuples(4), limits: .init(maxDepth: 3)) }, contains: "nested more than 3 deep")
        // items: a tuple of five, a list appended to (NONE, APPEND pairs), a dict set into
        assertError({ try unpickle([0x80, 0x02, 0x28, 0x4E, 0x4E, 0x4E, 0x4E, 0x4E, 0x74, 0x2E], limits: small) },
                    contains: "more than 5 container items")
        assertError({ try unpickle([0x80, 0x02, 0x5D] + Array([[UInt8]](repeating: [0x4E, 0x61], count: 5).joined()) + [0x2E], limits: small) },
                    contains: "more than 5 container items")
        assertError({ try unpickle([0x80, 0x02, 0x7D, 0x4B, 1, 0x4E, 0x73, 0x4B, 2, 0x4E, 0x73, 0x4B, 3, 0x4E, 0x73, 0x2E], limits: small) },
                    contains: "more than 5 container items")
        // containers a call returns count too: OrderedDict() over and over
        let makesDicts = Unpickler(isAllowed: { $0 == "collections.OrderedDict" }, call: { _, _ in .dict(PickleDict()) },
                                   persistentLoad: { _ in .none }, limits: small)
        let calls = [0x80, 0x02] + HostileFiles.global("collections", "OrderedDict") + [0x94, 0x30]
            + Array([[UInt8]](repeating: [0x68, 0x00, 0x29, 0x52, 0x30], count: 6).joined()) + [0x4E, 0x2E]
        assertError({ try makesDicts.load(calls, from: 0) { _ in 0 } }, contains: "more than 5 container items")
    }

    /// A list placed in another container may not grow deeper afterwards: the holder's depth
    /// would be stale, and a list appended to itself would nest without end.
    func testListsMayNotDeepenOnceNested() {
        // l = []; t = (l,); l.append([])
        assertError({ try unpickle([0x80, 0x02, 0x5D, 0x94, 0x85, 0x30, 0x68, 0x00, 0x5D, 0x61, 0x2E]) }, contains: "grows deeper")
        // l = []; l.append(l)
        assertError({ try unpickle([0x80, 0x02, 0x5D, 0x94, 0x68, 0x00, 0x61, 0x2E]) }, contains: "grows deeper")
        // d = {}; d[0] = d
        assertError({ try unpickle([0x80, 0x02, 0x7D, 0x94, 0x4B, 0x00, 0x68, 0x00, 0x73, 0x2E]) }, contains: "grows deeper")
        // a nested list may still take leaves: l = []; t = (l,); l.append(None)
        XCTAssertEqual(try unpickle([0x80, 0x02, 0x5D, 0x94, 0x85, 0x30, 0x68, 0x00, 0x4E, 0x61, 0x2E]), "list of 1")
    }

    func testForbiddenGlobalsAreRefusedAndNeverRun() {
        assertError({ try PyTorchCheckpoint.load(data: HostileFiles.legacy(HostileFiles.osSystem), name: "g.pth") },
                    contains: "g.pth", "refusing to load global os.system")
        // STACK_GLOBAL with a newline in the name: still one line
        let stackGlobal: [UInt8] = [0x80, 0x04, 0x8C, 0x02] + Array("os".utf8) + [0x8C, 0x07] + Array("sys\ntem".utf8) + [0x93, 0x2E]
        assertError({ try PyTorchCheckpoint.load(data: HostileFiles.legacy(stackGlobal), name: "g.pth") },
                    contains: #"refusing to load global os.sys\ntem"#)
        assertError({ try PyTorchCheckpoint.load(data: HostileFiles.legacy([0x80, 0x02] + HostileFiles.global("builtins", "eval") + [0x2E]), name: "g.pth") },
                    contains: "refusing to load global builtins.eval")
    }

    // MARK: - .pth

    func testDeepNestAndDupBombInBothFormats() {
        for (what, pickle) in [("nested more than 2000 deep", HostileFiles.nestedTuples(100_000)),
                               ("values on the stack", HostileFiles.dupBomb(8_000_000))] {
            assertError({ try PyTorchCheckpoint.load(data: HostileFiles.legacy(pickle), name: "l.pth") }, contains: "l.pth", what)
            assertError({ try PyTorchCheckpoint.load(data: HostileFiles.zip(pickle: pickle), name: "z.pth") }, contains: "z.pth", what)
        }
        // a deep first pickle is simply not a legacy checkpoint
        assertError({ try PyTorchCheckpoint.load(data: Data(HostileFiles.nestedTuples(100_000)), name: "r.pth") },
                    contains: "r.pth", "not a PyTorch checkpoint")
    }

    func testBuiltFilesLoad() throws {
        let legacy = try PyTorchCheckpoint.load(data: HostileFiles.stateDict(tensors: 3, storageCount: 4), name: "ok.pth")
        XCTAssertEqual(legacy.keys.sorted(), ["k0", "k1", "k2"])
        XCTAssertEqual(legacy["k1"], HostTensor(shape: [4], values: [0, 1, 2, 3]))
        let zip = try PyTorchCheckpoint.load(data: HostileFiles.stateDictZip(tensors: 2, storageCount: 3), name: "ok.pth")
        XCTAssertEqual(zip["k1"], HostTensor(shape: [3], values: [0, 1, 2]))
    }

    /// Many tensors viewing one storage: each fits, together they exceed the file.
    func testViewsThatMultiplyTheFileAreRefused() {
        assertError({ try PyTorchCheckpoint.load(data: HostileFiles.broadcastBomb, name: "b.pth") },
                    contains: "b.pth", "more than a file of")
    }

    /// Central directory entries that all point at one stored entry: each would be
    /// CRC-checked again, quadratic in the file's size.
    func testOverlappingZipEntriesAreRefused() {
        assertError({ try PyTorchCheckpoint.load(data: HostileFiles.stateDictZip(tensors: 4, storageCount: 1 << 16, sharedEntries: true), name: "o.pth") },
                    contains: "o.pth", "overlaps others")
    }

    func testTooManyDimensions() {
        let shape = [Int](repeating: 1, count: 65)
        assertError({ try PyTorchCheckpoint.load(data: HostileFiles.stateDict(tensors: 1, storageCount: 1, shape: shape), name: "d.pth") },
                    contains: "d.pth", "65 dimensions")
    }

    /// A shape tuple of 100,000 entries is refused before it is copied into the tensor (the
    /// reviewer's 505 KB file reused one such tuple in 400 calls: 3.3 GB).
    func testLongShapeTuplesAreRefusedBeforeCopying() {
        let shape = [Int](repeating: 1, count: 100_000)
        assertError({ try PyTorchCheckpoint.load(data: HostileFiles.stateDict(tensors: 1, storageCount: 1, shape: shape), name: "l.pth") },
                    contains: "l.pth", "100000 dimensions")
    }

    /// Storage keys are short names: a long one (hashed at every reference) is refused.
    func testLongStorageKeysAreRefused() {
        var pickle = HostileFiles.stateDictPickle(tensors: 1, storageCount: 1)
        let key = HostileFiles.shortString("0")
        let long = [0x8C, 255] + [UInt8](repeating: 0x61, count: 255)  // a 255-byte key: allowed
        let longer: [UInt8] = [0x58] + withUnsafeBytes(of: UInt32(300).littleEndian, Array.init) + [UInt8](repeating: 0x61, count: 300)
        if let at = pickle.firstRange(of: HostileFiles.shortString("cpu")).map({ $0.lowerBound - key.count }) {
            XCTAssertEqual(Array(pickle[at..<(at + key.count)]), key)
            var ok = pickle
            ok.replaceSubrange(at..<(at + key.count), with: long)
            XCTAssertFalse(error { try PyTorchCheckpoint.load(data: HostileFiles.zip(pickle: ok), name: "k.pth") }.contains("longer than 256"))
            pickle.replaceSubrange(at..<(at + key.count), with: longer)
        } else {
            XCTFail("no storage key in the built pickle")
        }
        assertError({ try PyTorchCheckpoint.load(data: HostileFiles.zip(pickle: pickle), name: "k.pth") },
                    contains: "k.pth", "storage key longer than 256 bytes")
    }
}

/// Hostile and well-formed checkpoint bytes for the tests above and the CLI tests.
enum HostileFiles {
    // MARK: safetensors

    static func safetensors(_ header: String, data: [UInt8] = []) -> Data {
        let h = Array(header.utf8)
        return Data(withUnsafeBytes(of: UInt64(h.count).littleEndian, Array.init) + h + data)
    }

    static let safetensorsShapeOverflow = safetensors(#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}"#)
    static let safetensorsOffsetsOverflow = safetensors(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775806,9223372036854775807]}}"#,
                                                        data: [0, 0, 0, 0])
    static let safetensorsNegativeDimension = safetensors(#"{"w":{"dtype":"F32","shape":[18446744073709551615,18446744073709551615],"data_offsets":[0,4]}}"#,
                                                          data: [0, 0, 0, 0])
    static let safetensorsHeaderPastFile = Data(withUnsafeBytes(of: UInt64(1 << 40).littleEndian, Array.init) + Array("{}".utf8))

    // MARK: pickles

    /// PROTO 2, NONE, `depth` × TUPLE1, STOP.
    static func nestedTuples(_ depth: Int) -> [UInt8] {
        [0x80, 0x02, 0x4E] + [UInt8](repeating: 0x85, count: depth) + [0x2E]
    }

    /// PROTO 2, `depth` × MARK, NONE, `depth` × TUPLE, STOP.
    static func nestedMarkTuples(_ depth: Int) -> [UInt8] {
        [0x80, 0x02] + [UInt8](repeating: 0x28, count: depth) + [0x4E] + [UInt8](repeating: 0x74, count: depth) + [0x2E]
    }

    /// PROTO 2, `depth` × EMPTY_LIST, `depth - 1` × APPEND, STOP.
    static func nestedLists(_ depth: Int) -> [UInt8] {
        [0x80, 0x02] + [UInt8](repeating: 0x5D, count: depth) + [UInt8](repeating: 0x61, count: depth - 1) + [0x2E]
    }

    /// PROTO 2, NONE, `count` × DUP, STOP.
    static func dupBomb(_ count: Int) -> [UInt8] {
        [0x80, 0x02, 0x4E] + [UInt8](repeating: 0x32, count: count) + [0x2E]
    }

    /// os.system("echo pwned") by REDUCE.
    static let osSystem: [UInt8] = [0x80, 0x02] + global("os", "system") + [0x58, 0x0A, 0, 0, 0] + Array("echo pwned".utf8) + [0x85, 0x52, 0x2E]

    // MARK: .pth

    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
    static let legacyVersion: [UInt8] = [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E]
    static let legacySysInfo: [UInt8] = [0x80, 0x02, 0x7D, 0x28, 0x8C, 0x0D] + Array("little_endian".utf8) + [0x88, 0x75, 0x2E]

    /// A legacy .pth whose object is `pickle`, followed by `rest` (key list and storages).
    static func legacy(_ pickle: [UInt8], rest: [UInt8] = []) -> Data {
        Data(legacyMagic + legacyVersion + legacySysInfo + pickle + rest)
    }

    static func shortString(_ s: String) -> [UInt8] { [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }
    static func binint(_ n: Int) -> [UInt8] { [0x4A] + withUnsafeBytes(of: Int32(n).littleEndian, Array.init) }
    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }

    /// A state dict pickle: `tensors` keys k0, k1, … each `_rebuild_tensor_v2` of a float
    /// storage of `storageCount` elements, all storage "0" or one storage each.
    static func stateDictPickle(tensors: Int, storageCount: Int, shape: [Int]? = nil, oneStorage: Bool = false) -> [UInt8] {
        let shape = shape ?? [storageCount]
        var p: [UInt8] = [0x80, 0x02, 0x7D, 0x28]   // PROTO 2, EMPTY_DICT, MARK
        for i in 0..<tensors {
            p += shortString("k\(i)") + global("torch._utils", "_rebuild_tensor_v2") + [0x28]
            p += [0x28] + shortString("storage") + global("torch", "FloatStorage") + shortString(oneStorage ? "0" : "\(i)")
                + shortString("cpu") + binint(storageCount) + [0x74, 0x51]                    // persistent id tuple, BINPERSID
            p += binint(0) + [0x28] + shape.flatMap(binint) + [0x74]                          // offset, size
            p += [0x28] + shape.map { _ in binint(1) }.joined() + [0x74]                      // stride (all 1: dims of 1)
            p += [0x89] + global("collections", "OrderedDict") + [0x29, 0x52]                 // requires_grad, hooks
            p += [0x74, 0x52]                                                                  // TUPLE, REDUCE
        }
        return p + [0x75, 0x2E]   // SETITEMS, STOP
    }

    /// The storage bytes: count, then floats 0, 1, 2, ….
    static func storageBytes(_ count: Int) -> [UInt8] {
        withUnsafeBytes(of: UInt64(count).littleEndian, Array.init)
            + (0..<count).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian, Array.init) }
    }

    /// A legacy state dict of `tensors` float tensors, one storage each.
    static func stateDict(tensors: Int, storageCount: Int, shape: [Int]? = nil) -> Data {
        var keys: [UInt8] = [0x80, 0x02, 0x28]
        for i in 0..<tensors { keys += shortString("\(i)") }
        keys += [0x6C, 0x2E]
        let storages = (0..<tensors).flatMap { _ in storageBytes(storageCount) }
        return legacy(stateDictPickle(tensors: tensors, storageCount: storageCount, shape: shape), rest: keys + storages)
    }

    /// 64 tensors of 2^20 floats, all on one 4 MiB storage: 64 Mi elements from a 4 MiB file.
    static let broadcastBomb: Data = {
        let count = 1 << 20
        let keys: [UInt8] = [0x80, 0x02, 0x28] + shortString("0") + [0x6C, 0x2E]
        let storage = withUnsafeBytes(of: UInt64(count).littleEndian, Array.init) + [UInt8](repeating: 0, count: 4 * count)
        return legacy(stateDictPickle(tensors: 64, storageCount: count, oneStorage: true), rest: keys + storage)
    }()

    /// A zip .pth (stored entries, as torch writes them) of `entries` (name, bytes).
    static func zip(_ entries: [(name: String, bytes: [UInt8])], sharedData: Bool = false) -> Data {
        var out: [UInt8] = [], central: [UInt8] = []
        func u16(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
        func u32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian, Array.init) }
        var sharedOffset: Int?
        for (name, bytes) in entries {
            let crc = Int(crc32(bytes[...]))
            let n = Array(name.utf8)
            let common = u16(20) + u16(0) + u16(0) + u16(0) + u16(0) + u32(crc) + u32(bytes.count) + u32(bytes.count) + u16(n.count) + u16(0)
            var offset = out.count
            if sharedData, name.contains("/data/"), let s = sharedOffset {
                offset = s
            } else {
                if name.contains("/data/") { sharedOffset = offset }
                out += [0x50, 0x4B, 0x03, 0x04] + common + n + bytes
            }
            central += [0x50, 0x4B, 0x01, 0x02] + u16(20) + common + u16(0) + u16(0) + u16(0) + u32(0) + u32(offset) + n
        }
        let directoryOffset = out.count
        out += central
        out += [0x50, 0x4B, 0x05, 0x06] + u16(0) + u16(0) + u16(entries.count) + u16(entries.count) + u32(central.count) + u32(directoryOffset) + u16(0)
        return Data(out)
    }

    /// A zip .pth holding `pickle` as archive/data.pkl.
    static func zip(pickle: [UInt8]) -> Data {
        zip([("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8))])
    }

    /// A zip state dict; with `sharedEntries`, every storage entry points at the first one's data.
    static func stateDictZip(tensors: Int, storageCount: Int, sharedEntries: Bool = false) -> Data {
        let floats = (0..<storageCount).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian, Array.init) }
        return zip([("archive/data.pkl", stateDictPickle(tensors: tensors, storageCount: storageCount))]
                   + (0..<tensors).map { ("archive/data/\($0)", floats) }, sharedData: sharedEntries)
    }
}
