import XCTest
@testable import CycleGAN

/// `cyclegan tune`: candidates checked then timed, the winner cached per device and driver;
/// `bench` (and train, test) use the cache, `check` never does; a damaged cache is ignored
/// with a note; a resume under another kernel configuration says so.
final class TuneTests: CLITestCase {
    static let root = demoScratch("tune", trainCount: 2, testCount: 1, size: 36, seed: 8)

    func testTuneCachesAWinnerThatBenchUsesAndCheckIgnores() throws {
        let device = try TestDevices.requireOpenCL().device
        let env = ["XDG_CACHE_HOME": Self.root + "/cache", "CYCLEGAN_TUNE_CACHE": "1"]
        let tune = try cyclegan(["tune", "--size", "32", "--ngf", "4", "--repeats", "1", "--candidates", "2", "--device", device.spec],
                                environment: env)
        XCTAssertEqual(tune.status, 0, tune.stdout + tune.stderr)
        let path = Self.root + "/cache/cyclegan/tune/" + (Tuner.cachePath(for: device) as NSString).lastPathComponent
        let entry = try JSONDecoder().decode(Tuner.Entry.self, from: try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(entry.device, device.name)
        XCTAssertTrue(tune.stdout.contains("cached in \(path)"), tune.stdout)
        XCTAssertEqual(tune.stdout.split(separator: "\n").filter { $0.contains(", gemm v") }.count, 2, tune.stdout)  // two candidates timed

        let bench = try cyclegan(["bench", "--quick", "--sizes", "32", "--ngf", "4", "--repeats", "1", "--ops", "none", "--no-iteration",
                                  "--device", device.spec], environment: env)
        XCTAssertEqual(bench.status, 0, bench.stderr)
        XCTAssertTrue(bench.stderr.contains("from \(path)") && bench.stdout.contains("tile \(entry.tile.description)"), bench.stderr + bench.stdout)
        let check = try cyclegan(["check", "--small", "--device", device.spec], environment: env)
        XCTAssertEqual(check.status, 0)
        XCTAssertFalse(check.stderr.contains(path), check.stderr)

        try Data("{not json".utf8).write(to: URL(fileURLWithPath: path))
        let damaged = try cyclegan(["bench", "--quick", "--sizes", "32", "--ngf", "4", "--repeats", "1", "--ops", "none", "--no-iteration",
                                    "--device", device.spec], environment: env)
        XCTAssertEqual(damaged.status, 0, damaged.stderr)
        XCTAssertTrue(damaged.stderr.contains("note: ignoring \(path)"), damaged.stderr)
    }

    func testResumeUnderAnotherTilingSaysSo() throws {
        let device = try TestDevices.requireOpenCL().device
        let args = ["train", "--name", "retile", "--dataroot", Self.root + "/data", "--checkpoints_dir", Self.root + "/ck",
                    "--load_size", "36", "--crop_size", "32", "--ngf", "4", "--ndf", "4", "--netG", "resnet_6blocks",
                    "--device", device.spec, "--n_epochs", "1", "--n_epochs_decay", "0"]
        XCTAssertEqual(try cyclegan(args + ["--stop_after", "1"]).status, 0)
        let same = try cyclegan(args + ["--continue_train", "--stop_after", "2"])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertFalse(same.stderr.contains("was trained on"), same.stderr)
        let other = try cyclegan(args + ["--continue_train"], environment: ["CYCLEGAN_GEMM_TILE": "4x8:1x4"])
        XCTAssertEqual(other.status, 0, other.stderr)
        XCTAssertTrue(other.stderr.contains("was trained on") && other.stderr.contains("tile 4x8"), other.stderr)
    }
}
