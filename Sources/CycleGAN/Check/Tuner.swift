import Foundation

/// `cyclegan tune`: searches the GEMM tiling (`GEMMTile`: panel widths, the CPU GEMM's local
/// size, the GPU GEMM's work-group tile and slice) for one device at CycleGAN's shapes. Each
/// candidate is first checked against the CPU reference on the parity cases, then timed on
/// every convolution pass of the model; the fastest is cached per device name and driver
/// version under `~/.cache/cyclegan/tune/`, and `train`, `test` and `bench` use it.
/// `check` and the tests never read the cache (`CYCLEGAN_TUNE_CACHE=0` turns it off for a
/// command), so a developer's cache cannot change what they exercise.
public enum Tuner {
    /// A tuned tiling as the cache stores it.
    public struct Entry: Codable, Sendable, Equatable {
        public var device: String
        public var driver: String
        public var gpuShaped: Bool
        public var tm: Int, tn: Int
        public var local: [Int]?
        public var wgm: Int, wgn: Int, ks: Int
        /// Device seconds of all the conv passes timed, with this tiling.
        public var seconds: Double
        public var date: String

        public var tile: GEMMTile {
            var t = GEMMTile(tm: tm, tn: tn, local: local)
            t.wgm = wgm; t.wgn = wgn; t.ks = ks
            return t
        }
    }

    /// The cache file of `device`: `$XDG_CACHE_HOME/cyclegan/tune/` (else `~/.cache/…`),
    /// named after the device and its driver version.
    public static func cachePath(for device: OpenCLDeviceInfo) -> String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((env["HOME"] ?? NSHomeDirectory()) + "/.cache")
        let name = (device.name + "-" + device.driverVersion).map { $0.isLetter || $0.isNumber || $0 == "." ? $0 : "_" }
        return base + "/cyclegan/tune/" + String(name) + ".json"
    }

    /// The cached tiling of `device` for kernels of the shape `gpuShaped`, if any (and
    /// unless `CYCLEGAN_TUNE_CACHE=0`). A cache file that cannot be read is ignored with a note.
    public static func cached(for device: OpenCLDeviceInfo, gpuShaped: Bool) -> Entry? {
        guard ProcessInfo.processInfo.environment["CYCLEGAN_TUNE_CACHE"] != "0" else { return nil }
        let path = cachePath(for: device)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path), let e = try? JSONDecoder().decode(Entry.self, from: data),
              e.device == device.name, e.driver == device.driverVersion, valid(e, on: device) else {
            FileHandle.standardError.write(Data("note: ignoring \(path): not a tuning of this device (run `cyclegan tune` again)\n".utf8))
            return nil
        }
        return e.gpuShaped == gpuShaped ? e : nil
    }

    /// Whether a tiling is one the kernels can be built with on `device`.
    static func valid(_ e: Entry, on device: OpenCLDeviceInfo) -> Bool {
        (1...32).contains(e.tm) && [1, 2, 4, 8, 16].contains(e.tn) && [4, 8, 16, 32].contains(e.wgm) && [4, 8, 16, 32].contains(e.wgn)
            && [4, 8, 16, 32].contains(e.ks) && (e.local.map { $0.count == 3 && $0.allSatisfy { $0 >= 1 } } ?? true)
            && (e.local.map { $0.reduce(1, *) } ?? 1) <= device.maxWorkGroupSize
    }

    /// Tries each candidate on `device`: parity first (a candidate off by more than 1e-4 is
    /// dropped), then the device time of every conv pass at `size` with width `ngf`.
    /// Returns the winner; `progress` hears each candidate's line.
    public static func tune(device: OpenCLDeviceInfo, size: Int, ngf: Int, repeats: Int, limit: Int? = nil,
                            progress: (String) -> Void) throws -> Entry {
        let gpuShaped = try OpenCLTuning().isGPUShaped(on: device)
        var best: Entry? = nil
        for tile in GEMMTile.candidates(gpuShaped: gpuShaped, limits: DeviceLimits(device)).prefix(limit ?? Int.max) {
            let label = "tile \(tile.description), work-group tile \(tile.wgm)x\(tile.wgn) panels, slice \(tile.ks)"
            let b: OpenCLBackend
            do {
                b = try OpenCLBackend(device: device, profiling: true, gemmTile: tile)
            } catch {
                progress("\(label): does not build (\(error))")
                continue
            }
            let failures = checkParity(OpCases.parity, on: b, tolerance: Tolerance.fp32.rtol).filter { !$0.passed }
            if let f = failures.first {
                progress("\(label): \(failures.count) parity failures (first: \(f.summary)); dropped")
                continue
            }
            let rows = Benchmark.convRows(b, size: size, ngf: ngf, repeats: repeats, ceiling: 1, check: false, progress: { _ in })
            try b.throwIfFailed()
            let seconds = rows.reduce(0) { $0 + $1.seconds }
            progress(String(format: "%@, gemm v%d: %.3f ms over %d conv passes", label, b.gemmVersion.rawValue, seconds * 1000, rows.count))
            if seconds < best?.seconds ?? .infinity {
                best = Entry(device: device.name, driver: device.driverVersion, gpuShaped: gpuShaped, tm: tile.tm, tn: tile.tn,
                             local: tile.local, wgm: tile.wgm, wgn: tile.wgn, ks: tile.ks, seconds: seconds,
                             date: ISO8601DateFormatter().string(from: Date()))
            }
        }
        guard let best else { throw OptionError("tune: no tiling passed the parity check on \(device.name)") }
        return best
    }

    /// Writes `entry` as the cache of `device`.
    public static func save(_ entry: Entry, for device: OpenCLDeviceInfo) throws -> String {
        let path = cachePath(for: device)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(entry), to: path)
        return path
    }
}
