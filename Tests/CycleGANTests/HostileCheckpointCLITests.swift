import XCTest
@testable import CycleGAN

/// Hostile generator checkpoints (built by `HostileFiles`) loaded by `cyclegan test`: each
/// ends with exit status 1, one `error:` line naming the file, no trap, and no results.
final class HostileCheckpointCLITests: CLITestCase {
    static let root = demoScratch("hostile-cli", trainCount: 1, testCount: 1, size: 16, seed: 3)

    /// `cyclegan test --model test` with the generator `<root>/ck/<name>/latest_net_G.*`.
    func translate(_ name: String, timeout: TimeInterval, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        try cyclegan(["test", "--model", "test", "--model_suffix", "", "--name", name, "--checkpoints_dir", Self.root + "/ck",
                      "--dataroot", Self.root + "/data/testA", "--results_dir", Self.root + "/results", "--ngf", "4",
                      "--netG", "resnet_6blocks", "--device", "cpu-ref"], timeout: timeout, file: file, line: line)
    }

    /// Runs `cyclegan test --model test` on `contents` as `<name>/latest_net_G.<ext>` and
    /// checks the one-line error names that file and contains `text`.
    func assertRefused(_ contents: Data, ext: String, name: String, contains text: String, timeout: TimeInterval = 120,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let checkpoints = Self.root + "/ck", results = Self.root + "/results"
        let path = "\(checkpoints)/\(name)/latest_net_G.\(ext)"
        try FileManager.default.createDirectory(atPath: "\(checkpoints)/\(name)", withIntermediateDirectories: true)
        try contents.write(to: URL(fileURLWithPath: path))
        let start = Date()
        let r = try translate(name, timeout: timeout, file: file, line: line)
        assertOneLineError(r, contains: path, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "expected \"\(text)\" in: \(r.stderr)", file: file, line: line)
        XCTAssertLessThan(Date().timeIntervalSince(start), timeout, file: file, line: line)
        // nothing half-written: no results folder for this name
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(results)/\(name)"), file: file, line: line)
    }

    func testSafetensorsShapeProductOverflow() throws {
        try assertRefused(HostileFiles.safetensorsShapeOverflow, ext: "safetensors", name: "shape", contains: "tensor w: shape")
    }

    func testSafetensorsOffsetsOverflow() throws {
        try assertRefused(HostileFiles.safetensorsOffsetsOverflow, ext: "safetensors", name: "offsets", contains: "tensor w: data offsets")
    }

    func testSafetensorsNegativeDimension() throws {
        try assertRefused(HostileFiles.safetensorsNegativeDimension, ext: "safetensors", name: "negative",
                          contains: "tensor w: shape [18446744073709551615, 18446744073709551615] has a dimension that is not an integer")
    }

    func testSafetensorsHeaderLengthPastTheFile() throws {
        try assertRefused(HostileFiles.safetensorsHeaderPastFile, ext: "safetensors", name: "header", contains: "header length 1099511627776")
    }

    /// 100,000 nested tuples: a stack overflow while the parsed tree was released.
    func testPthDeepTupleNest() throws {
        try assertRefused(HostileFiles.legacy(HostileFiles.nestedMarkTuples(100_000)), ext: "pth", name: "deep",
                          contains: "containers nested more than 2000 deep")
        try assertRefused(HostileFiles.zip(pickle: HostileFiles.nestedTuples(100_000)), ext: "pth", name: "deepzip",
                          contains: "containers nested more than 2000 deep")
    }

    /// 8 MB of DUP: the stack grew to gigabytes.
    func testPthDupBomb() throws {
        try assertRefused(HostileFiles.legacy(HostileFiles.dupBomb(8_000_000)), ext: "pth", name: "dup",
                          contains: "more than 1000000 values on the stack", timeout: 60)
    }

    func testPthForbiddenGlobal() throws {
        try assertRefused(HostileFiles.legacy(HostileFiles.osSystem), ext: "pth", name: "global", contains: "refusing to load global os.system")
    }

    /// A named pipe or a device under a checkpoint's name is refused unopened (reading one
    /// would block, or never end).
    func testCheckpointThatIsNotARegularFile() throws {
        let checkpoints = Self.root + "/ck"
        for (name, ext, reason) in [("fifo", "safetensors", "a named pipe, not a regular file"),
                                    ("device", "pth", "a character device, not a regular file")] {
            let path = "\(checkpoints)/\(name)/latest_net_G.\(ext)"
            try FileManager.default.createDirectory(atPath: "\(checkpoints)/\(name)", withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: path)
            if name == "fifo" {
                XCTAssertEqual(mkfifo(path, 0o644), 0)
            } else {
                try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/dev/zero")
            }
            assertOneLineError(try translate(name, timeout: 60), contains: "cannot read \(path): \(reason)")
        }
    }

    func testPthViewsThatMultiplyTheFile() throws {
        try assertRefused(HostileFiles.broadcastBomb, ext: "pth", name: "views", contains: "more than a file of")
    }
}
