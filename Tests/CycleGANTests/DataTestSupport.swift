import Foundation
import XCTest
@testable import CycleGAN

/// PIL's answers for resizing, gray conversion and JPEG decoding, written by
/// Tests/Fixtures/data/make_pil_reference.py.
enum PILReference {
    static let directory = Fixture.directory.appendingPathComponent("data")

    static let json: [String: Any] = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("pil_reference.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    /// An image stored as {width, height, channels, pixels (base64)}.
    static func image(_ entry: Any) -> Image {
        let e = entry as! [String: Any]
        let bytes = [UInt8](Data(base64Encoded: e["pixels"] as! String)!)
        return Image(width: e["width"] as! Int, height: e["height"] as! Int, channels: e["channels"] as! Int, pixels: bytes)
    }

    static func images(_ key: String) -> [Image] { (json[key] as! [Any]).map(image) }
}

/// A fresh empty folder under the temporary directory, removed by the test's teardown.
func makeTempFolder(_ test: XCTestCase) -> String {
    let path = NSTemporaryDirectory() + "cyclegan-data-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Writes bytes to a file, creating its folder.
func writeBytes(_ bytes: [UInt8], to path: String) {
    let dir = (path as NSString).deletingLastPathComponent
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

/// An image of uniformly random samples.
func randomImage(width: Int, height: Int, channels: Int = 3, seed: UInt64) -> Image {
    var rng = TestRNG(seed)
    return Image(width: width, height: height, channels: channels,
                 pixels: (0..<(width * height * channels)).map { _ in UInt8(truncatingIfNeeded: rng.next() >> 32) })
}

/// The largest difference between two images' samples, or Int.max if their shapes differ.
func maxLevelDifference(_ a: Image, _ b: Image) -> Int {
    guard a.width == b.width && a.height == b.height && a.channels == b.channels else { return Int.max }
    return zip(a.pixels, b.pixels).reduce(0) { max($0, abs(Int($1.0) - Int($1.1))) }
}

/// The mean of all samples.
func meanLevel(_ image: Image) -> Double {
    Double(image.pixels.reduce(0) { $0 + Int($1) }) / Double(image.pixels.count)
}

/// The start of a PNG whose header claims `width`×`height` RGB pixels, followed by a
/// tiny IDAT chunk: enough for a decoder to read the header and nothing more.
func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
    func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }
    func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }
    let ihdr = be32(width) + be32(height) + [8, 2, 0, 0, 0]
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr)
        + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", [])
}

/// CRC-32 as PNG uses it.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
    }
    return ~crc
}

/// The description of the error `body` throws, or nil if it does not throw.
func errorDescription(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}
