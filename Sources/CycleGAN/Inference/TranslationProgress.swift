#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Progress of `cyclegan test` on stderr. On a terminal, one line rewritten in place (at most
/// five times a second): the images done, the current image's layer and band when it is
/// tiled, the time spent on it and an estimate of what is left. Without a terminal (a log),
/// one line per image once it is done, and only for images that took a second or more.
final class TranslationProgress {
    private let images: Int
    private var done = 0
    private var name = ""
    private var start = Date(), lastDraw = Date.distantPast
    private let terminal = isatty(STDERR_FILENO) == 1
    private var drawn = false
    private var tiled: (layers: Int, bands: Int)? = nil

    init(images: Int) { self.images = images }

    func begin(_ name: String) {
        self.name = name
        start = Date()
        tiled = nil
        draw("")
    }

    /// Band `band` of `bands` of layer `layer` of `layers` is done.
    func tile(layer: Int, of layers: Int, band: Int, of bands: Int) {
        tiled = (layers, tiled.map { $0.bands + 1 } ?? 1)
        guard terminal else { return }
        let fraction = (Double(layer - 1) + Double(band) / Double(bands)) / Double(layers)
        let elapsed = Date().timeIntervalSince(start)
        let left = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        draw(String(format: ", layer %d/%d band %d/%d, %.0f s, about %.0f s left", layer, layers, band, bands, elapsed, left))
    }

    func end() {
        done += 1
        let elapsed = Date().timeIntervalSince(start)
        if terminal {
            draw(String(format: ", %.1f s", elapsed), force: true)
            if done == images { FileHandle.standardError.write(Data("\n".utf8)) }
        } else if elapsed >= 1 {
            let how = tiled.map { ", tiled (\($0.bands) bands over \($0.layers) layers)" } ?? ""
            FileHandle.standardError.write(Data(String(format: "%@: translated in %.1f s%@ (%d/%d)\n", name, elapsed, how, done, images).utf8))
        }
    }

    private func draw(_ detail: String, force: Bool = false) {
        guard terminal, force || Date().timeIntervalSince(lastDraw) >= 0.2 else { return }
        lastDraw = Date()
        FileHandle.standardError.write(Data("\r\(done)/\(images) images, \(name)\(detail)\u{1B}[K".utf8))
        drawn = true
    }
}
