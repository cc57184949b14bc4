/// An 8-bit image in memory: `channels` samples per pixel (3 for RGB, 1 for gray),
/// interleaved, row by row (HWC), `width * height * channels` bytes.
public struct Image: Sendable, Equatable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// Samples per pixel: 3 (RGB) or 1 (gray).
    public var channels: Int
    /// The samples, interleaved: pixel (x, y) channel c is at `(y * width + x) * channels + c`.
    public var pixels: [UInt8]

    /// An image over the given samples; `pixels.count` must be `width * height * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(channels == 1 || channels == 3, "an Image has 1 or 3 channels, not \(channels)")
        precondition(pixels.count == width * height * channels,
                     "\(pixels.count) samples for a \(width)x\(height)x\(channels) image")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// An image filled with one colour (`value` has `channels` entries).
    public init(width: Int, height: Int, filledWith value: [UInt8]) {
        var pixels = [UInt8](repeating: 0, count: width * height * value.count)
        for i in 0..<(width * height) {
            for c in 0..<value.count { pixels[i * value.count + c] = value[c] }
        }
        self.init(width: width, height: height, channels: value.count, pixels: pixels)
    }
}
