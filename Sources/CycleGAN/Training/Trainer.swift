import Foundation

/// A training run that stopped: on a non-finite loss, or a data error.
public struct TrainingError: Error, CustomStringConvertible {
    public var description: String
}

/// `cyclegan train`: the official training loop (epochs, logging, display, checkpoint
/// frequencies, linear LR decay stepped at each epoch's end) for CycleGAN or pix2pix, with
/// our additions: a seed, a full train state for exact resume, atomic checkpoints, JSON
/// logs, a stop on NaN.
public final class Trainer {
    public let options: TrainOptions
    public let backend: Backend
    public let model: any GANModel
    public let dataset: any TrainingDataset
    public let store: CheckpointStore
    public let runDirectory: String
    public private(set) var progress: TrainProgress
    /// The signal (SIGINT or SIGTERM) that stopped `run()` early, after saving `latest`.
    public private(set) var interruptedBy: Int32? = nil
    /// The data-parallel run (nil: one process). Only rank 0 writes (checkpoints, logs, page).
    public let distributed: Distributed?
    /// The logs and the page (rank 0 only).
    let report: RunReport?
    /// Console output (stdout lines).
    var say: (String) -> Void
    /// Whether stderr is a terminal (then a progress bar is drawn there).
    let interactive: Bool

    /// Where the built-in demo's images are generated for run `name`.
    public static func demoDataroot(checkpointsDir: String, name: String) -> String {
        "\(checkpointsDir)/\(name)/demo_data"
    }

    /// The model `options` train.
    public static func makeModel(_ options: TrainOptions, on backend: Backend) -> any GANModel {
        options.model == "pix2pix" ? Pix2PixModel(options.modelConfig, on: backend) : CycleGANModel(options.modelConfig, on: backend)
    }

    public init(options: TrainOptions, backend: Backend, distributed: Distributed? = nil,
                say: @escaping (String) -> Void = { print($0) }) throws {
        try options.validate()
        self.options = options
        self.backend = backend
        self.distributed = distributed
        let isRoot = distributed?.isRoot ?? true
        self.say = isRoot ? say : { _ in }
        let say = self.say
        interactive = isRoot && isatty(2) == 1
        runDirectory = "\(options.checkpointsDir)/\(options.name)"

        var dataroot = options.dataroot ?? ""
        if options.demo {
            dataroot = Self.demoDataroot(checkpointsDir: options.checkpointsDir, name: options.name)
            if !isRoot {
                // rank 0 writes the demo data; the others read it once it is there
            } else if options.datasetMode == "aligned" {
                if !DemoData.isCompletePairs(dataroot) {
                    say("generating the built-in demo pairs (each landscape by day beside it by night) in \(dataroot)")
                    try DemoData.writePairs(to: dataroot)
                }
            } else if !DemoData.isComplete(dataroot) {
                say("generating the built-in demo dataset (day and night landscapes) in \(dataroot)")
                try DemoData.write(to: dataroot)
            }
        }
        if options.demo { try distributed?.barrier() }
        dataset = options.datasetMode == "aligned" ? try AlignedDataset(training: options, dataroot: dataroot)
                                                   : try UnalignedDataset(training: options, dataroot: dataroot)
        if let d = distributed, dataset.count < d.size {
            throw TrainingError(description: "the dataset has \(dataset.count) items, fewer than the \(d.size) ranks: each rank needs at least one")
        }
        // The run folder is made only once the data is known to be there.
        if isRoot { try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true) }
        model = Self.makeModel(options, on: backend)
        store = CheckpointStore(directory: runDirectory, networkNames: model.networks.map { $0.0 })
        if let d = distributed {
            model.distributed = d
            // each rank's pool draws its own numbers (rank 0 keeps the one-process stream)
            if d.rank > 0 { model.poolRandom = RandomStream(seed: CPUBackend.mix64(CPUBackend.mix64(options.seed, 0x9001), UInt64(d.rank))) }
            try d.checkIdentical(model.networks.flatMap { $0.1.namedParameters() + $0.1.namedBuffers() }, what: "initial weights")
        }
        var start = TrainProgress(epoch: options.epochCount, epochIter: 0, totalIters: 0, lr: options.lr)
        if options.continueTrain {
            let label: String
            (start, label) = try Self.resume(options: options, store: store, model: model, say: say)
            try store.restoreRankState(model, label: label, rank: distributed?.rank ?? 0, size: distributed?.size ?? 1, say: say)
            try Self.checkPools(model, options: options, path: store.trainStatePath(label))
            try distributed?.checkIdentical(model.networks.flatMap { $0.1.namedParameters() + $0.1.namedBuffers() }, what: "restored weights")
        }
        progress = start
        let resumed = options.continueTrain
        model.setLearningRate(progress.lr)
        if isRoot {
            try writeAtomically(Data(options.optionsText.utf8), to: runDirectory + "/train_opt.txt")
            try writeAtomically(options.optionsJSON, to: runDirectory + "/train_opt.json")
            report = try RunReport(runDirectory: runDirectory, name: options.name, lossNames: model.lossNames,
                                   writeHTML: !options.noHTML, resumed: resumed)
        } else {
            report = nil
        }
        say(options.optionsText)
        for (name, net) in model.networks {
            say(String(format: "[Network %@] Total number of parameters : %.3f M", name, Double(net.parameterCount) / 1e6))
        }
        say("The number of training images = \(dataset.count)")
        if let d = distributed {
            say("data parallel over \(d.size) ranks (\(d.localSize) on this host), batch \(options.batchSize) per rank: each round of "
                + "\(d.size * options.batchSize) images; the last \(dataset.count % d.size) of each epoch's order are dropped, on every rank")
        }
    }

    /// Restores from the checkpoint set `--epoch` names: a complete set with its train state
    /// resumes exactly; an incomplete set (interrupted while saving) falls back to the newest
    /// complete one; weights without a train state (official checkpoints) load with fresh
    /// optimiser state, as the official code does.
    private static func resume(options: TrainOptions, store: CheckpointStore, model: any GANModel,
                               say: (String) -> Void) throws -> (TrainProgress, label: String) {
        let label = options.epoch
        if store.isComplete(label) {
            let p = try store.restore(model, label: label)
            say("resuming from checkpoint '\(label)' (epoch \(p.epoch), \(p.epochIter) images into it, \(p.totalIters) in total)")
            noteKernelChange(store: store, label: label, model: model)
            return (p, label)
        }
        let stateExists = FileManager.default.fileExists(atPath: store.trainStatePath(label))
        if stateExists || store.completeLabels().contains(where: { $0 != label }) {
            guard let newest = store.completeLabels().first else {
                throw FileError.malformed(store.trainStatePath(label), "checkpoint set '\(label)' is incomplete and no complete set exists")
            }
            let p = try store.restore(model, label: newest)
            noteKernelChange(store: store, label: newest, model: model)
            say("note: checkpoint set '\(label)' is incomplete (interrupted while saving); resuming from '\(newest)' instead (epoch \(p.epoch), \(p.totalIters) images)")
            return (p, newest)
        }
        for (name, net) in model.networks { _ = try store.loadNetwork(net, name: name, label: label) }
        say("loaded weights '\(label)' without a train state: starting fresh optimiser state at epoch \(options.epochCount)")
        return (TrainProgress(epoch: options.epochCount, epochIter: 0, totalIters: 0, lr: options.lr), label)
    }

    /// Says once when the checkpoint was trained under another kernel configuration (device,
    /// GEMM tiling): the run continues exactly but for rounding.
    private static func noteKernelChange(store: CheckpointStore, label: String, model: any GANModel) {
        let now = model.backend.kernelConfiguration
        guard let then = (try? SafeTensorsFile(contentsOf: store.trainStatePath(label)))?.metadata["kernel_config"], then != now else { return }
        FileHandle.standardError.write(Data(("note: checkpoint '\(label)' was trained on \(then); now \(now): "
            + "the run continues, its results differing in rounding only\n").utf8))
    }

    /// With a fixed-size crop, the restored pools must hold images of that size: the
    /// discriminators see pool images beside new fakes (and batch them together).
    /// In every mode, the pools' images must be what the networks take (sides multiples of
    /// 4, at least the networks' minimum, within --max_pixels).
    private static func checkPools(_ model: any GANModel, options: TrainOptions, path: String) throws {
        let fixedCrop = [.resize_and_crop, .crop, .scale_width_and_crop].contains(options.preprocess)
        for (name, pool, _) in model.pools {
            guard let shape = pool.images.first?.shape else { continue }
            let (h, w) = (shape[2], shape[3])
            if fixedCrop && (h != options.cropSize || w != options.cropSize) {
                throw FileError.malformed(path, "\(name) holds \(w)x\(h) images but --crop_size is "
                    + "\(options.cropSize): resume with the run's --crop_size (\(h))")
            }
            let multiple = NetworkSize.multiple(netG: options.netG), minimum = options.minimumImageSide
            guard h % multiple == 0, w % multiple == 0, min(h, w) >= minimum, pixelCount(w, h) <= options.maxPixels else {
                throw FileError.malformed(path, "\(name) holds \(w)x\(h) images; the networks take sides that are multiples of "
                    + "\(multiple), at least \(minimum), within --max_pixels \(options.maxPixels)")
            }
        }
    }

    /// Saves `label`; in a data-parallel run every rank calls it: rank 0 gathers the
    /// others' pools and pool streams and alone writes.
    private func save(_ label: String) throws {
        var extra = SafeTensorsFile()
        if let d = distributed {
            let mine = CheckpointStore.rankState(model).serialized()
            if let parts = try d.gather([UInt8](mine)) {
                for (r, bytes) in parts.enumerated() where r > 0 {
                    let f = try SafeTensorsFile(data: Data(bytes), name: "rank \(r)'s pools")
                    for (k, t) in f.tensors { extra.tensors["rank\(r)/\(k)"] = t }
                    for (k, v) in f.metadata { extra.metadata["rank\(r)/\(k)"] = v }
                }
            }
            extra.metadata["world_size"] = "\(d.size)"
            guard d.isRoot else { return }
        }
        try store.save(model, progress: progress, label: label, extra: extra)
    }

    private func tensor(_ values: [Float], _ shape: [Int]) -> Tensor {
        Tensor(shape: shape, values: values, on: backend)
    }

    /// Trains to the last epoch (or `stop_after`); returns the final progress.
    @discardableResult
    public func run() throws -> TrainProgress {
        defer { report?.flush() }  // pending page writes finish, on an error too
        let world = distributed?.size ?? 1
        // $CYCLEGAN_CHECK_RANKS=1: after every step, check that the ranks hold bit-identical weights
        let checkRanks = distributed != nil && ProcessInfo.processInfo.environment["CYCLEGAN_CHECK_RANKS"] == "1"
        var rankChecks = 0
        defer { if checkRanks { say("ranks held bit-identical weights after each of \(rankChecks) steps") } }
        let o = options
        var lastSavedTotal = -1
        let runStart = Date()
        while progress.epoch <= o.lastEpoch {
            let epoch = progress.epoch
            let epochStart = Date()
            let loader = BatchLoader(dataset: dataset, batchSize: o.batchSize, epoch: epoch, seed: o.seed,
                                     startBatch: progress.epochIter / (o.batchSize * world),
                                     rank: distributed?.rank ?? 0, worldSize: world)
            defer { loader.stop() }
            while let batch = try loader.next() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                // images of this round over every rank (the counters and frequencies are global)
                let n = batch.shapeA[0] * world
                let realA = tensor(batch.a, batch.shapeA), realB = tensor(batch.b, batch.shapeB)
                var losses = try model.trainingStep(realA: o.direction == "AtoB" ? realA : realB,
                                                    realB: o.direction == "AtoB" ? realB : realA)
                var stopSignal: Int32? = StopRequest.pending
                if let d = distributed {
                    // batch norm's running statistics: rank 0's on every rank (each rank's batch moved its own)
                    try d.broadcast(model.networks.flatMap { $0.1.namedBuffers().map { $0.1 } })
                    // the logged losses are the ranks' mean; a signal any rank got stops them all at this step
                    var v = losses.values + [Float(stopSignal ?? 0)]
                    try d.allreduceSum(&v)
                    losses.values = v.dropLast().map { $0 / Float(world) }
                    if v.last! > 0 { stopSignal = stopSignal ?? SIGTERM }
                    if checkRanks {
                        try d.checkIdentical(model.networks.flatMap { $0.1.namedParameters() + $0.1.namedBuffers() },
                                             what: "weights after \(progress.totalIters + n) images")
                        rankChecks += 1
                    }
                }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                progress.totalIters += n
                progress.epochIter += n
                guard losses.isFinite else {
                    throw TrainingError(description: "a loss became non-finite at epoch \(epoch), image \(progress.epochIter) ("
                        + zip(losses.names, losses.values).map { "\($0) \($1)" }.joined(separator: ", ")
                        + "); stopping. The last good checkpoint in \(runDirectory) is kept; try a lower --lr")
                }
                if progress.totalIters % o.printFreq < n {
                    let line = RunReport.lossLine(epoch: epoch, iter: progress.epochIter, time: seconds / Double(n),
                                                  data: batch.waitSeconds, losses: losses)
                    // Logged before it is printed: a line on the console is already in both logs.
                    report?.logLosses(epoch: epoch, iter: progress.epochIter, totalIters: progress.totalIters,
                                     time: seconds / Double(n), data: batch.waitSeconds, lr: progress.lr, losses: losses)
                    if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                    say(line)
                }
                if report != nil, progress.totalIters % o.displayFreq < n, case let list = model.currentVisuals, !list.isEmpty {
                    let visuals = list.map { ($0.0, $0.1.image(0).toArray(), Array($0.1.shape.dropFirst())) }
                    try backend.throwIfFailed()
                    report?.display(epoch: epoch, totalIters: progress.totalIters, visuals: visuals)
                }
                if progress.totalIters % o.saveLatestFreq < n {
                    let label = o.saveByIter ? "iter_\(progress.totalIters)" : "latest"
                    say("saving the latest model (epoch \(epoch), total_iters \(progress.totalIters))")
                    try save(label)
                    lastSavedTotal = progress.totalIters
                }
                if interactive {
                    drawProgress(epoch: epoch, done: progress.epochIter, total: dataset.count, since: epochStart)
                }
                if let stop = o.stopAfter, progress.totalIters >= stop {
                    if lastSavedTotal != progress.totalIters { try save("latest") }
                    report?.flush()
                    say("stopped after \(progress.totalIters) images (--stop_after); resume with --continue_train")
                    return progress
                }
                if let signal = stopSignal {
                    if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                    if lastSavedTotal != progress.totalIters { try save("latest") }
                    report?.flush()
                    interruptedBy = signal
                    return progress
                }
            }
            // End of epoch: step the learning rate, then save (the train state resumes at the next epoch).
            let oldLR = progress.lr
            progress.lr = o.schedule.rate(afterEpochs: epoch - o.epochCount + 1)
            model.setLearningRate(progress.lr)
            progress.epoch = epoch + 1
            progress.epochIter = 0
            if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            if epoch % o.saveEpochFreq == 0 || epoch == o.lastEpoch {
                say("saving the model at the end of epoch \(epoch), iters \(progress.totalIters)")
                try save("latest")
                try save("\(epoch)")
                lastSavedTotal = progress.totalIters
            }
            say(String(format: "learning rate %.7f -> %.7f", oldLR, progress.lr))
            say(String(format: "End of epoch %d / %d \t Time Taken: %d sec", epoch, o.lastEpoch, Int(Date().timeIntervalSince(epochStart))))
            if let s = model.lossScaler {
                say("loss scale \(s.scale) (--precision mixed): \(s.skippedSteps) optimiser steps skipped for an inf or NaN gradient so far")
            }
        }
        report?.flush()
        say(String(format: "training finished: %d images in %.0f s", progress.totalIters, Date().timeIntervalSince(runStart)))
        return progress
    }

    private func drawProgress(epoch: Int, done: Int, total: Int, since start: Date) {
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30, filled = total > 0 ? min(width, width * done / total) : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(format: "\r\u{1B}[Kepoch %d/%d [%@] %d/%d  %.2f img/s  ETA %d:%02d", epoch, options.lastEpoch, bar,
                          done, total, rate, Int(eta) / 60, Int(eta) % 60)
        FileHandle.standardError.write(Data(line.utf8))
    }
}
