import XCTest
@testable import CycleGAN

/// Training runs through the library: checkpoints and their key names, exact resume,
/// atomic saves, logs and the web page. On the CPU reference (bit-reproducible).
final class TrainingRunTests: XCTestCase {
    static let data = demoScratch("train-data", trainCount: 3, testCount: 2, size: 36, seed: 4) + "/data"

    /// A tiny configuration: 32×32 crops, ngf/ndf 4, 6 blocks, 2 epochs of 3 images.
    func options(_ dir: String) -> TrainOptions {
        var o = TrainOptions.tiny(dataroot: Self.data, checkpointsDir: dir, loadSize: 36)
        o.displayFreq = 2
        o.device = "cpu-ref"
        return o
    }

    func weights(_ dir: String, _ label: String) throws -> [String: HostTensor] {
        var all: [String: HostTensor] = [:]
        for net in CheckpointStore.cycleGANNetworkNames {
            for (k, v) in try SafeTensorsFile(contentsOf: "\(dir)/run/\(label)_net_\(net).safetensors").tensors { all["\(net)/\(k)"] = v }
        }
        return all
    }

    func testRunWritesOfficialFilesAndKeyNames() throws {
        let dir = tempDir("files")
        let t = try Trainer(options: options(dir), backend: CPUBackend(), say: { _ in })
        let p = try t.run()
        XCTAssertEqual(p.totalIters, 6)
        XCTAssertEqual(p.epoch, 3)
        let run = dir + "/run"
        for f in ["train_opt.txt", "train_opt.json", "loss_log.txt", "loss_log.jsonl", "web/index.html", "web/loss_plot.svg",
                  "1_net_G_A.safetensors", "2_net_D_B.safetensors", "latest_net_G_B.safetensors", "latest_train_state.safetensors",
                  "web/images/epoch001_real_A.png", "web/images/epoch002_idt_B.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(run)/\(f)"), f)
        }
        let g = try SafeTensorsFile(contentsOf: "\(run)/latest_net_G_A.safetensors")
        XCTAssertEqual(Set(g.tensors.keys), Set(ResnetGenerator(ngf: 4, nBlocks: 6, on: CPUBackend()).namedParameters().map { $0.0 }))
        XCTAssertTrue(g.tensors.keys.contains("model.10.conv_block.5.weight"))
        XCTAssertEqual(Set(try SafeTensorsFile(contentsOf: "\(run)/latest_net_D_A.safetensors").tensors.keys),
                       ["model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias", "model.5.weight", "model.5.bias",
                        "model.8.weight", "model.8.bias", "model.11.weight", "model.11.bias"])
        // official log format
        let log = try String(contentsOfFile: "\(run)/loss_log.txt", encoding: .utf8)
        XCTAssertTrue(log.hasPrefix("================ Training Loss ("), log)
        let line = log.split(separator: "\n").first { $0.hasPrefix("(epoch: 1, iters: 2,") }
        XCTAssertNotNil(line, log)
        XCTAssertTrue(line!.contains(" D_A: ") && line!.contains(" idt_B: "), String(line!))
        // one JSON object per logged iteration
        let jsonl = try String(contentsOfFile: "\(run)/loss_log.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(jsonl.count, 3)
        let obj = try JSONSerialization.jsonObject(with: Data(jsonl[0].utf8)) as! [String: Any]
        for k in ["epoch", "iter", "total_iters", "D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B", "lr", "time", "data"] {
            XCTAssertNotNil(obj[k], k)
        }
        // train_opt.txt marks non-default values
        let opt = try String(contentsOfFile: "\(run)/train_opt.txt", encoding: .utf8)
        XCTAssertTrue(opt.contains("                      ngf: 4                             \t[default: 64]"), opt)
        XCTAssertTrue(opt.contains("                     seed: 2017"), opt)
        // linear decay over the second epoch: 2e-4 · (1 − 1/2) after epoch 1, then 0
        XCTAssertEqual(p.lr, 0, accuracy: 1e-12)
    }

    /// Training N+M images with a stop after N gives bit-identical weights to N+M straight.
    func testResumedRunIsTheUninterruptedOne() throws {
        let straight = tempDir("straight"), split = tempDir("split")
        try Trainer(options: options(straight), backend: CPUBackend(), say: { _ in }).run()
        var first = options(split)
        first.stopAfter = 2  // mid-epoch: image 2 of 3
        XCTAssertEqual(try Trainer(options: first, backend: CPUBackend(), say: { _ in }).run().totalIters, 2)
        var second = options(split)
        second.continueTrain = true
        var said: [String] = []
        let p = try Trainer(options: second, backend: CPUBackend(), say: { said.append($0) }).run()
        XCTAssertEqual(p.totalIters, 6)
        XCTAssertTrue(said.contains { $0.contains("resuming from checkpoint 'latest'") }, said.joined(separator: "\n"))
        let a = try weights(straight, "latest"), b = try weights(split, "latest")
        XCTAssertEqual(a.count, b.count)
        for (k, v) in a { XCTAssertEqual(v.values, b[k]?.values, "\(k) differs after resume") }
        // and the train states agree too (Adam moments, pools, counters)
        let sa = try SafeTensorsFile(contentsOf: "\(straight)/run/latest_train_state.safetensors")
        let sb = try SafeTensorsFile(contentsOf: "\(split)/run/latest_train_state.safetensors")
        XCTAssertEqual(sa.tensors, sb.tensors)
        XCTAssertEqual(sa.metadata, sb.metadata)
    }

    struct Crash: Error {}

    /// A crash between writing and renaming any file of a save leaves a loadable set.
    func testInterruptedSaveKeepsTheLastCompleteCheckpoint() throws {
        let dir = tempDir("crash")
        var o = options(dir)
        o.stopAfter = 1
        let t = try Trainer(options: o, backend: CPUBackend(), say: { _ in })
        try t.run()
        let store = CheckpointStore(directory: dir + "/run")
        XCTAssertTrue(store.isComplete("latest"))
        let before = try weights(dir, "latest")
        try store.save(t.model, progress: t.progress, label: "1")
        // Crash before the first network file is renamed: 'latest' is untouched.
        XCTAssertThrowsError(try store.save(t.model, progress: TrainProgress(epoch: 9, epochIter: 0, totalIters: 99, lr: 1),
                                            label: "latest", beforeRename: { _ in throw Crash() }))
        XCTAssertTrue(store.isComplete("latest"))
        XCTAssertEqual(try weights(dir, "latest"), before)
        // Crash before the train state is renamed: the networks moved on, the state did not.
        initWeights((t.model as! CycleGANModel).netG_A, seed: 123)
        XCTAssertThrowsError(try store.save(t.model, progress: TrainProgress(epoch: 9, epochIter: 0, totalIters: 99, lr: 1),
                                            label: "latest", beforeRename: { path in if path.hasSuffix("train_state.safetensors") { throw Crash() } }))
        XCTAssertFalse(store.isComplete("latest"))
        XCTAssertTrue(store.isComplete("1"))
        // Resuming falls back to the newest complete set and says so.
        var resume = options(dir)
        resume.continueTrain = true
        var said: [String] = []
        let r = try Trainer(options: resume, backend: CPUBackend(), say: { said.append($0) })
        XCTAssertTrue(said.contains { $0.contains("incomplete") && $0.contains("'1'") }, said.joined(separator: "\n"))
        XCTAssertEqual(r.progress.totalIters, 1)
    }

    func testWeightsWithoutTrainStateLoadWithFreshOptimiserState() throws {
        let dir = tempDir("weights-only")
        var o = options(dir)
        o.stopAfter = 1
        try Trainer(options: o, backend: CPUBackend(), say: { _ in }).run()
        try FileManager.default.removeItem(atPath: dir + "/run/latest_train_state.safetensors")
        var resume = options(dir)
        resume.continueTrain = true
        resume.epochCount = 2
        var said: [String] = []
        let t = try Trainer(options: resume, backend: CPUBackend(), say: { said.append($0) })
        XCTAssertTrue(said.contains { $0.contains("without a train state") }, said.joined(separator: "\n"))
        XCTAssertEqual(t.progress.epoch, 2)
        XCTAssertEqual((t.model as! CycleGANModel).optimizerG.steps.first, 0)
        XCTAssertEqual((t.model as! CycleGANModel).netG_A.stateDict(), try SafeTensorsFile(contentsOf: dir + "/run/latest_net_G_A.safetensors").tensors)
    }

    func testNonFiniteLossStopsWithAClearMessage() throws {
        let dir = tempDir("nan")
        var o = options(dir)
        o.lr = 1e30  // the first Adam step blows the weights up
        let t = try Trainer(options: o, backend: CPUBackend(), say: { _ in })
        XCTAssertThrowsError(try t.run()) { e in
            XCTAssertTrue("\(e)".contains("non-finite"), "\(e)")
        }
    }

    func testOptionValidationNamesTheOption() {
        var o = options(tempDir("validate"))
        o.netG = "unet_512"
        XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0)".hasPrefix("--netG:"), "\($0)") }
        o = options(tempDir("validate"))
        o.cropSize = 20
        XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0)".hasPrefix("--crop_size:"), "\($0)") }
        o = options(tempDir("validate"))
        o.dataroot = "/nonexistent/data"
        XCTAssertThrowsError(try Trainer(options: o, backend: CPUBackend(), say: { _ in })) {
            XCTAssertTrue("\($0)".contains("/nonexistent/data/trainA"), "\($0)")
        }
    }
}
