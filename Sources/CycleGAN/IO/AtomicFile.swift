import Foundation

/// Writes `data` to `path` so that a crash at any moment leaves either the old file or
/// the new one: write to a temporary name in the same folder, fsync, then rename.
/// `beforeRename` exists for tests that simulate a crash between write and rename.
public func writeAtomically(_ data: Data, to path: String, beforeRename: (() throws -> Void)? = nil) throws {
    let dir = (path as NSString).deletingLastPathComponent
    let tmp = (dir.isEmpty ? "." : dir) + "/." + (path as NSString).lastPathComponent + ".tmp-\(getpid())"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw FileError.cannotWrite(path, String(cString: strerror(errno))) }
    var ok = true
    data.withUnsafeBytes { raw in
        var off = 0
        while off < raw.count {
            let n = write(fd, raw.baseAddress! + off, raw.count - off)
            if n <= 0 { ok = false; break }
            off += n
        }
    }
    let reason = String(cString: strerror(errno))
    if ok { ok = fsync(fd) == 0 }
    close(fd)
    guard ok else { unlink(tmp); throw FileError.cannotWrite(path, reason) }
    try beforeRename?()
    guard rename(tmp, path) == 0 else {
        let r = String(cString: strerror(errno)); unlink(tmp)
        throw FileError.cannotWrite(path, r)
    }
    // Make the rename itself durable.
    let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
    if dfd >= 0 { fsync(dfd); close(dfd) }
}

/// A file that could not be read or written, with the path and the reason.
public enum FileError: Error, CustomStringConvertible {
    case cannotRead(String, String)
    case cannotWrite(String, String)
    case malformed(String, String)

    public var description: String {
        switch self {
        case .cannotRead(let p, let r): return "cannot read \(p): \(r)"
        case .cannotWrite(let p, let r): return "cannot write \(p): \(r)"
        case .malformed(let p, let r): return "\(p): \(r)"
        }
    }
}
