import Foundation

/// The entries of a zip archive, found through its central directory (zip64 included),
/// as far as a PyTorch checkpoint needs them: names, and the bytes of stored entries.
/// Every read is bounds-checked; a damaged archive throws a `CheckpointFormatError`.
struct ZipArchive {
    struct Entry {
        var name: String
        var method: Int
        var flags: Int
        var crc: UInt32
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
    }

    let bytes: [UInt8]
    private(set) var entries: [Entry] = []
    /// The first entry of each name.
    private var index: [String: Int] = [:]
    /// Bytes handed out by `dataRange` so far: entries of a sound archive do not overlap,
    /// so more than the file holds means overlapping entries, each of which would cost a
    /// CRC pass over the same bytes again.
    private var bytesRead = 0

    /// Whether `bytes` starts like a zip archive (a local file header), as torch.load checks.
    static func isZip(_ bytes: [UInt8]) -> Bool {
        bytes.starts(with: [0x50, 0x4B, 0x03, 0x04])
    }

    init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        guard let end = Self.endRecordOffset(bytes) else {
            throw CheckpointFormatError("truncated or damaged zip archive (no end of central directory record)")
        }
        var count = readLittleEndian(bytes, at: end + 10, width: 2)
        var directorySize = readLittleEndian(bytes, at: end + 12, width: 4)
        var directoryOffset = readLittleEndian(bytes, at: end + 16, width: 4)
        // zip64 (torch always writes it): a locator just before the end record points at
        // the zip64 end record, which holds 64-bit counts and offsets.
        if end >= 20, readLittleEndian(bytes, at: end - 20, width: 4) == 0x0706_4B50 {
            guard let z = readLittleEndian(bytes, at: end - 12, width: 8),
                  readLittleEndian(bytes, at: z, width: 4) == 0x0606_4B50 else {
                throw CheckpointFormatError("damaged zip archive (bad zip64 end of central directory record)")
            }
            count = readLittleEndian(bytes, at: z + 32, width: 8)
            directorySize = readLittleEndian(bytes, at: z + 40, width: 8)
            directoryOffset = readLittleEndian(bytes, at: z + 48, width: 8)
        }
        guard let count, let directorySize, let directoryOffset,
              directoryOffset <= bytes.count, directorySize <= bytes.count - directoryOffset else {
            throw CheckpointFormatError("damaged zip archive (central directory outside the file)")
        }
        // Each header takes at least 46 bytes, so a count the file cannot hold fails early.
        var p = directoryOffset
        for _ in 0..<count {
            let entry = try readCentralHeader(at: &p)
            if index[entry.name] == nil { index[entry.name] = entries.count }
            entries.append(entry)
        }
    }

    /// The entry named `name`, if any.
    func entry(named name: String) -> Entry? {
        index[name].map { entries[$0] }
    }

    /// Where `entry`'s data lies in `bytes`, checked against its CRC-32. Only stored
    /// (uncompressed) entries, as torch writes them; deflate is refused. Refuses entries
    /// that, read together, hold more bytes than the file (they overlap).
    mutating func dataRange(of entry: Entry) throws -> Range<Int> {
        let h = entry.localHeaderOffset
        guard readLittleEndian(bytes, at: h, width: 4) == 0x0403_4B50,
              let nameLength = readLittleEndian(bytes, at: h + 26, width: 2),
              let extraLength = readLittleEndian(bytes, at: h + 28, width: 2) else {
            throw CheckpointFormatError("damaged zip archive (no local header for \(printable(entry.name)))")
        }
        guard entry.flags & 1 == 0 else { throw CheckpointFormatError("zip entry \(printable(entry.name)) is encrypted") }
        guard entry.method == 0 else {
            let how = entry.method == 8 ? "deflate-compressed" : "compressed (method \(entry.method))"
            throw CheckpointFormatError("zip entry \(printable(entry.name)) is \(how); only stored entries are read, as torch.save writes them")
        }
        let start = h + 30 + nameLength + extraLength
        guard start <= bytes.count, entry.size <= bytes.count - start else {
            throw CheckpointFormatError("truncated zip entry \(printable(entry.name))")
        }
        bytesRead += entry.size   // each size ≤ bytes.count, the sum ≤ 2·bytes.count
        guard bytesRead <= bytes.count else {
            throw CheckpointFormatError("damaged zip archive (entry \(printable(entry.name)) overlaps others)")
        }
        let range = start..<(start + entry.size)
        guard crc32(bytes[range]) == entry.crc else {
            throw CheckpointFormatError("zip entry \(printable(entry.name)) is corrupt (CRC-32 mismatch)")
        }
        return range
    }

    /// The end of central directory record: 22 bytes and a comment of up to 64 KiB, so
    /// searched backwards over the last 65,557 bytes.
    private static func endRecordOffset(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 22 else { return nil }
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        for p in stride(from: bytes.count - 22, through: lowest, by: -1)
        where bytes[p] == 0x50 && readLittleEndian(bytes, at: p, width: 4) == 0x0605_4B50 {
            return p
        }
        return nil
    }

    /// One central directory file header at `p`, advancing `p` past it. 32-bit sizes and
    /// offsets of 0xFFFFFFFF are in the zip64 extra field (id 1), in that order.
    private func readCentralHeader(at p: inout Int) throws -> Entry {
        guard readLittleEndian(bytes, at: p, width: 4) == 0x0201_4B50,
              let flags = readLittleEndian(bytes, at: p + 8, width: 2),
              let method = readLittleEndian(bytes, at: p + 10, width: 2),
              let crc = readLittleEndian(bytes, at: p + 16, width: 4),
              var compressedSize = readLittleEndian(bytes, at: p + 20, width: 4),
              var size = readLittleEndian(bytes, at: p + 24, width: 4),
              let nameLength = readLittleEndian(bytes, at: p + 28, width: 2),
              let extraLength = readLittleEndian(bytes, at: p + 30, width: 2),
              let commentLength = readLittleEndian(bytes, at: p + 32, width: 2),
              var offset = readLittleEndian(bytes, at: p + 42, width: 4),
              p + 46 + nameLength + extraLength + commentLength <= bytes.count else {
            throw CheckpointFormatError("damaged zip archive (bad central directory entry at byte \(p))")
        }
        let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
        var e = p + 46 + nameLength
        let extraEnd = e + extraLength
        while e + 4 <= extraEnd, let id = readLittleEndian(bytes, at: e, width: 2),
              let length = readLittleEndian(bytes, at: e + 2, width: 2), e + 4 + length <= extraEnd {
            if id == 1 {
                var f = e + 4
                func widened(_ narrow: Int) throws -> Int {
                    guard narrow == 0xFFFF_FFFF else { return narrow }
                    guard f + 8 <= e + 4 + length, let wide = readLittleEndian(bytes, at: f, width: 8) else {
                        throw CheckpointFormatError("damaged zip archive (short zip64 field for \(printable(name)))")
                    }
                    f += 8
                    return wide
                }
                size = try widened(size)
                compressedSize = try widened(compressedSize)
                offset = try widened(offset)
            }
            e += 4 + length
        }
        p = extraEnd + commentLength
        return Entry(name: name, method: method, flags: flags, crc: UInt32(truncatingIfNeeded: crc),
                     compressedSize: compressedSize, size: size, localHeaderOffset: offset)
    }
}

/// The unsigned little-endian integer of `width` bytes at `offset`, or nil where that runs
/// past the end of `bytes` or does not fit an Int.
func readLittleEndian(_ bytes: [UInt8], at offset: Int, width: Int) -> Int? {
    guard offset >= 0, width <= 8, offset <= bytes.count - width else { return nil }
    var v: UInt64 = 0
    for i in 0..<width { v |= UInt64(bytes[offset + i]) << (8 * i) }
    return Int(exactly: v)
}

/// CRC-32 (IEEE, as zip uses it).
func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes { c = crc32Table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
    return ~c
}

private let crc32Table: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}
