import XCTest
@testable import CycleGAN

/// The train state read by `--continue_train`: every hostile value ends in one `error:`
/// line naming the file and key (through the binary), the format version is honoured both
/// ways, and counters round-trip exactly.
final class TrainStateTests: CLITestCase {
    static let root = demoScratch("state", trainCount: 2, testCount: 1, size: 36, seed: 5)

    func args(_ name: String) -> [String] {
        ["train", "--name", name, "--dataroot", Self.root + "/data", "--checkpoints_dir", Self.root + "/ck", "--load_size", "36",
         "--crop_size", "32", "--ngf", "4", "--ndf", "4", "--netG", "resnet_6blocks", "--device", "cpu-ref",
         "--n_epochs", "1", "--n_epochs_decay", "1", "--pool_size", "2", "--print_freq", "1"]
    }

    /// A run stopped after 2 images; returns the path of its train state.
    func stoppedRun(_ name: String) throws -> String {
        let r = try cyclegan(args(name) + ["--stop_after", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return "\(Self.root)/ck/\(name)/latest_train_state.safetensors"
    }

    /// Rewrites the train state at `path` through `edit`, keeping its step id.
    func edit(_ path: String, _ edit: (inout SafeTensorsFile) -> Void) throws {
        var f = try SafeTensorsFile(contentsOf: path)
        edit(&f)
        try f.write(to: path)
    }

    /// A train state in format 1: no format_version, Adam's steps as Float tensors.
    func downgrade(_ f: inout SafeTensorsFile, step: (Int) -> HostTensor = { HostTensor(shape: [], values: [Float($0)]) }) {
        f.metadata["format_version"] = nil
        for (k, v) in f.metadata where k.hasSuffix("/step") {
            f.tensors[k] = step(Int(v)!)
            f.metadata[k] = nil
        }
    }

    func testHostileTrainStatesAreOneLineErrors() throws {
        let path = try stoppedRun("base")
        let pristine = try Data(contentsOf: URL(fileURLWithPath: path))
        let stepKey = "optimizer_G/G_A/model.1.weight/step"
        let cases: [(String, (inout SafeTensorsFile) -> Void, String)] = [
            ("step NaN (format 1)", { self.downgrade(&$0) { _ in HostTensor(shape: [], values: [.nan]) } }, "/step"),
            ("step 1e30 (format 1)", { self.downgrade(&$0) { _ in HostTensor(shape: [], values: [1e30]) } }, "/step"),
            ("step empty (format 1)", { self.downgrade(&$0) { _ in HostTensor(shape: [0], values: []) } }, "/step"),
            ("step negative", { $0.metadata[stepKey] = "-3" }, stepKey),
            ("step not an integer", { $0.metadata[stepKey] = "1e30" }, stepKey),
            ("step 0 with moments", { $0.metadata[stepKey] = "0" }, stepKey),
            ("negative pool count", { $0.metadata["pool_A_count"] = "-1" }, "pool_A_count"),
            ("pool count above pool_size", { $0.metadata["pool_B_count"] = "3" }, "pool_B_count"),
            ("pool image of the wrong shape", { $0.tensors["pool_A/0"] = HostTensor(shape: [1, 2, 4, 4], values: Array(repeating: 0, count: 32)) },
             "pool_A/0"),
            ("pool image NaN", { $0.tensors["pool_B/0"]!.values[5] = .nan }, "pool_B/0"),
            ("moments NaN", { $0.tensors["optimizer_D/D_A/model.0.weight/exp_avg"]!.values[0] = .nan }, "optimizer_D/D_A/model.0.weight/exp_avg"),
            ("moments of the wrong shape", { $0.tensors["optimizer_D/D_A/model.0.bias/exp_avg_sq"] = HostTensor(shape: [1], values: [0]) },
             "optimizer_D/D_A/model.0.bias/exp_avg_sq"),
            ("negative second moment", { $0.tensors["optimizer_D/D_A/model.0.bias/exp_avg_sq"]!.values[0] = -1 }, "exp_avg_sq"),
            ("total_iters at Int.max", { $0.metadata["total_iters"] = "\(Int.max)" }, "total_iters"),
            ("epoch at Int.min", { $0.metadata["epoch"] = "\(Int.min)" }, "epoch"),
            ("epoch_iter past total_iters", { $0.metadata["epoch_iter"] = "99" }, "epoch_iter"),
            ("lr NaN", { $0.metadata["lr"] = "nan" }, "lr"),
            ("lr negative", { $0.metadata["lr"] = "-0.1" }, "lr"),
            ("pool stream not a number", { $0.metadata["pool_random_state"] = "-5" }, "pool_random_state"),
            ("a newer format", { $0.metadata["format_version"] = "3" }, "format_version 3"),
            ("dropout stream not a number", { $0.metadata["dropout_random_state_G_A"] = "x" }, "dropout_random_state_G_A"),
            ("rank count 0", { $0.metadata["world_size"] = "0" }, "world_size"),
            ("rank count not a number", { $0.metadata["world_size"] = "two" }, "world_size"),
        ]
        for (what, change, expected) in cases {
            try pristine.write(to: URL(fileURLWithPath: path))
            try edit(path, change)
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let r = try cyclegan(args("base") + ["--continue_train"])
            assertOneLineError(r, contains: expected)
            XCTAssertTrue(r.stderr.contains("latest_train_state.safetensors"), "\(what): \(r.stderr)")
            // nothing was overwritten
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, what)
        }
        // pools of images the networks cannot take, in a mode without a fixed crop
        try pristine.write(to: URL(fileURLWithPath: path))
        try edit(path) { f in
            for pool in ["pool_A", "pool_B"] { f.tensors["\(pool)/0"] = HostTensor(shape: [1, 3, 1, 1], values: [0, 0, 0]) }
            f.metadata["pool_A_count"] = "1"; f.metadata["pool_B_count"] = "1"
            for k in Array(f.tensors.keys) where k.hasPrefix("pool_") && !k.hasSuffix("/0") { f.tensors[k] = nil }
        }
        assertOneLineError(try cyclegan(args("base") + ["--continue_train", "--preprocess", "none"]), contains: "pool_A holds 1x1 images")

        // the pristine state still resumes
        try pristine.write(to: URL(fileURLWithPath: path))
        let ok = try cyclegan(args("base") + ["--continue_train", "--stop_after", "3"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    /// A format-1 train state (steps as Float tensors) resumes to exactly what format 2 does.
    func testFormatOneResumesLikeFormatTwo() throws {
        _ = try stoppedRun("v2")
        try? FileManager.default.removeItem(atPath: "\(Self.root)/ck/v1")
        try FileManager.default.copyItem(atPath: "\(Self.root)/ck/v2", toPath: "\(Self.root)/ck/v1")
        try edit("\(Self.root)/ck/v1/latest_train_state.safetensors") { self.downgrade(&$0) }
        for name in ["v1", "v2"] {
            let r = try cyclegan(args(name) + ["--continue_train", "--stop_after", "4"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        for net in CheckpointStore.cycleGANNetworkNames {
            XCTAssertEqual(try SafeTensorsFile(contentsOf: "\(Self.root)/ck/v1/latest_net_\(net).safetensors").tensors,
                           try SafeTensorsFile(contentsOf: "\(Self.root)/ck/v2/latest_net_\(net).safetensors").tensors, net)
        }
    }

    /// Adam's step counts are stored exactly, beyond Float's 2^24.
    func testAdamStepsRoundTripExactly() throws {
        var c = CycleGANConfig()
        c.ngf = 2; c.ndf = 2; c.nBlocks = 1; c.poolSize = 1
        let model = CycleGANModel(c, on: CPUBackend())
        let store = CheckpointStore(directory: Self.root + "/exact")
        let p = model.optimizerG.params[0]
        let step = (1 << 24) + 1
        model.optimizerG.restore(index: 0, step: step, expAvg: Tensor(filled: 0, shape: p.shape, on: model.backend),
                                 expAvgSq: Tensor(filled: 0, shape: p.shape, on: model.backend))
        try store.save(model, progress: TrainProgress(epoch: 1, epochIter: 0, totalIters: 0, lr: 1e-4), label: "x")
        let again = CycleGANModel(c, on: CPUBackend())
        _ = try store.restore(again, label: "x")
        XCTAssertEqual(again.optimizerG.steps[0], step)
    }
}
