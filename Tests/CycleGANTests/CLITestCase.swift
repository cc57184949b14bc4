import XCTest
@testable import CycleGAN

/// A test case that runs the built `cyclegan` binary and checks how it fails.
class CLITestCase: XCTestCase {
    /// The built binary, beside the test bundle (scripts/test.sh builds it first).
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("cyclegan").path

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// Runs the binary with `args` (and `environment` added to ours); a run past `timeout`
    /// seconds is killed and fails the test (a hang is a defect, not a slow test).
    @discardableResult
    func cyclegan(_ args: [String], environment: [String: String] = [:], timeout: TimeInterval = 900,
                  file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            XCTFail("\(Self.binary) not built: run `swift build` before `swift test`", file: file, line: line)
            throw XCTSkip("no binary")
        }
        return try run(Self.binary, args, environment: environment, timeout: timeout, file: file, line: line)
    }

    /// Runs `executable` with `args` as `cyclegan` does (a run past `timeout` seconds is
    /// killed and fails the test); `started` gets the process once it runs.
    func run(_ executable: String, _ args: [String], environment: [String: String] = [:], timeout: TimeInterval = 900,
             started: ((Process) -> Void)? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        // a developer's `cyclegan tune` cache must not change what the tests run
        p.environment = ProcessInfo.processInfo.environment.merging(["CYCLEGAN_TUNE_CACHE": "0"].merging(environment) { $1 }) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        started?(p)
        let killer = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        // stderr drained on another thread: a pipe left full would block the child
        nonisolated(unsafe) var e = Data()
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { e = err.fileHandleForReading.readDataToEndOfFile(); drained.signal() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        p.waitUntilExit()
        killer.cancel()
        if p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGTERM {
            XCTFail("\((executable as NSString).lastPathComponent) \(args.joined(separator: " ")) did not finish within \(Int(timeout)) s",
                    file: file, line: line)
        }
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Asserts a clean failure: status 1 and a single `error:` line containing `text`.
    func assertOneLineError(_ r: Result, contains text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("device:") && !$0.hasPrefix("note:") }
        XCTAssertEqual(lines.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(lines.first?.hasPrefix("error: ") ?? false, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "expected \"\(text)\" in: \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Stack dump"), r.stderr, file: file, line: line)
    }
}
