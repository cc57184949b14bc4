import Foundation

/// State dicts written by `torch.save(state_dict, path)`, read natively: no Python, and
/// nothing in the file is ever executed.
///
/// Two formats: the zip archive of torch ≥ 1.6 (`<name>/data.pkl` and raw little-endian
/// storages `<name>/data/<key>`), and the legacy format of earlier versions, used by the
/// official 2017–2019 CycleGAN models (a sequence of pickles: magic number, protocol
/// version, system info, the object, the storage keys; then each storage as an 8-byte
/// element count and its bytes). The pickle is read by a restricted unpickler that knows
/// only `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` (and `_rebuild_tensor`,
/// `_rebuild_parameter`) and the storage types, and refuses any other global by name.
public enum PyTorchCheckpoint {
    /// Reads the tensors of the state dict in `path`: the saved object itself, or its
    /// "state_dict" entry. Keys lose a leading "module." (DataParallel); every dtype
    /// (float64, half, bfloat16, integers such as `num_batches_tracked`) becomes Float;
    /// non-contiguous views are gathered; entries that are not tensors are skipped.
    /// Errors are one line naming the file and the problem.
    public static func load(_ path: String) throws -> [String: HostTensor] {
        try load(bytes: try readCheckpoint(path), name: path)
    }

    /// Reads a checkpoint from memory; `name` stands for the file in errors.
    public static func load(data: Data, name: String = "checkpoint data") throws -> [String: HostTensor] {
        try load(bytes: [UInt8](data), name: name)
    }

    static func load(bytes: [UInt8], name: String) throws -> [String: HostTensor] {
        do {
            return ZipArchive.isZip(bytes) ? try loadZip(bytes) : try loadLegacy(bytes)
        } catch let error as CheckpointFormatError {
            throw FileError.malformed(name, error.reason)
        }
    }

    // MARK: - The two formats

    static func loadZip(_ bytes: [UInt8]) throws -> [String: HostTensor] {
        var zip = try ZipArchive(bytes)
        guard let pickle = zip.entries.first(where: { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }) else {
            throw CheckpointFormatError("zip archive without data.pkl: not a PyTorch checkpoint")
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        var bigEndian = false
        if let entry = zip.entry(named: prefix + "byteorder") {
            let order = String(decoding: bytes[try zip.dataRange(of: entry)], as: UTF8.self)
            guard order == "little" || order == "big" else { throw CheckpointFormatError("unknown byte order \"\(printable(order))\"") }
            bigEndian = order == "big"
        }
        let reader = StateDictReader()
        let tensors = try reader.unpickler.load(Array(bytes[try zip.dataRange(of: pickle)]), from: 0, stateDictTensors).result

        var storages: [String: Range<Int>] = [:]
        for key in Set(tensors.map { $0.tensor.storage.key }) {
            guard let entry = zip.entry(named: prefix + "data/" + key) else {
                throw CheckpointFormatError("missing storage \(printable(key)) (no entry \(printable(prefix))data/\(printable(key)))")
            }
            storages[key] = try zip.dataRange(of: entry)
        }
        return try materialize(tensors, bytes: bytes, storages: storages, bigEndian: bigEndian)
    }

    static func loadLegacy(_ bytes: [UInt8]) throws -> [String: HostTensor] {
        let reader = StateDictReader()
        let unpickler = reader.unpickler
        // 0x1950a86a20f9469cfc6c as LONG1 bytes.
        let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        guard let first = try? unpickler.load(bytes, from: 0, { v -> Bool in
            if case .bigInt(magic) = v { return true } else { return false }
        }), first.result else {
            throw CheckpointFormatError("not a PyTorch checkpoint (neither a zip archive nor a legacy pickle)")
        }
        let (version, afterVersion) = try unpickler.load(bytes, from: first.end) { v -> Int? in
            if case .int(let n) = v { return n } else { return nil }
        }
        guard version == 1001 else {
            throw CheckpointFormatError("legacy checkpoint with protocol version \(version.map { "\($0)" } ?? "that is not a number"), expected 1001")
        }
        let (bigEndian, afterSysInfo) = try unpickler.load(bytes, from: afterVersion) { v -> Bool in
            if case .dict(let info) = v, case .bool(let little)? = info["little_endian"] { return !little }
            return false
        }
        let (tensors, afterObject) = try unpickler.load(bytes, from: afterSysInfo, stateDictTensors)
        let (keyList, afterKeys) = try unpickler.load(bytes, from: afterObject) { v -> [String]? in
            guard case .list(let keys) = v else { return nil }
            var strings: [String] = []
            for k in keys.items {
                guard case .string(let s) = k else { return nil }
                strings.append(s)
            }
            return strings
        }
        guard let keys = keyList else { throw CheckpointFormatError("legacy checkpoint without a storage key list") }

        // Each storage: its element count (8 bytes, the writer's byte order), then its bytes.
        var storages: [String: Range<Int>] = [:]
        var p = afterKeys
        for key in keys {
            guard let declared = reader.storages[key], storages[key] == nil else {
                throw CheckpointFormatError("storage key list names a storage the pickle does not use, or one twice")
            }
            guard let count = readInteger(bytes, at: p, width: 8, bigEndian: bigEndian) else {
                throw CheckpointFormatError("truncated storage \(printable(key))")
            }
            guard count == declared.count else {
                throw CheckpointFormatError("storage \(printable(key)) holds \(count) elements, the pickle says \(declared.count)")
            }
            // declared.count < 2^56 (checked when the pickle named it), so no overflow
            let start = p + 8, length = count * declared.dtype.size
            guard length <= bytes.count - start else { throw CheckpointFormatError("truncated storage \(printable(key))") }
            storages[key] = start..<(start + length)
            p = start + length
        }
        return try materialize(tensors, bytes: bytes, storages: storages, bigEndian: bigEndian)
    }

    // MARK: - From the pickled object to tensors

    /// The (key, tensor) pairs of the state dict: the object, or its "state_dict" entry.
    private static func stateDictTensors(_ object: PickleValue) throws -> [(key: String, tensor: TensorRef)] {
        guard case .dict(var dict) = object else {
            throw CheckpointFormatError("the saved object is not a dict of tensors")
        }
        if case .dict(let inner)? = dict["state_dict"] { dict = inner }
        var tensors: [(key: String, tensor: TensorRef)] = []
        var seen = Set<String>()
        for (keyValue, value) in dict.items {
            guard case .string(var key) = keyValue, case .object(let object) = value,
                  let tensor = object as? TensorRef else { continue }
            if key.hasPrefix("module.") { key.removeFirst("module.".count) }
            guard seen.insert(key).inserted else {
                throw CheckpointFormatError("key \(printable(key)) appears twice once \"module.\" is stripped")
            }
            tensors.append((key, tensor))
        }
        guard !tensors.isEmpty else {
            let keys = dict.items.compactMap { item -> String? in
                if case .string(let s) = item.key { return s } else { return nil }
            }
            throw CheckpointFormatError("holds no tensors at the top level or under \"state_dict\" (keys: \(keys.prefix(8).map(printable).joined(separator: ", ")))")
        }
        return tensors
    }

    /// Gathers every tensor's elements from its storage's bytes through offset and strides,
    /// once all are checked. All tensors together may gather at most one element per byte
    /// of the file, plus 2^24: more means views that overlap or broadcast, which could
    /// multiply a small file into an unbounded allocation.
    private static func materialize(_ tensors: [(key: String, tensor: TensorRef)], bytes: [UInt8],
                                    storages: [String: Range<Int>], bigEndian: Bool) throws -> [String: HostTensor] {
        var counts: [Int] = []
        var total = 0
        let totalLimit = bytes.count + (1 << 24)
        for (key, t) in tensors {
            let count = try checkedCount(key, t, storages: storages)
            total += count   // each count ≤ its storage's < 2^56, and total ≤ totalLimit before
            guard total <= totalLimit else {
                throw CheckpointFormatError("the tensors hold \(total) elements or more, more than a file of \(bytes.count) bytes can (views that overlap or broadcast)")
            }
            counts.append(count)
        }
        var result: [String: HostTensor] = [:]
        for ((key, t), count) in zip(tensors, counts) {
            let s = t.storage, size = s.dtype.size
            // Dimensions of size 1 never step, whatever their stride says: the odometer skips them.
            let steps = zip(t.shape, t.stride).filter { $0.0 > 1 }
            let shape = steps.map(\.0), strides = steps.map(\.1)
            var values = [Float](repeating: 0, count: count)
            var index = [Int](repeating: 0, count: shape.count)
            var element = t.offset
            let base = storages[s.key]!.lowerBound + s.viewOffset * size
            for i in 0..<count {
                values[i] = s.dtype.value(bytes, at: base + element * size, bigEndian: bigEndian)
                // Odometer over the multi-index, innermost dimension fastest.
                var d = shape.count - 1
                while d >= 0 {
                    index[d] += 1
                    element += strides[d]
                    if index[d] < shape[d] { break }
                    element -= strides[d] * shape[d]
                    index[d] = 0
                    d -= 1
                }
            }
            result[key] = HostTensor(shape: t.shape, values: values)
        }
        return result
    }

    /// The number of elements of `t`, after checking that its storage's bytes are there
    /// and that every element index (offset + Σ i_d·stride_d) falls inside the storage.
    private static func checkedCount(_ key: String, _ t: TensorRef, storages: [String: Range<Int>]) throws -> Int {
        let s = t.storage
        guard let range = storages[s.key] else { throw CheckpointFormatError("missing storage \(printable(s.key))") }
        // viewOffset + count ≤ the root storage's count < 2^56, so no overflow
        guard range.count >= (s.viewOffset + s.count) * s.dtype.size else {
            throw CheckpointFormatError("truncated storage \(printable(s.key))")
        }
        guard t.shape.count <= HostTensor.maxDimensions else {
            throw CheckpointFormatError("tensor \(printable(key)): \(t.shape.count) dimensions (at most \(HostTensor.maxDimensions))")
        }
        // The product is formed left to right, as HostTensor's check forms it.
        var count = 1, last = t.offset
        for (n, stride) in zip(t.shape, t.stride) {
            guard n >= 0, stride >= 0 else { throw CheckpointFormatError("tensor \(printable(key)): negative size or stride") }
            let (c, o1) = count.multipliedReportingOverflow(by: n)
            let (reach, o2) = max(n - 1, 0).multipliedReportingOverflow(by: stride)
            let (l, o3) = last.addingReportingOverflow(reach)
            guard !o1, !o2, !o3 else { throw CheckpointFormatError("tensor \(printable(key)): size \(t.shape) overflows") }
            count = c
            last = l
        }
        guard t.offset >= 0, count == 0 || last < s.count, count <= s.count else {
            throw CheckpointFormatError("tensor \(printable(key)): size \(t.shape), stride \(t.stride) and offset \(t.offset) reach past its storage of \(s.count) elements")
        }
        return count
    }
}

/// What the zip, pickle and checkpoint readers throw; `PyTorchCheckpoint.load` turns it
/// into a `FileError` naming the file.
struct CheckpointFormatError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

// MARK: - torch's vocabulary

/// The element types of torch storages.
private enum TorchDType {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    /// The dtype of a storage type global: torch.FloatStorage (or torch.cuda.FloatStorage),
    /// a dtype such as torch.float32, or torch.storage.UntypedStorage (bytes).
    init?(storageType name: String) {
        let table: [String: TorchDType] = [
            "Float": .float32, "Double": .float64, "Half": .float16, "BFloat16": .bfloat16, "Long": .int64,
            "Int": .int32, "Short": .int16, "Char": .int8, "Byte": .uint8, "Bool": .bool,
            "float32": .float32, "float64": .float64, "float16": .float16, "bfloat16": .bfloat16,
            "int64": .int64, "int32": .int32, "int16": .int16, "int8": .int8, "uint8": .uint8, "bool": .bool,
        ]
        for prefix in ["torch.cuda.", "torch."] where name.hasPrefix(prefix) {
            var rest = String(name.dropFirst(prefix.count))
            if rest == "UntypedStorage" || rest == "storage.UntypedStorage" { self = .uint8; return }
            if rest.hasSuffix("Storage") { rest.removeLast("Storage".count) } else if prefix == "torch.cuda." { return nil }
            guard let dtype = table[rest] else { return nil }
            self = dtype
            return
        }
        return nil
    }

    var size: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// The element at byte `offset` (already bounds-checked), as Float.
    func value(_ bytes: [UInt8], at offset: Int, bigEndian: Bool) -> Float {
        var bits: UInt64 = 0
        for i in 0..<size { bits |= UInt64(bytes[offset + (bigEndian ? size - 1 - i : i)]) << (8 * i) }
        switch self {
        case .float32: return Float(bitPattern: UInt32(truncatingIfNeeded: bits))
        case .float64: return Float(Double(bitPattern: bits))
        case .float16: return Float(Float16(bitPattern: UInt16(truncatingIfNeeded: bits)))
        case .bfloat16: return Float(bitPattern: UInt32(truncatingIfNeeded: bits) << 16)
        case .int64: return Float(Int64(bitPattern: bits))
        case .int32: return Float(Int32(truncatingIfNeeded: bits))
        case .int16: return Float(Int16(truncatingIfNeeded: bits))
        case .int8: return Float(Int8(truncatingIfNeeded: bits))
        case .uint8: return Float(bits)
        case .bool: return bits == 0 ? 0 : 1
        }
    }
}

/// A storage as a persistent id names it: ('storage', type, key, location, count
/// [, (view key, view offset, view count)]). Legacy views start `viewOffset` elements into
/// the root storage `key`.
private struct StorageRef {
    var key: String
    var dtype: TorchDType
    var count: Int
    var viewOffset = 0
}

/// A tensor as `_rebuild_tensor_v2(storage, offset, size, stride, ...)` describes it.
private struct TensorRef {
    var storage: StorageRef
    var offset: Int
    var shape: [Int]
    var stride: [Int]
}

/// An unpickler with torch's vocabulary; remembers each root storage's dtype and count
/// (the legacy format needs them to read the storages that follow the pickle).
private final class StateDictReader {
    private(set) var storages: [String: (dtype: TorchDType, count: Int)] = [:]
    private var persistentLoads = 0

    private static let callables: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter",
    ]

    var unpickler: Unpickler {
        Unpickler(
            isAllowed: { Self.callables.contains($0) || TorchDType(storageType: $0) != nil },
            call: { try self.call($0, $1) },
            persistentLoad: { try self.persistentLoad($0) })
    }

    private func call(_ global: String, _ args: [PickleValue]) throws -> PickleValue {
        switch global {
        case "collections.OrderedDict" where args.isEmpty:
            return .dict(PickleDict())
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            for dims in args.dropFirst(2).prefix(2) {  // size and stride, refused before they are copied
                if case .tuple(let t) = dims, t.count > HostTensor.maxDimensions {
                    throw CheckpointFormatError("a tensor of \(t.count) dimensions (at most \(HostTensor.maxDimensions))")
                }
            }
            guard args.count >= 4, case .object(let s) = args[0], let storage = s as? StorageRef,
                  case .int(let offset) = args[1], let shape = ints(args[2]), let stride = ints(args[3]),
                  shape.count == stride.count else {
                throw CheckpointFormatError("malformed tensor in the pickle (\(global) with unexpected arguments)")
            }
            return .object(TensorRef(storage: storage, offset: offset, shape: shape, stride: stride))
        case "torch._utils._rebuild_parameter" where args.count >= 1:
            return args[0]
        default:
            throw CheckpointFormatError("unexpected call of \(global) with \(args.count) arguments in the pickle")
        }
    }

    private func persistentLoad(_ id: PickleValue) throws -> PickleValue {
        guard case .tuple(let f) = id, f.count == 5 || f.count == 6, case .string("storage") = f[0],
              case .global(let type) = f[1], let dtype = TorchDType(storageType: type),
              case .string(let key) = f[2], case .int(let count) = f[4], count >= 0, count < 1 << 56 else {
            throw CheckpointFormatError("unexpected persistent id in the pickle (expected a torch storage)")
        }
        // torch names storages "0", "1", …: a long key or endless loads cost time, not data
        persistentLoads += 1
        guard key.utf8.count <= 256, persistentLoads <= 1_000_000 else {
            throw CheckpointFormatError(key.utf8.count > 256 ? "a storage key longer than 256 bytes"
                                                              : "more than 1000000 storage references (the limit)")
        }
        if let known = storages[key], known.dtype != dtype || known.count != count {
            throw CheckpointFormatError("storage \(printable(key)) is declared with two types or sizes")
        }
        storages[key] = (dtype, count)
        var storage = StorageRef(key: key, dtype: dtype, count: count)
        if f.count == 6, case .tuple(let view) = f[5] {
            guard view.count == 3, case .int(let offset) = view[1], case .int(let viewCount) = view[2],
                  offset >= 0, viewCount >= 0, offset <= count - viewCount else {
                throw CheckpointFormatError("storage view of \(printable(key)) reaches past it")
            }
            storage.viewOffset = offset
            storage.count = viewCount
        }
        return .object(storage)
    }

    /// A tuple of at most `HostTensor.maxDimensions` integers (a shape or strides), checked
    /// before anything is copied.
    private func ints(_ v: PickleValue) -> [Int]? {
        guard case .tuple(let items) = v, items.count <= HostTensor.maxDimensions else { return nil }
        var out: [Int] = []
        for item in items {
            guard case .int(let n) = item else { return nil }
            out.append(n)
        }
        return out
    }
}

/// An unsigned integer of `width` bytes at `offset`, in either byte order; nil past the end.
private func readInteger(_ bytes: [UInt8], at offset: Int, width: Int, bigEndian: Bool) -> Int? {
    guard !bigEndian else {
        guard offset >= 0, offset <= bytes.count - width else { return nil }
        return Int(exactly: bytes[offset..<(offset + width)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
    return readLittleEndian(bytes, at: offset, width: width)
}
