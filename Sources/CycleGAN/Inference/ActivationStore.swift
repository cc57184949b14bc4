#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One activation of a tiled translation, [c][h][w] floats, on the host: in memory, or in a
/// spill file read and written with `pread`/`pwrite` (so the page cache, not the process,
/// holds it). Spill files are unlinked as soon as they are opened: they vanish with the
/// process however it ends.
final class ActivationStore {
    let channels: Int, height: Int, width: Int
    private var memory: [Float]?
    private let fd: Int32
    let path: String?

    var byteCount: Int { channels * height * width * 4 }
    var inMemory: Bool { memory != nil }

    /// In memory.
    init(channels: Int, height: Int, width: Int) {
        self.channels = channels; self.height = height; self.width = width
        memory = [Float](repeating: 0, count: channels * height * width)
        fd = -1
        path = nil
    }

    /// In a new file in `directory`.
    init(channels: Int, height: Int, width: Int, spillingTo directory: String) throws {
        var template = Array((directory + "/activation-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw OptionError("--spill_dir \(directory): cannot create a spill file (\(String(cString: strerror(errno))))")
        }
        let name = String(cString: template)
        unlink(name)
        let bytes = channels * height * width * 4
        guard ftruncate(fd, off_t(bytes)) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)  // before any property is set: no deinit runs
            throw OptionError("--spill_dir \(directory): cannot make a spill file of \(bytes >> 20) MiB (\(reason))")
        }
        self.channels = channels; self.height = height; self.width = width
        self.fd = fd
        path = name
        memory = nil
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Rows `rows` of channel `c`, (rows.count × width floats) into `out`.
    func read(channel c: Int, rows: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
        let start = (c * height + rows.lowerBound) * width, count = rows.count * width
        if let memory {
            memory.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + start, count: count) }
            return
        }
        try transfer(UnsafeMutableRawPointer(out), bytes: count * 4, offset: start * 4, write: false)
    }

    /// Writes rows `rows` of channel `c` from `values`.
    func write(channel c: Int, rows: Range<Int>, from values: UnsafePointer<Float>) throws {
        let start = (c * height + rows.lowerBound) * width, count = rows.count * width
        if memory != nil {
            memory!.withUnsafeMutableBufferPointer { ($0.baseAddress! + start).update(from: values, count: count) }
            return
        }
        try transfer(UnsafeMutableRawPointer(mutating: values), bytes: count * 4, offset: start * 4, write: true)
    }

    /// The whole activation, [c][h][w]; an in-memory store gives its array away (and is empty after).
    func takeAll() throws -> [Float] {
        if let values = memory {
            memory = []
            return values
        }
        var out = [Float](repeating: 0, count: channels * height * width)
        try out.withUnsafeMutableBufferPointer { p in
            for c in 0..<channels { try read(channel: c, rows: 0..<height, into: p.baseAddress! + c * height * width) }
        }
        return out
    }

    private func transfer(_ p: UnsafeMutableRawPointer, bytes: Int, offset: Int, write: Bool) throws {
        var done = 0
        while done < bytes {
            let n = write ? pwrite(fd, p + done, bytes - done, off_t(offset + done))
                : pread(fd, p + done, bytes - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = n < 0 ? String(cString: strerror(errno)) : "end of file"
                throw OptionError("--spill_dir: \(write ? "writing" : "reading") a spill file failed (\(reason))")
            }
            done += n
        }
    }
}

/// Parses a memory size: a whole number of bytes, optionally followed by K, M, G or T
/// (powers of 1024; "1G", "512M", "1.5G").
public func parseMemorySize(_ text: String) -> Int? {
    let t = text.trimmingCharacters(in: .whitespaces).uppercased()
    let units: [Character: Double] = ["K": 1024, "M": 1024 * 1024, "G": 1024 * 1024 * 1024, "T": 1024 * 1024 * 1024 * 1024]
    var number = Substring(t), scale = 1.0
    if let last = t.last, let u = units[last] { number = t.dropLast(); scale = u }
    if number.hasSuffix("B") && scale == 1 { number = number.dropLast() }
    guard let v = Double(number), v.isFinite, v > 0, v * scale < 9e18 else { return nil }
    return Int(v * scale)
}
