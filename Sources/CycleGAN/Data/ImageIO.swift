import CImageIO
import Foundation

/// An image file that could not be read, decoded or written, with the path and the reason,
/// as one line: `cannot read trainA/0001.jpg: not a JPEG or PNG file`.
public struct ImageError: Error, CustomStringConvertible {
    /// The file concerned.
    public var path: String
    /// What went wrong (the decoder's message, or ours).
    public var reason: String
    /// Whether the file was being written rather than read.
    public var writing: Bool

    public init(path: String, reason: String, writing: Bool = false) {
        self.path = path
        self.reason = reason
        self.writing = writing
    }

    public var description: String { "cannot \(writing ? "write" : "read") \(path): \(reason)" }
}

/// Reading and writing image files. PNG and JPEG are recognised by their first bytes,
/// whatever the file's extension; decoding follows PIL's `Image.open(p).convert("RGB")`.
public enum ImageIO {
    /// The largest image accepted, in pixels; a header claiming more is refused before any
    /// pixel memory is allocated.
    public static let maxPixels: UInt64 = 100_000_000

    /// Decodes a PNG or JPEG file to 8-bit RGB (always 3 channels).
    public static func load(_ path: String) throws -> Image {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ImageError(path: path, reason: readFailureReason(path))
        }
        return try decode(data, path: path)
    }

    /// Decodes PNG or JPEG bytes; `path` names the source in errors.
    public static func decode(_ data: Data, path: String) throws -> Image {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let isPNG = data.starts(with: png)
        let isJPEG = data.starts(with: [0xFF, 0xD8, 0xFF])
        guard isPNG || isJPEG else { throw ImageError(path: path, reason: "not a JPEG or PNG file") }

        var out = cimg_image()
        var err = [CChar](repeating: 0, count: 512)
        let rc = data.withUnsafeBytes { raw -> Int32 in
            let base = raw.bindMemory(to: UInt8.self).baseAddress
            return isPNG
                ? cimg_decode_png(base, raw.count, maxPixels, &out, &err, err.count)
                : cimg_decode_jpeg(base, raw.count, maxPixels, &out, &err, err.count)
        }
        guard rc == 0, let pixels = out.pixels else {
            throw ImageError(path: path, reason: String(cString: err))
        }
        defer { cimg_free(pixels) }
        let count = Int(out.width) * Int(out.height) * Int(out.channels)
        return Image(width: Int(out.width), height: Int(out.height), channels: Int(out.channels),
                     pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }

    /// Writes an 8-bit RGB or gray image as a PNG, atomically (temporary file, then rename).
    public static func savePNG(_ image: Image, to path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try encodePNG(image.pixels, width: image.width, height: image.height,
                                  colorType: image.channels == 1 ? 0 : 2, bitDepth: 8)
        } catch let error as ImageError {
            throw ImageError(path: path, reason: error.reason, writing: true)
        }
        do {
            try writeAtomically(Data(bytes), to: path)
        } catch let error as FileError {
            if case .cannotWrite(_, let reason) = error {
                throw ImageError(path: path, reason: reason, writing: true)
            }
            throw error
        }
    }

    /// PNG bytes for raw samples of any PNG colour type (0 gray, 2 RGB, 3 palette,
    /// 4 gray+alpha, 6 RGBA) and bit depth; 16-bit samples go in as native `UInt16`s
    /// (pass them as bytes with `withUnsafeBytes`). Used by `savePNG` and by tests that
    /// need the less common layouts.
    static func encodePNG(_ samples: [UInt8], width: Int, height: Int, colorType: Int, bitDepth: Int,
                          palette: [UInt8] = [], paletteAlpha: [UInt8] = [],
                          interlaced: Bool = false) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var err = [CChar](repeating: 0, count: 512)
        let rc = samples.withUnsafeBytes { s in
            palette.withUnsafeBufferPointer { p in
                paletteAlpha.withUnsafeBufferPointer { a in
                    var format = cimg_png_format(
                        color_type: Int32(colorType), bit_depth: Int32(bitDepth), interlace: interlaced ? 1 : 0,
                        palette: p.baseAddress, palette_count: Int32(palette.count / 3),
                        palette_alpha: a.baseAddress, palette_alpha_count: Int32(paletteAlpha.count))
                    return cimg_encode_png(s.baseAddress, Int32(width), Int32(height), &format,
                                           &out, &size, &err, err.count)
                }
            }
        }
        return try takeBuffer(rc, out, size, err)
    }

    /// JPEG bytes for 8-bit samples: 1 channel gray, 3 RGB, 4 CMYK (stored as given, which
    /// readers take as Adobe-inverted). For tests.
    static func encodeJPEG(_ samples: [UInt8], width: Int, height: Int, channels: Int,
                           quality: Int = 90) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var err = [CChar](repeating: 0, count: 512)
        let rc = samples.withUnsafeBufferPointer { s in
            cimg_encode_jpeg(s.baseAddress, Int32(width), Int32(height), Int32(channels), Int32(quality),
                             &out, &size, &err, err.count)
        }
        return try takeBuffer(rc, out, size, err)
    }

    /// Copies a buffer returned by an encoder and frees it, or throws the encoder's message.
    private static func takeBuffer(_ rc: Int32, _ out: UnsafeMutablePointer<UInt8>?, _ size: Int,
                                   _ err: [CChar]) throws -> [UInt8] {
        guard rc == 0, let out else { throw ImageError(path: "", reason: String(cString: err), writing: true) }
        defer { cimg_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// Why a file could not be opened, in the system's words.
    private static func readFailureReason(_ path: String) -> String {
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDir) { return "no such file" }
        if isDir.boolValue { return "is a folder" }
        let fd = open(path, O_RDONLY)
        if fd < 0 { return String(cString: strerror(errno)) }
        close(fd)
        return "read failed"
    }
}
