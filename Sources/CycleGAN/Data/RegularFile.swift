import Foundation

/// Why a file the user named could not be read, in a few words ("no such file",
/// "a named pipe, not a regular file"); callers put it after the file's name.
struct FileReadError: Error {
    var reason: String
}

/// Reading files the user names without trusting what they are: only regular files (and
/// symlinks to them) are opened, so a named pipe, socket or device called `x.png` can never
/// block a run or feed it without end, and no file is read past a stated size.
enum RegularFile {
    /// What a `stat` mode describes, for messages: "a folder", "a named pipe", …
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a named pipe"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        default: return "not a file"
        }
    }

    /// The `stat` of `path`, following symlinks, or why there is none.
    static func status(_ path: String) throws -> stat {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let reason = errno == ENOENT ? (lstat(path, &st) == 0 ? "a broken symbolic link" : "no such file")
                : String(cString: strerror(errno))
            throw FileReadError(reason: reason)
        }
        return st
    }

    /// Opens the regular file `path` for reading; returns the descriptor (the caller closes
    /// it) and the size. The file is checked before it is opened, and opened without
    /// blocking and checked again, so that nothing else is ever opened.
    static func openForReading(_ path: String) throws -> (fd: Int32, size: Int) {
        let before = try status(path)
        guard before.st_mode & S_IFMT == S_IFREG else {
            throw FileReadError(reason: before.st_mode & S_IFMT == S_IFDIR ? "is a folder" : "\(kind(before.st_mode)), not a regular file")
        }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw FileReadError(reason: String(cString: strerror(errno))) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw FileReadError(reason: "\(kind(st.st_mode)), not a regular file")
        }
        return (fd, Int(st.st_size))
    }

    /// The contents of the regular file `path`; one over `limit` bytes is refused before
    /// anything is read, with `tooLarge(size)` as the reason.
    static func contents(_ path: String, limit: Int, tooLarge: (Int) -> String) throws -> [UInt8] {
        let (fd, size) = try openForReading(path)
        defer { close(fd) }
        guard size <= limit else { throw FileReadError(reason: tooLarge(size)) }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FileReadError(reason: String(cString: strerror(errno))) }
            if n == 0 { break }  // the file shrank while we read it: keep what is there
            done += n
        }
        return Array(bytes.prefix(done))
    }
}
