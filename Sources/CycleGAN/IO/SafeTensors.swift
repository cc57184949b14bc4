import Foundation

/// A named array read from or written to a checkpoint: shape and fp32 values.
public struct HostTensor: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Float]
    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }
}

/// The safetensors format: an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then the raw
/// little-endian data. Read: F32, F64, F16, BF16 (converted to fp32); written: F32.
public struct SafeTensorsFile {
    public var tensors: [String: HostTensor]
    public var metadata: [String: String]

    public init(tensors: [String: HostTensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Reads `path`; errors name the file and what is wrong with it.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError.cannotRead(path, FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        try self.init(data: data, name: path)
    }

    public init(data: Data, name: String = "safetensors data") throws {
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw FileError.malformed(name, "too short for a safetensors file") }
        var headerLen = 0
        for i in 0..<8 { headerLen |= Int(bytes[i]) << (8 * i) }
        guard headerLen > 0, headerLen <= bytes.count - 8 else {
            throw FileError.malformed(name, "not a safetensors file (header length \(headerLen))")
        }
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLen)])) as? [String: Any] else {
            throw FileError.malformed(name, "safetensors header is not a JSON object")
        }
        let base = 8 + headerLen
        var tensors: [String: HostTensor] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in json {
            if key == "__metadata__" {
                for (k, v) in (value as? [String: Any]) ?? [:] { metadata[k] = "\(v)" }
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offs = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offs.count == 2 else {
                throw FileError.malformed(name, "tensor \(key): malformed header entry")
            }
            let count = shape.reduce(1, *)
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F64": width = 8
            case "F16", "BF16": width = 2
            default: throw FileError.malformed(name, "tensor \(key): dtype \(dtype) is not supported (expected F32, F64, F16 or BF16)")
            }
            guard offs[0] >= 0, offs[1] == offs[0] + count * width, base + offs[1] <= bytes.count else {
                throw FileError.malformed(name, "tensor \(key): data offsets \(offs) do not fit shape \(shape) \(dtype) in the file")
            }
            var values = [Float](repeating: 0, count: count)
            bytes.withUnsafeBytes { raw in
                let p = raw.baseAddress! + base + offs[0]
                for i in 0..<count {
                    switch dtype {
                    case "F32": values[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    case "F64": values[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                    case "F16": values[i] = Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                    default: values[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
                    }
                }
            }
            tensors[key] = HostTensor(shape: shape, values: values)
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The file's bytes: tensors sorted by name, F32, header padded to 8 bytes.
    public func serialized() -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for n in names {
            let t = tensors[n]!
            header[n] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]] as [String: Any]
            offset += 4 * t.values.count
        }
        var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        var len = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(json)
        for n in names {
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
