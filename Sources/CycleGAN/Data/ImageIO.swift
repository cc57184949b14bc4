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

/// What an image file's header says, read without decoding any pixel.
public struct ImageHeader: Sendable, Equatable {
    public var width: Int
    public var height: Int
}

/// Reading and writing image files. PNG and JPEG are recognised by their first bytes,
/// whatever the file's extension; decoding follows PIL's `Image.open(p).convert("RGB")`.
///
/// Every read is bounded: only regular files are opened; a file larger than an image of
/// `maxPixels` pixels could need is not read; a header claiming more than `maxPixels`
/// pixels, or more than its file could hold (a truncated file or a decompression bomb), is
/// refused before pixel memory is allocated; and damaged data is an error, never an image
/// with made-up pixels (see Sources/CImageIO/include/cimageio.h).
public enum ImageIO {
    /// The default of `--max_pixels`: the largest image accepted, in pixels.
    public static let defaultMaxPixels: UInt64 = 50_000_000

    /// The largest file read for an image of at most `maxPixels` pixels: 16-bit RGBA stored
    /// uncompressed (8 bytes a pixel), plus 64 MiB of metadata.
    static func maxFileBytes(maxPixels: UInt64) -> Int {
        let (bytes, overflow) = maxPixels.multipliedReportingOverflow(by: 8)
        return overflow || bytes > UInt64(Int.max / 2) ? Int.max / 2 : Int(bytes) + (64 << 20)
    }

    /// Decodes a PNG or JPEG file to 8-bit RGB (always 3 channels).
    public static func load(_ path: String, maxPixels: UInt64 = defaultMaxPixels) throws -> Image {
        let bytes: [UInt8]
        do {
            bytes = try RegularFile.contents(path, limit: maxFileBytes(maxPixels: maxPixels)) { size in
                "file is \(size) bytes, more than an image of --max_pixels \(maxPixels) needs"
            }
        } catch let error as FileReadError {
            throw ImageError(path: path, reason: error.reason)
        }
        return try decode(Data(bytes), path: path, maxPixels: maxPixels)
    }

    /// The size a PNG or JPEG file declares, from its header alone (PNG: the chunks before
    /// the image data; JPEG: the markers before the first scan), with the same checks the
    /// decoders make before allocating: a size over `maxPixels`, or more than the file could
    /// hold, is an error.
    public static func probe(_ path: String, maxPixels: UInt64 = defaultMaxPixels) throws -> ImageHeader {
        let fd: Int32, size: Int
        do {
            (fd, size) = try RegularFile.openForReading(path)
        } catch let error as FileReadError {
            throw ImageError(path: path, reason: error.reason)
        }
        defer { close(fd) }
        var info = cimg_info()
        var err = [CChar](repeating: 0, count: 512)
        guard cimg_probe_fd(fd, UInt64(size), maxPixels, &info, &err, err.count) == 0 else {
            throw ImageError(path: path, reason: String(cString: err))
        }
        return ImageHeader(width: Int(info.width), height: Int(info.height))
    }

    /// Decodes PNG or JPEG bytes; `path` names the source in errors.
    public static func decode(_ data: Data, path: String, maxPixels: UInt64 = defaultMaxPixels) throws -> Image {
        let format = data.withUnsafeBytes { raw in
            cimg_format(raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
        }
        guard format != Int32(CIMG_UNKNOWN) else { throw ImageError(path: path, reason: "not a JPEG or PNG file") }

        var out = cimg_image()
        var err = [CChar](repeating: 0, count: 512)
        let rc = data.withUnsafeBytes { raw -> Int32 in
            let base = raw.bindMemory(to: UInt8.self).baseAddress
            return format == Int32(CIMG_PNG)
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
}
