import Foundation

/// A named array read from or written to a checkpoint: shape and fp32 values.
public struct HostTensor: Equatable, Sendable {
    /// The most dimensions a checkpoint's tensor may have (torch's own kernels stop at 25).
    public static let maxDimensions = 64

    public var shape: [Int]
    public var values: [Float]
    /// How a checkpoint stores the values: F32, or F16 for a tensor kept in FP16 (the pools'
    /// images under `--precision mixed`), whose values are FP16 values already.
    public var dtype: DType
    public init(shape: [Int], values: [Float], dtype: DType = .float32) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
        self.dtype = dtype
    }
}

/// The safetensors format: an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then the raw
/// little-endian data. Read: F32, F64, F16, BF16 (converted to fp32); written: F32, or F16 for an
/// FP16 tensor.
public struct SafeTensorsFile {
    public var tensors: [String: HostTensor]
    public var metadata: [String: String]

    public init(tensors: [String: HostTensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Reads `path` (a regular file: never a pipe or device); errors name the file and what
    /// is wrong with it.
    public init(contentsOf path: String) throws {
        try self.init(bytes: try readCheckpoint(path), name: path)
    }

    /// The largest JSON header read (the reference implementation's limit is 100 MB, but
    /// JSONSerialization needs some 35 times the header's size in memory).
    public static let maxHeaderBytes = 8 << 20

    /// Parses a file's bytes; `name` stands for the file in errors. Every number in the
    /// header is checked before it sizes anything: the header length against the file,
    /// each dimension and offset as an exact non-negative integer, the element and byte
    /// counts without overflow, the data inside the file, and no two tensors overlapping
    /// (so all tensors together hold at most the file's bytes).
    public init(data: Data, name: String = "safetensors data") throws {
        try self.init(bytes: [UInt8](data), name: name)
    }

    init(bytes: [UInt8], name: String) throws {
        func malformed(_ why: String) -> FileError { .malformed(name, why) }
        guard bytes.count >= 8 else { throw malformed("too short for a safetensors file (\(bytes.count) bytes)") }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength > 0, headerLength <= UInt64(bytes.count - 8) else {
            throw malformed("not a safetensors file (header length \(headerLength) in a file of \(bytes.count) bytes)")
        }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw malformed("safetensors header of \(headerLength) bytes (at most \(Self.maxHeaderBytes))")
        }
        let base = 8 + Int(headerLength)   // ≤ bytes.count
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<base])) as? [String: Any] else {
            throw malformed("safetensors header is not a JSON object")
        }

        struct Entry { var key: String, dtype: String, shape: [Int], count: Int, start: Int, end: Int }
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for key in json.keys.sorted() {
            let value = json[key]!
            if key == "__metadata__" {
                for (k, v) in (value as? [String: Any]) ?? [:] { metadata[k] = "\(v)" }
                continue
            }
            func bad(_ why: String) -> FileError { malformed("tensor \(printable(key)): \(why)") }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shapeItems = entry["shape"] as? [Any], let offsetItems = entry["data_offsets"] as? [Any] else {
                throw bad("malformed header entry (expected dtype, shape and data_offsets)")
            }
            guard shapeItems.count <= HostTensor.maxDimensions else {
                throw bad("\(shapeItems.count) dimensions (at most \(HostTensor.maxDimensions))")
            }
            let shape = shapeItems.compactMap(exactCount), offsets = offsetItems.compactMap(exactCount)
            guard shape.count == shapeItems.count else {
                throw bad("shape \(printable("\(shapeItems)")) has a dimension that is not an integer from 0 to \(Int.max)")
            }
            guard offsets.count == 2, offsetItems.count == 2 else {
                throw bad("data_offsets \(printable("\(offsetItems)")) are not two integers from 0 to \(Int.max)")
            }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F64": width = 8
            case "F16", "BF16": width = 2
            default: throw bad("dtype \(printable(dtype)) is not supported (expected F32, F64, F16 or BF16)")
            }
            // Left to right, as HostTensor's check multiplies.
            var count = 1
            for n in shape {
                let (c, overflow) = count.multipliedReportingOverflow(by: n)
                guard !overflow else { throw bad("shape \(shape) holds more elements than can be counted") }
                count = c
            }
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: width)
            guard !overflow, offsets[0] <= offsets[1], offsets[1] - offsets[0] == byteCount else {
                throw bad("data offsets \(offsets) do not fit shape \(shape) \(dtype)")
            }
            guard offsets[1] <= bytes.count - base else {
                throw bad("data offsets \(offsets) reach past the end of the file (\(bytes.count - base) bytes of data)")
            }
            entries.append(Entry(key: key, dtype: dtype, shape: shape, count: count,
                                 start: base + offsets[0], end: base + offsets[1]))
        }
        // No two tensors share bytes (as the format requires), so together they hold at most
        // the file's bytes.
        let byStart = entries.filter { $0.count > 0 }.sorted { ($0.start, $0.key) < ($1.start, $1.key) }
        for (a, b) in zip(byStart, byStart.dropFirst()) where b.start < a.end {
            throw malformed("tensor \(printable(b.key)): data overlaps tensor \(printable(a.key))")
        }

        var tensors: [String: HostTensor] = [:]
        for e in entries {
            var values = [Float](repeating: 0, count: e.count)
            bytes.withUnsafeBytes { raw in
                let p = raw.baseAddress! + e.start
                for i in 0..<e.count {
                    switch e.dtype {
                    case "F32": values[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    case "F64": values[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                    case "F16": values[i] = Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                    default: values[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
                    }
                }
            }
            tensors[e.key] = HostTensor(shape: e.shape, values: values, dtype: e.dtype == "F16" ? .float16 : .float32)
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The file's bytes: tensors sorted by name, F32 (F16 for an FP16 tensor), header padded
    /// to 8 bytes.
    public func serialized() -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for n in names {
            let t = tensors[n]!, bytes = t.dtype.size * t.values.count
            header[n] = ["dtype": t.dtype == .float16 ? "F16" : "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        var len = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(json)
        for n in names {
            if tensors[n]!.dtype == .float16 {
                tensors[n]!.values.map { Float16($0).bitPattern.littleEndian }.withUnsafeBytes { out.append(contentsOf: $0) }
                continue
            }
            tensors[n]!.values.withUnsafeBufferPointer { vp in
                // fp32 is little-endian on every platform Swift runs OpenCL on
                out.append(UnsafeBufferPointer(start: UnsafeRawPointer(vp.baseAddress!).assumingMemoryBound(to: UInt8.self),
                                               count: vp.count * 4))
            }
        }
        return out
    }

    /// Writes atomically (temporary file, fsync, rename).
    public func write(to path: String, beforeRename: (() throws -> Void)? = nil) throws {
        try writeAtomically(serialized(), to: path, beforeRename: beforeRename)
    }
}

/// The bytes of the checkpoint file `path`, which must be a regular file (or a link to one):
/// a named pipe or a device would block or never end. Errors name the file.
func readCheckpoint(_ path: String) throws -> [UInt8] {
    do {
        return try RegularFile.contents(path, limit: .max) { "\($0) bytes" }
    } catch let error as FileReadError {
        throw FileError.cannotRead(path, error.reason)
    }
}

/// A JSON number that is exactly an integer from 0 to Int.max: not a boolean, not a
/// fraction, not 2^64 − 1 (which NSNumber.intValue would turn into −1).
private func exactCount(_ value: Any) -> Int? {
    guard let n = value as? NSNumber, String(cString: n.objCType) != "c" else { return nil }
    guard let i = Int(n.stringValue), i >= 0 else { return nil }
    return i
}

/// `text` fit for a one-line error message: control characters escaped, at most 200
/// characters (keys and names come from the file).
func printable(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        guard out.unicodeScalars.count < 200 else { return out + "…" }
        if scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}" {
            out += scalar.escaped(asASCII: true)
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}
