import XCTest
@testable import CycleGAN

/// Device failures (an allocation or launch that fails, as an out-of-memory driver reports
/// it) injected with CYCLEGAN_FAULT on PoCL: one `error:` line naming the call and the
/// options to lower, checkpoints and logs left intact; a launch that succeeds on its retry
/// changes nothing. Also the buffer pool's bound and the trainer's signal handling.
final class DeviceFailureTests: CLITestCase {
    static let root = demoScratch("fault", trainCount: 3, testCount: 1, size: 36, seed: 6)

    func args(_ name: String, device: String = "cl:0:0") -> [String] {
        ["train", "--name", name, "--dataroot", Self.root + "/data", "--checkpoints_dir", Self.root + "/ck", "--load_size", "36",
         "--crop_size", "32", "--ngf", "4", "--ndf", "4", "--netG", "resnet_6blocks", "--device", device,
         "--n_epochs", "1", "--n_epochs_decay", "1", "--pool_size", "2", "--print_freq", "1", "--save_latest_freq", "2",
         "--serial_batches", "--no_flip"]
    }

    func files(_ name: String) throws -> [String: Data] {
        let dir = "\(Self.root)/ck/\(name)"
        var out: [String: Data] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) where f.hasSuffix(".safetensors") || f.hasPrefix("loss_log") {
            out[f] = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(f)"))
        }
        return out
    }

    func testFailedLaunchOrAllocationIsOneLineAndKeepsWhatWasWritten() throws {
        _ = try TestDevices.requireOpenCL()
        let first = try cyclegan(args("fault") + ["--stop_after", "2"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let saved = try files("fault")
        for (fault, call) in [("launch:400", "clEnqueueNDRangeKernel"), ("alloc:150", "clCreateBuffer")] {
            let r = try cyclegan(args("fault") + ["--continue_train"], environment: ["CYCLEGAN_FAULT": fault])
            assertOneLineError(r, contains: call)
            XCTAssertTrue(r.stderr.contains("--crop_size, --batch_size or --ngf"), r.stderr)
            // checkpoints unchanged; the logs only grew, by whole lines
            let now = try files("fault")
            for (f, data) in saved where f.hasSuffix(".safetensors") { XCTAssertEqual(now[f], data, "\(fault): \(f)") }
            for f in ["loss_log.txt", "loss_log.jsonl"] {
                XCTAssertTrue(now[f]!.starts(with: saved[f]!), f)
                XCTAssertEqual(now[f]!.last, UInt8(ascii: "\n"), f)
            }
        }
    }

    /// `test` on a failing device: one line, and no image written from results read after
    /// the failure.
    func testTranslationOnAFailingDeviceIsOneLine() throws {
        _ = try TestDevices.requireOpenCL()
        let trained = try cyclegan(args("totest") + ["--stop_after", "1"])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let results = Self.root + "/results-fault"
        let r = try cyclegan(["test", "--name", "totest", "--dataroot", Self.root + "/data", "--checkpoints_dir", Self.root + "/ck",
                              "--results_dir", results, "--device", "cl:0:0"], environment: ["CYCLEGAN_FAULT": "launch:30"])
        assertOneLineError(r, contains: "clEnqueueNDRangeKernel")
        XCTAssertFalse(FileManager.default.fileExists(atPath: results + "/totest/test_latest/images/0000_fake_B.png"))
    }

    /// A launch that fails once with CL_OUT_OF_RESOURCES is retried after the cache is freed
    /// and the run is bit-identical to one without the fault.
    func testLaunchRetriedOnceChangesNothing() throws {
        _ = try TestDevices.requireOpenCL()
        let clean = try cyclegan(args("clean") + ["--stop_after", "3"])
        XCTAssertEqual(clean.status, 0, clean.stderr)
        let retried = try cyclegan(args("retried") + ["--stop_after", "3"], environment: ["CYCLEGAN_FAULT": "launch:700:once"])
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertEqual(retried.stderr.components(separatedBy: "ran out of memory").count - 1, 1, retried.stderr)
        let a = try files("clean"), b = try files("retried")
        for (f, data) in a where f.hasSuffix(".safetensors") { XCTAssertEqual(b[f], data, f) }
    }

    /// Buffers of many sizes taken and released in turn: the cache keeps to its limit.
    func testBufferPoolIsBounded() throws {
        let backend = try TestDevices.requireOpenCL()
        let pool = backend.pool
        pool.releaseFree()
        let limit = pool.cacheLimit
        for i in 0..<24 {
            let b = backend.makeBuffer(count: (2 << 20) + 1024 * i)  // 8 MiB and a bit: 24 sizes, 190 MiB in all
            backend.fill(b, value: 1)
        }
        backend.synchronize()
        XCTAssertLessThanOrEqual(pool.cachedBytes, limit)
        XCTAssertGreaterThan(pool.cachedBytes, limit / 2)
        // a size used again is served from the cache
        let before = pool.allocations
        _ = backend.makeBuffer(count: (2 << 20) + 1024 * 23)
        XCTAssertEqual(pool.allocations, before)
        pool.releaseFree()
        XCTAssertEqual(pool.cachedBytes, 0)
    }

    /// Starts a long training run on the CPU reference; waits until its loss log holds
    /// `lines` lines. Returns the process and its stdout and stderr pipes.
    func startTraining(_ name: String, waitingFor lines: Int) throws -> (Process, out: Pipe, err: Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args(name, device: "cpu-ref") + ["--n_epochs", "50", "--save_latest_freq", "1000"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline, logLines(name).count < lines { usleep(20_000) }
        return (p, out, err)
    }

    func logLines(_ name: String) -> [Substring] {
        ((try? String(contentsOfFile: "\(Self.root)/ck/\(name)/loss_log.jsonl", encoding: .utf8)) ?? "").split(separator: "\n")
    }

    /// The bound costs a training loop nothing: once warm, a step allocates no buffer.
    func testWarmTrainingStepsAllocateNothing() throws {
        let backend = try TestDevices.requireOpenCL()
        var c = CycleGANConfig()
        c.ngf = 8; c.ndf = 8; c.nBlocks = 2; c.poolSize = 2
        let model = CycleGANModel(c, on: backend)
        let a = randomTensor([1, 3, 64, 64], seed: 1, on: backend)
        let b = randomTensor([1, 3, 64, 64], seed: 2, on: backend)
        for _ in 0..<4 { try model.step(realA: a, realB: b) }  // the pools fill after 2 steps
        let before = backend.bufferAllocations
        for _ in 0..<3 { try model.step(realA: a, realB: b) }
        XCTAssertEqual(backend.bufferAllocations, before, "allocations in warm steps")
    }

    /// SIGINT and SIGTERM finish the step, save `latest` as a complete set and say how to
    /// resume; every logged line is whole.
    func testSignalSavesLatestAndSaysHowToResume() throws {
        for sig in [SIGINT, SIGTERM] {
            let name = "signal\(sig)"
            let (p, out, err) = try startTraining(name, waitingFor: 2)
            kill(p.processIdentifier, sig)
            _ = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 128 + sig, stderr)
            XCTAssertTrue(stderr.contains("stopped by \(StopRequest.name(sig))") && stderr.contains("--continue_train"), stderr)
            XCTAssertTrue(CheckpointStore(directory: "\(Self.root)/ck/\(name)").isComplete("latest"))
            for line in logLines(name) { XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8))) }
        }
    }

    /// `kill -9` loses no logged line: each is written before the next step starts.
    func testLogLinesSurviveKill() throws {
        let (p, out, _) = try startTraining("killed", waitingFor: 3)
        kill(p.processIdentifier, SIGKILL)
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let printedLosses = printed.split(separator: "\n").filter { $0.hasPrefix("(epoch:") }
        let jsonl = logLines("killed")
        let txt = try String(contentsOfFile: "\(Self.root)/ck/killed/loss_log.txt", encoding: .utf8).split(separator: "\n")
            .filter { $0.hasPrefix("(epoch:") }
        // every loss line printed before the kill is in both logs, whole
        XCTAssertGreaterThanOrEqual(printedLosses.count, 3)
        XCTAssertGreaterThanOrEqual(jsonl.count, printedLosses.count)
        XCTAssertEqual(Array(txt.prefix(printedLosses.count)), printedLosses)
        for line in jsonl { XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8))) }
    }
}
