import XCTest
@testable import CycleGAN

/// Data-parallel training under Open MPI's real `mpirun` (scripts/test.sh builds the MPI
/// shim beside the binary; scripts/setup.sh installs Open MPI): 2 ranks × batch 1 against
/// 1 process × batch 2 on one host and on two hosts (network namespaces, TCP), a rank that
/// fails or is killed, and a resume afterwards.
final class DistributedTests: CLITestCase {
    static let mpirun = "/usr/bin/mpirun"
    static let shim = (binary as NSString).deletingLastPathComponent + "/libcyclegan_mpi.so"
    static let data = demoScratch("mpi-data", trainCount: 4, testCount: 1, size: 36, seed: 9) + "/data"

    func requireMPI() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.mpirun) else {
            throw XCTSkip("Open MPI is not installed (scripts/setup.sh installs openmpi-bin and libopenmpi-dev)")
        }
        guard FileManager.default.fileExists(atPath: Self.shim) else {
            XCTFail("\(Self.shim) is not built: run scripts/build-mpi-shim.sh (scripts/test.sh does)")
            throw XCTSkip("no MPI shim")
        }
    }

    /// A tiny CycleGAN: 32×32 crops, ngf/ndf 4, 6 blocks, serial batches, no pool, 3 steps of 2 images.
    func trainArgs(_ dir: String, _ name: String, batch: Int, stopAfter: Int = 6, extra: [String] = []) -> [String] {
        ["train", "--dataroot", Self.data, "--name", name, "--checkpoints_dir", dir, "--load_size", "36", "--crop_size", "32",
         "--ngf", "4", "--ndf", "4", "--netG", "resnet_6blocks", "--n_epochs", "50", "--n_epochs_decay", "0",
         "--batch_size", "\(batch)", "--pool_size", "0", "--serial_batches", "--stop_after", "\(stopAfter)",
         "--print_freq", "2", "--save_latest_freq", "100", "--no_html"] + extra
    }

    func mpi(_ ranks: Int, _ args: [String], timeout: TimeInterval = 600, started: ((Process) -> Void)? = nil) throws -> Result {
        try run(Self.mpirun, ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", "-x", "CYCLEGAN_CHECK_RANKS=1",
                              "-x", "CYCLEGAN_TUNE_CACHE=0", Self.binary] + args, timeout: timeout, started: started)
    }

    /// Every weight of run `a` within 1e-4 (relative, per tensor) of run `b`'s, but the
    /// biases of convs that feed an instance norm (their gradients are zero up to rounding).
    func assertSameWeights(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var compared = 0
        for net in CheckpointStore.cycleGANNetworkNames {
            let x = try SafeTensorsFile(contentsOf: "\(a)/latest_net_\(net).safetensors").tensors
            let y = try SafeTensorsFile(contentsOf: "\(b)/latest_net_\(net).safetensors").tensors
            XCTAssertEqual(Set(x.keys), Set(y.keys), file: file, line: line)
            for (key, t) in x where !PyTorchFixture.feedsInstanceNorm(net, key, nBlocks: 6) {
                let e = relativeError(t.values, y[key]!.values)
                XCTAssertLessThanOrEqual(e, 1e-4, "\(net) \(key)", file: file, line: line)
                compared += 1
            }
        }
        XCTAssertEqual(compared, 2 * 19 + 2 * 7, file: file, line: line)  // G: 36 keys, 17 IN-fed biases; D: 10 and 3
    }

    func testTwoRanksMatchOneRankWithTheWholeBatch() throws {
        try requireMPI()
        let dir = tempDir("mpi-one-host")
        let one = try cyclegan(trainArgs(dir, "one", batch: 2))
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try mpi(2, trainArgs(dir, "two", batch: 1))
        XCTAssertEqual(two.status, 0, two.stdout + two.stderr)
        XCTAssertTrue(two.stdout.contains("data parallel over 2 ranks"), two.stdout)
        XCTAssertTrue(two.stdout.contains("ranks held bit-identical weights after each of 3 steps"), two.stdout)
        XCTAssertTrue(two.stderr.contains("rank 1 of 2 on device:"), two.stderr)
        // the logs hold the ranks' mean losses, written once
        let log = try String(contentsOfFile: "\(dir)/two/loss_log.txt", encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").filter { $0.hasPrefix("(epoch:") }.count, 3, log)
        XCTAssertEqual(try SafeTensorsFile(contentsOf: "\(dir)/two/latest_train_state.safetensors").metadata["world_size"], "2")
        try assertSameWeights("\(dir)/one", "\(dir)/two")
    }

    /// With pools (each rank's own, gathered into the train state by rank 0) and shuffled
    /// data: 8 images straight, or 4, a resume on as many ranks, and 4 more, give the same
    /// weights bit for bit.
    func testResumeOnAsManyRanksIsExact() throws {
        try requireMPI()
        let dir = tempDir("mpi-resume")
        func args(_ name: String, _ stop: Int, _ extra: [String] = []) -> [String] {
            // the tiny run with a pool of 2 and shuffled batches
            var a = trainArgs(dir, name, batch: 1, stopAfter: stop, extra: extra)
            a.removeAll { $0 == "--serial_batches" }
            a[a.firstIndex(of: "--pool_size")! + 1] = "2"
            return a
        }
        let straight = try mpi(2, args("straight", 8))
        XCTAssertEqual(straight.status, 0, straight.stderr)
        XCTAssertEqual(try mpi(2, args("split", 4)).status, 0)
        let state = try SafeTensorsFile(contentsOf: "\(dir)/split/latest_train_state.safetensors")
        XCTAssertEqual(state.metadata["world_size"], "2")
        XCTAssertNotNil(state.metadata["rank1/pool_random_state"])
        XCTAssertEqual(state.metadata["rank1/pool_A_count"], "2")
        let resumed = try mpi(2, args("split", 8, ["--continue_train"]))
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertFalse(resumed.stdout.contains("note: checkpoint"), resumed.stdout)
        for net in CheckpointStore.cycleGANNetworkNames {
            XCTAssertEqual(try SafeTensorsFile(contentsOf: "\(dir)/straight/latest_net_\(net).safetensors").tensors,
                           try SafeTensorsFile(contentsOf: "\(dir)/split/latest_net_\(net).safetensors").tensors, net)
        }
    }

    /// pix2pix (a U-Net with batch norm and dropout) on 2 ranks: each rank normalises its own
    /// batch, the running statistics are rank 0's after every step, the weights bit-identical.
    func testPix2PixWithBatchNormTrainsOnTwoRanks() throws {
        try requireMPI()
        let dir = tempDir("mpi-pix2pix")
        let r = try mpi(2, ["train", "--model", "pix2pix", "--dataroot", Pix2PixTests.pairs, "--name", "p", "--checkpoints_dir", dir,
                            "--netG", "unet_128", "--ngf", "4", "--ndf", "4", "--load_size", "132", "--crop_size", "128",
                            "--stop_after", "4", "--print_freq", "2", "--no_html"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("ranks held bit-identical weights after each of 2 steps"), r.stdout)
        XCTAssertTrue(try SafeTensorsFile(contentsOf: "\(dir)/p/latest_net_D.safetensors").tensors.keys.contains("model.3.running_var"))
    }

    /// Two hosts for real on one machine: a network namespace per rank, a veth pair, Open MPI
    /// over TCP (scripts/mpi-two-hosts.sh), the same equality.
    func testTwoHostsOverTCPMatchOneRank() throws {
        try requireMPI()
        guard getuid() == 0 else { throw XCTSkip("network namespaces need root") }
        let dir = tempDir("mpi-two-hosts")
        let one = try cyclegan(trainArgs(dir, "one", batch: 2))
        XCTAssertEqual(one.status, 0, one.stderr)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/mpi-two-hosts.sh").path
        let two = try run("/bin/bash", [script, Self.binary] + trainArgs(dir, "two", batch: 1),
                          environment: ["CYCLEGAN_CHECK_RANKS": "1", "CYCLEGAN_TUNE_CACHE": "0"], timeout: 600)
        XCTAssertEqual(two.status, 0, two.stdout + two.stderr)
        XCTAssertTrue(two.stdout.contains("ranks held bit-identical weights after each of 3 steps"), two.stdout + two.stderr)
        try assertSameWeights("\(dir)/one", "\(dir)/two")
        // the namespaces are gone
        let ns = try run("/usr/sbin/ip", ["netns", "list"])
        XCTAssertFalse(ns.stdout.contains("cgA") || ns.stdout.contains("cgB"), ns.stdout)
    }

    /// A rank that raises an error ends the job at once, with one line naming it.
    func testARankErrorEndsEveryRank() throws {
        try requireMPI()
        let dir = tempDir("mpi-error")
        let start = Date()
        let r = try mpi(2, trainArgs(dir, "err", batch: 1, extra: ["--device", "cl:0:0,gpu:7"]), timeout: 120)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 60)
        XCTAssertTrue(r.stderr.contains("error: rank 1 of 2: no OpenCL device matches \"--device gpu:7\""), r.stderr)
        // test is one process's job: under mpirun it says so instead of writing the same files twice
        let t = try mpi(2, ["test", "--dataroot", Self.data, "--name", "none", "--checkpoints_dir", dir], timeout: 120)
        XCTAssertNotEqual(t.status, 0)
        XCTAssertTrue(t.stderr.contains("error: test translates in one process: run it without mpirun"), t.stderr)
    }

    /// A rank killed mid-run: mpirun ends the other within 60 s and names the rank; the last
    /// complete checkpoint set resumes (here in one process, which says the rank count changed).
    func testAKilledRankEndsTheJobAndTheRunResumes() throws {
        try requireMPI()
        let dir = tempDir("mpi-kill")
        let args = trainArgs(dir, "fault", batch: 1, stopAfter: 100_000, extra: ["--save_latest_freq", "4"])
        let state = "\(dir)/fault/latest_train_state.safetensors"
        nonisolated(unsafe) var killedAt: Date? = nil
        let r = try mpi(2, args, timeout: 300, started: { mpirun in
            // once a set is saved, kill -9 one rank (a child of mpirun running the binary)
            DispatchQueue.global().async {
                while mpirun.isRunning && !FileManager.default.fileExists(atPath: state) { usleep(100_000) }
                usleep(500_000)
                let ps = (try? self.run("/usr/bin/pgrep", ["-P", "\(mpirun.processIdentifier)", "-f", "cyclegan"])) ?? Result(status: 1, stdout: "", stderr: "")
                if let pid = ps.stdout.split(separator: "\n").compactMap({ Int32($0) }).max() {
                    killedAt = Date()
                    kill(pid, SIGKILL)
                }
            }
        })
        let ended = Date()
        XCTAssertNotNil(killedAt, "no rank was killed")
        XCTAssertNotEqual(r.status, 0)
        if let k = killedAt { XCTAssertLessThan(ended.timeIntervalSince(k), 60) }
        XCTAssertTrue(r.stderr.contains("rank") && (r.stderr.contains("signal 9") || r.stderr.contains("Killed")), r.stderr)
        // the last complete set resumes
        let resumed = try cyclegan(trainArgs(dir, "fault", batch: 1, stopAfter: 12, extra: ["--continue_train", "--save_latest_freq", "4"]))
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming from checkpoint"), resumed.stdout)
        XCTAssertTrue(resumed.stdout.contains("was trained on 2 rank(s), now 1"), resumed.stdout)
    }
}
