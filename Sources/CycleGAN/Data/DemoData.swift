import Foundation

/// The built-in demo dataset: unpaired landscapes by day (domain A) and by night
/// (domain B), drawn procedurally. Both domains have the same kinds of scene (sky, a sun
/// or moon, rolling hills in layers, trees and houses) but independent random scenes, so
/// the mapping to learn is the change of light and colour: blue sky to navy with stars,
/// yellow sun to white moon, green hills to blue-grey, dark windows to lit ones. Shapes
/// have soft (supersampled) edges, so a small CycleGAN picks the mapping up in minutes
/// at 64×64.
public enum DemoData {
    /// Writes `<folder>/trainA`, `trainB` (`trainCount` PNGs each) and `testA`, `testB`
    /// (`testCount` each), `size`×`size`, named `0000.png`, `0001.png`, …; the same files
    /// for the same arguments. Each file is written atomically.
    public static func write(to folder: String, trainCount: Int = 200, testCount: Int = 8,
                             size: Int = 64, seed: UInt64 = 1) throws {
        precondition(size >= 8, "demo images need at least 8x8 pixels")
        for (split, folderName, count) in splits(trainCount, testCount) {
            let dir = try makeFolder((folder as NSString).appendingPathComponent(folderName))
            let night = folderName.hasSuffix("B")
            for i in 0..<count {
                // One stream per (split, domain, image): scenes are independent across domains.
                var rng = RandomStream(seed: CPUBackend.mix64(CPUBackend.mix64(seed, split), UInt64(i)))
                let scene = Scene(random: &rng, night: night)
                try ImageIO.savePNG(scene.render(size: size), to: (dir as NSString).appendingPathComponent(fileName(i)))
            }
        }
    }

    /// Whether every file `write` would create with these counts exists, so that a caller
    /// can skip regenerating.
    public static func isComplete(_ folder: String, trainCount: Int = 200, testCount: Int = 8) -> Bool {
        for (_, folderName, count) in splits(trainCount, testCount) {
            let dir = (folder as NSString).appendingPathComponent(folderName)
            for i in 0..<count where !FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(fileName(i))) {
                return false
            }
        }
        return true
    }

    /// Writes the paired demo for pix2pix (`--dataset_mode aligned`): `<folder>/train`
    /// (`trainCount` PNGs) and `<folder>/test` (`testCount`), each a `size`×`size` landscape by
    /// day (left, A) beside the same landscape by night (right, B). The same files for the
    /// same arguments; each written atomically.
    public static func writePairs(to folder: String, trainCount: Int = 200, testCount: Int = 8,
                                  size: Int = 128, seed: UInt64 = 1) throws {
        precondition(size >= 8, "demo images need at least 8x8 pixels")
        for (split, folderName, count) in pairSplits(trainCount, testCount) {
            let dir = try makeFolder((folder as NSString).appendingPathComponent(folderName))
            for i in 0..<count {
                var rng = RandomStream(seed: CPUBackend.mix64(CPUBackend.mix64(seed, split), UInt64(i)))
                let day = Scene(random: &rng, night: false)
                let left = day.render(size: size), right = day.atNight(&rng).render(size: size)
                var pixels = [UInt8](repeating: 0, count: 2 * size * size * 3)
                for y in 0..<size {
                    for (k, half) in [left, right].enumerated() {
                        let row = half.pixels[(y * size * 3)..<((y + 1) * size * 3)]
                        pixels.replaceSubrange(((y * 2 + k) * size * 3)..<((y * 2 + k + 1) * size * 3), with: row)
                    }
                }
                try ImageIO.savePNG(Image(width: 2 * size, height: size, channels: 3, pixels: pixels),
                                    to: (dir as NSString).appendingPathComponent(fileName(i)))
            }
        }
    }

    /// Whether every file `writePairs` would create with these counts exists.
    public static func isCompletePairs(_ folder: String, trainCount: Int = 200, testCount: Int = 8) -> Bool {
        pairSplits(trainCount, testCount).allSatisfy { _, folderName, count in
            let dir = (folder as NSString).appendingPathComponent(folderName)
            return (0..<count).allSatisfy { FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(fileName($0))) }
        }
    }

    private static func pairSplits(_ train: Int, _ test: Int) -> [(UInt64, String, Int)] {
        [(4, "train", train), (5, "test", test)]
    }

    /// (stream id, folder, file count) of the four folders.
    private static func splits(_ train: Int, _ test: Int) -> [(UInt64, String, Int)] {
        [(0, "trainA", train), (1, "trainB", train), (2, "testA", test), (3, "testB", test)]
    }

    private static func makeFolder(_ dir: String) throws -> String {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw FileError.cannotWrite(dir, "cannot create the folder (\(error.localizedDescription))")
        }
        return dir
    }

    private static func fileName(_ i: Int) -> String { String(format: "%04d.png", i) }
}

/// A colour with components in 0...1.
private struct RGB {
    var r, g, b: Double
    init(_ r: Double, _ g: Double, _ b: Double) { (self.r, self.g, self.b) = (r, g, b) }
    static func mix(_ a: RGB, _ b: RGB, _ t: Double) -> RGB {
        RGB(a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t)
    }
    /// The colour nudged by up to ±`amount` per component.
    func jittered(_ rng: inout RandomStream, _ amount: Double) -> RGB {
        RGB(r + (rng.uniform() * 2 - 1) * amount, g + (rng.uniform() * 2 - 1) * amount, b + (rng.uniform() * 2 - 1) * amount)
    }
}

/// One random landscape, in coordinates u (left to right) and v (top to bottom), 0...1.
private struct Scene {
    struct Hill { var base: Double; var waves: [(amp: Double, freq: Double, phase: Double)]; var color: RGB }
    /// `foot`: where it stands, on the front hill's ridge below its centre.
    struct House { var x: Double; var width: Double; var height: Double; var roof: Double; var foot = 0.0 }
    struct Tree { var x: Double; var trunk: Double; var radius: Double; var foot = 0.0 }

    var night: Bool
    var skyTop: RGB, skyBottom: RGB
    var disc: (u: Double, v: Double, r: Double)  // the sun or the moon
    var stars: [(u: Double, v: Double, r: Double, level: Double)] = []
    var hills: [Hill] = []  // back to front
    var houses: [House] = []
    var trees: [Tree] = []

    init(random rng: inout RandomStream, night: Bool) {
        func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * rng.uniform() }
        self.night = night
        skyTop = (night ? RGB(0.02, 0.03, 0.12) : RGB(0.22, 0.48, 0.90)).jittered(&rng, 0.04)
        skyBottom = (night ? RGB(0.08, 0.10, 0.26) : RGB(0.68, 0.84, 0.98)).jittered(&rng, 0.04)
        disc = (uniform(0.12, 0.88), uniform(0.10, 0.32), uniform(0.06, 0.10))
        if night {
            for _ in 0..<(15 + rng.int(below: 25)) {
                stars.append((uniform(0, 1), uniform(0, 0.6), uniform(0.006, 0.012), uniform(0.6, 1.0)))
            }
        }
        let layers = 2 + rng.int(below: 2)
        for k in 0..<layers {
            let depth = Double(k) / Double(layers - 1)  // 0 at the back, 1 in front
            let back = night ? RGB(0.22, 0.26, 0.38) : RGB(0.50, 0.74, 0.48)
            let front = night ? RGB(0.08, 0.10, 0.17) : RGB(0.16, 0.50, 0.16)
            let waves = (0..<3).map { _ in (uniform(0.015, 0.05), uniform(0.5, 3.0), uniform(0, 2 * Double.pi)) }
            hills.append(Hill(base: 0.48 + 0.14 * depth + uniform(-0.04, 0.04), waves: waves,
                              color: RGB.mix(back, front, depth).jittered(&rng, 0.03)))
        }
        for _ in 0..<rng.int(below: 3) {
            houses.append(House(x: uniform(0.12, 0.88), width: uniform(0.10, 0.16),
                                height: uniform(0.08, 0.12), roof: uniform(0.05, 0.08)))
        }
        for _ in 0..<rng.int(below: 4) {
            trees.append(Tree(x: uniform(0.05, 0.95), trunk: uniform(0.05, 0.08), radius: uniform(0.04, 0.07)))
        }
        // Stand them upright on the front hill, a little sunk into it.
        let front = hills[hills.count - 1]
        for i in houses.indices { houses[i].foot = ridge(front, houses[i].x) + 0.03 }
        for i in trees.indices { trees[i].foot = ridge(front, trees[i].x) + 0.02 }
    }

    /// The same landscape by night: night sky, stars drawn from `rng`, the hills recoloured
    /// by depth as a night scene colours them; the moon where the sun was, lit windows.
    func atNight(_ rng: inout RandomStream) -> Scene {
        var s = self
        func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * rng.uniform() }
        s.night = true
        s.skyTop = RGB(0.02, 0.03, 0.12).jittered(&rng, 0.04)
        s.skyBottom = RGB(0.08, 0.10, 0.26).jittered(&rng, 0.04)
        s.stars = (0..<(15 + rng.int(below: 25))).map { _ in (uniform(0, 1), uniform(0, 0.6), uniform(0.006, 0.012), uniform(0.6, 1.0)) }
        for k in s.hills.indices {
            let depth = s.hills.count > 1 ? Double(k) / Double(s.hills.count - 1) : 1
            s.hills[k].color = RGB.mix(RGB(0.22, 0.26, 0.38), RGB(0.08, 0.10, 0.17), depth).jittered(&rng, 0.03)
        }
        return s
    }

    /// The top edge of hill `h` at u.
    func ridge(_ h: Hill, _ u: Double) -> Double {
        h.waves.reduce(h.base) { $0 + $1.amp * sin(2 * Double.pi * $1.freq * u + $1.phase) }
    }

    /// The colour at (u, v); `ridges` are the hills' top edges at u, back to front.
    func color(_ u: Double, _ v: Double, ridges: [Double]) -> RGB {
        var c = RGB.mix(skyTop, skyBottom, v)
        let d = ((u - disc.u) * (u - disc.u) + (v - disc.v) * (v - disc.v)).squareRoot()
        // A glow around the sun or moon, then the disc itself.
        let g = d / (disc.r * 2.5)
        let glow = exp(-g * g) * (night ? 0.15 : 0.35)
        c = RGB.mix(c, night ? RGB(0.7, 0.75, 0.85) : RGB(1.0, 0.95, 0.7), glow)
        for s in stars where v < 0.62 && abs(u - s.u) < s.r && abs(v - s.v) < s.r {
            if (u - s.u) * (u - s.u) + (v - s.v) * (v - s.v) < s.r * s.r { c = RGB.mix(c, RGB(1, 1, 0.95), s.level) }
        }
        if d < disc.r { c = night ? RGB(0.94, 0.94, 0.90) : RGB(1.0, 0.88, 0.25) }
        for (k, hill) in hills.enumerated() where v > ridges[k] {
            // Slightly darker further down the slope.
            let shade = 1 - 0.25 * min(1, (v - ridges[k]) / 0.4)
            c = RGB(hill.color.r * shade, hill.color.g * shade, hill.color.b * shade)
        }
        for t in trees {
            let trunkTop = t.foot - t.trunk
            if abs(u - t.x) < 0.012 && v < t.foot && v > trunkTop {
                c = night ? RGB(0.10, 0.08, 0.08) : RGB(0.42, 0.27, 0.12)
            }
            let cv = trunkTop - t.radius * 0.7
            if (u - t.x) * (u - t.x) + (v - cv) * (v - cv) < t.radius * t.radius {
                c = night ? RGB(0.05, 0.12, 0.12) : RGB(0.10, 0.42, 0.12)
            }
        }
        for h in houses {
            let top = h.foot - h.height
            let half = h.width / 2
            if abs(u - h.x) < half && v < h.foot && v > top {
                c = night ? RGB(0.20, 0.20, 0.25) : RGB(0.92, 0.86, 0.72)
                // Two windows side by side in the middle of the wall.
                let wy = top + h.height * 0.3, ws = h.width * 0.18
                for wx in [h.x - half * 0.45, h.x + half * 0.45] where abs(u - wx) < ws / 2 && v > wy && v < wy + ws {
                    c = night ? RGB(1.0, 0.85, 0.35) : RGB(0.30, 0.42, 0.58)
                }
            }
            // The roof: a triangle from the wall's top corners up to the ridge.
            if v <= top && v > top - h.roof && abs(u - h.x) < (half + 0.01) * (v - (top - h.roof)) / h.roof {
                c = night ? RGB(0.15, 0.10, 0.12) : RGB(0.70, 0.20, 0.15)
            }
        }
        return c
    }

    /// The scene at `size`×`size`, each pixel the mean of 3×3 samples (soft edges).
    func render(size: Int) -> Image {
        let ss = 3
        let columns = size * ss
        // The ridges depend on u only: compute them once per sample column.
        let ridgeTable = (0..<columns).map { cu in hills.map { ridge($0, (Double(cu) + 0.5) / Double(columns)) } }
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            for x in 0..<size {
                var sum = RGB(0, 0, 0)
                for sy in 0..<ss {
                    for sx in 0..<ss {
                        let cu = x * ss + sx
                        let c = color((Double(cu) + 0.5) / Double(columns),
                                      (Double(y * ss + sy) + 0.5) / Double(columns), ridges: ridgeTable[cu])
                        sum = RGB(sum.r + c.r, sum.g + c.g, sum.b + c.b)
                    }
                }
                let n = Double(ss * ss)
                for (ch, v) in [sum.r, sum.g, sum.b].enumerated() {
                    pixels[(y * size + x) * 3 + ch] = UInt8(min(max(v / n * 255, 0), 255).rounded())
                }
            }
        }
        return Image(width: size, height: size, channels: 3, pixels: pixels)
    }
}
