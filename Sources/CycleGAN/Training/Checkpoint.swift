import Foundation

/// Where training stands, saved beside the network weights so that a resumed run is the
/// uninterrupted one: epoch and iteration counters, the learning rate, both Adam states,
/// the image pools and the random streams (the pools', each network's dropout stream).
public struct TrainProgress: Equatable, Sendable {
    /// The epoch in progress (1-based, as the official `epoch`).
    public var epoch: Int
    /// Images of that epoch already trained on.
    public var epochIter: Int
    /// Images since the run began.
    public var totalIters: Int
    public var lr: Double

    public init(epoch: Int, epochIter: Int, totalIters: Int, lr: Double) {
        self.epoch = epoch; self.epochIter = epochIter; self.totalIters = totalIters; self.lr = lr
    }
}

/// A checkpoint set under `<checkpoints_dir>/<name>/`: `<label>_net_<network>.safetensors`
/// (CycleGAN: G_A, G_B, D_A, D_B; pix2pix: G, D) with the official key names, and
/// `<label>_train_state.safetensors`. Every file carries the same `step_id` in its metadata;
/// the train state is renamed into place last, so a set whose files disagree was
/// interrupted while saving.
public struct CheckpointStore {
    public let directory: String
    /// The networks of a set (the model's `networks` names).
    public let networkNames: [String]
    /// CycleGAN's networks, the default.
    public static let cycleGANNetworkNames = ["G_A", "G_B", "D_A", "D_B"]

    public init(directory: String, networkNames: [String] = cycleGANNetworkNames) {
        self.directory = directory
        self.networkNames = networkNames
    }

    public func networkPath(_ label: String, _ net: String, ext: String = "safetensors") -> String {
        "\(directory)/\(label)_net_\(net).\(ext)"
    }
    public func trainStatePath(_ label: String) -> String { "\(directory)/\(label)_train_state.safetensors" }

    /// Each optimiser with its parameters in optimiser order, keyed "<net>/<state-dict key>":
    /// the names its state is saved and restored under.
    static func optimizerParameters(_ model: any GANModel) -> [(String, Adam, [(String, Tensor)])] {
        model.optimizers.map { name, opt, nets in
            (name, opt, nets.flatMap { net in net.1.namedParameters().map { ("\(net.0)/\($0.0)", $0.1) } })
        }
    }

    // MARK: saving

    /// The train state's layout: 1 stored Adam's steps as Float tensors; 2 stores them exactly,
    /// as integers in the metadata (`<optimizer>/<net>/<key>/step`). Later versions read
    /// earlier ones; a newer file than this build knows is refused by name.
    public static let trainStateFormatVersion = 2

    /// The largest image count, epoch and Adam step a train state may claim: far beyond
    /// any real run, far below where the counters' arithmetic could overflow.
    static let counterLimit = 1 << 40, epochLimit = 1 << 20

    /// Saves the four networks and the train state under `label` (atomically, file by file,
    /// the train state last). Everything is read back from the device first, and nothing is
    /// written if the device has failed. `beforeRename` lets tests simulate a crash.
    /// `extra` (the other ranks' pools in a data-parallel run) is added to the train state.
    public func save(_ model: any GANModel, progress: TrainProgress, label: String, extra: SafeTensorsFile = SafeTensorsFile(),
                     beforeRename: ((String) throws -> Void)? = nil) throws {
        let stepId = "\(progress.totalIters)"
        // the step's cached scratch is not needed while the host copies below exist
        model.backend.releaseCachedMemory()
        var state = trainState(model, progress: progress, stepId: stepId)
        state.tensors.merge(extra.tensors) { $1 }
        state.metadata.merge(extra.metadata) { $1 }
        let files = model.networks.map { (name, net) in
            (networkPath(label, name), SafeTensorsFile(tensors: net.stateDict(), metadata: ["step_id": stepId, "format": "pt"]))
        } + [(trainStatePath(label), state)]
        try model.backend.throwIfFailed()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (path, file) in files {
            try file.write(to: path, beforeRename: beforeRename.map { f in { try f(path) } })
        }
    }

    func trainState(_ model: any GANModel, progress: TrainProgress, stepId: String) -> SafeTensorsFile {
        var t: [String: HostTensor] = [:]
        var meta: [String: String] = [:]
        for (optName, opt, params) in Self.optimizerParameters(model) {
            for (i, (key, _)) in params.enumerated() {
                meta["\(optName)/\(key)/step"] = "\(opt.steps[i])"
                if let m = opt.expAvg[i], let v = opt.expAvgSq[i] {
                    t["\(optName)/\(key)/exp_avg"] = m.toHost()
                    t["\(optName)/\(key)/exp_avg_sq"] = v.toHost()
                }
            }
        }
        for (poolName, pool, _) in model.pools {
            for (i, image) in pool.images.enumerated() { t["\(poolName)/\(i)"] = image.toHost() }
            meta["\(poolName)_count"] = "\(pool.images.count)"
        }
        for (name, mode) in model.modes { meta["dropout_random_state_\(name)"] = "\(mode.dropoutRandom.state)" }
        if let scaler = model.lossScaler {
            meta["loss_scale"] = "\(scaler.scale)"
            meta["loss_scale_growth_tracker"] = "\(scaler.growthTracker)"
        }
        meta.merge([
            "format_version": "\(Self.trainStateFormatVersion)",
            "kernel_config": model.backend.kernelConfiguration,
            "step_id": stepId, "epoch": "\(progress.epoch)", "epoch_iter": "\(progress.epochIter)",
            "total_iters": "\(progress.totalIters)", "lr": "\(progress.lr)",
            "pool_random_state": "\(model.poolRandom.state)", "seed": "\(model.config.seed)",
        ]) { $1 }
        return SafeTensorsFile(tensors: t, metadata: meta)
    }

    // MARK: loading

    /// Network weights of `label`: the safetensors file, else an official `.pth` (read
    /// natively). Running statistics at instance-norm positions are dropped, as the official
    /// loader does (batch norms load theirs); `num_batches_tracked` is always dropped.
    public func loadNetwork(_ net: Module, name: String, label: String) throws -> String? {
        let (dict, source, stepId) = try readNetwork(name: name, label: label)
        try loadChecked(net, dict, source: source)
        return stepId
    }

    /// The state dict of network `name` in set `label` (safetensors, else .pth), the file
    /// it came from and its step id.
    func readNetwork(name: String, label: String) throws -> (dict: [String: HostTensor], source: String, stepId: String?) {
        let st = networkPath(label, name)
        if FileManager.default.fileExists(atPath: st) {
            let file = try SafeTensorsFile(contentsOf: st)
            return (file.tensors, st, file.metadata["step_id"])
        }
        let pth = networkPath(label, name, ext: "pth")
        if FileManager.default.fileExists(atPath: pth) { return (try PyTorchCheckpoint.load(pth), pth, nil) }
        throw FileError.cannotRead(st, "no such file (nor \((pth as NSString).lastPathComponent))")
    }

    private func loadChecked(_ net: Module, _ dict: [String: HostTensor], source: String, apply: Bool = true) throws {
        // batch norm's running statistics: finite, and the variance ≥ 0 (1/√(var + eps) must exist)
        for (key, _) in net.namedBuffers() {
            let isVariance = key.hasSuffix("running_var")
            if let values = dict[key]?.values, let bad = values.firstIndex(where: { !($0.isFinite && (!isVariance || $0 >= 0)) }) {
                throw FileError.malformed(source, "\(printable(key))[\(bad)] is \(values[bad]) (expected a finite "
                    + (isVariance ? "variance ≥ 0)" : "value)"))
            }
        }
        do {
            try net.loadStateDict(dict, ignoring: { key in
                key.hasSuffix(".running_mean") || key.hasSuffix(".running_var") || key.hasSuffix(".num_batches_tracked")
            }, apply: apply)
        } catch var e as StateDictError {
            e.source = source
            throw e
        }
    }

    /// The step id of each file of a set, nil where a file is missing or has none.
    func stepIds(_ label: String) -> [String?] {
        (networkNames.map { networkPath(label, $0) } + [trainStatePath(label)]).map { path in
            guard FileManager.default.fileExists(atPath: path), let f = try? SafeTensorsFile(contentsOf: path) else { return nil }
            return f.metadata["step_id"]
        }
    }

    /// Whether all files of `label` (each network's and the train state) exist and carry the same step id.
    public func isComplete(_ label: String) -> Bool {
        let ids = stepIds(label)
        return ids.allSatisfy { $0 != nil } && Set(ids.compactMap { $0 }).count == 1
    }

    /// Labels present in the directory (from `*_train_state.safetensors`), newest step first.
    public func completeLabels() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let labels = files.filter { $0.hasSuffix("_train_state.safetensors") }.map { String($0.dropLast("_train_state.safetensors".count)) }
        // each set's step ids read once (a comparator would parse five files per comparison)
        let steps = labels.map { ($0, stepIds($0)) }.filter { $0.1.allSatisfy { $0 != nil } && Set($0.1).count == 1 }
        return steps.sorted { Int($0.1.last! ?? "") ?? 0 > Int($1.1.last! ?? "") ?? 0 }.map { $0.0 }
    }

    /// Restores model weights, optimiser states, pools and the random streams from a complete
    /// set, and returns where training stood. Every value is checked before it is used; an
    /// error names the file, the key and what was expected. Nothing of the model changes
    /// unless the whole set is valid.
    public func restore(_ model: any GANModel, label: String) throws -> TrainProgress {
        let path = trainStatePath(label)
        let state = try TrainStateReader(file: try SafeTensorsFile(contentsOf: path), path: path)
        let version = try state.integer("format_version", in: 1...Int.max, default: 1)
        guard version <= Self.trainStateFormatVersion else {
            throw FileError.malformed(path, "train state format_version \(version) is newer than this build reads "
                + "(\(Self.trainStateFormatVersion)); use a newer cyclegan")
        }

        // Adam: per parameter, an exact step count, and both moments of the parameter's shape.
        var adam: [(Adam, Int, step: Int, m: HostTensor?, v: HostTensor?)] = []
        for (optName, opt, params) in Self.optimizerParameters(model) {
            for (i, (key, p)) in params.enumerated() {
                let name = "\(optName)/\(key)"
                let step = version >= 2 ? try state.integer("\(name)/step", in: 0...Self.counterLimit)
                                        : try state.floatCounter("\(name)/step", limit: Self.counterLimit)
                let m = try state.tensor("\(name)/exp_avg", shape: p.shape, optional: true)
                let v = try state.tensor("\(name)/exp_avg_sq", shape: p.shape, optional: true)
                guard (m == nil) == (v == nil) else {
                    throw FileError.malformed(path, "\(name): exp_avg and exp_avg_sq must be saved together")
                }
                guard (m == nil) == (step == 0) else {
                    throw FileError.malformed(path, "\(name)/step is \(step) with\(m == nil ? "out" : "") moments "
                        + "(expected a positive step with moments, 0 without)")
                }
                if let v, let bad = v.values.firstIndex(where: { $0 < 0 }) {
                    throw FileError.malformed(path, "\(name)/exp_avg_sq[\(bad)] is \(v.values[bad]) (expected ≥ 0)")
                }
                adam.append((opt, i, step, m, v))
            }
        }

        let (pools, poolState) = try Self.readPools(state, model: model, prefix: "")
        // each network's dropout stream (absent in train states written before dropout existed)
        var dropoutStates: [(NetworkMode, UInt64)] = []
        for (name, mode) in model.modes {
            let key = "dropout_random_state_\(name)"
            guard let text = state.file.metadata[key] else { continue }
            guard let v = UInt64(text) else { throw FileError.malformed(path, "\(key) is not an unsigned 64-bit integer") }
            dropoutStates.append((mode, v))
        }
        // the loss scale of --precision mixed (absent when the set was trained in another precision: a fresh scale)
        var scale: (Float, Int)? = nil
        if model.lossScaler != nil, let text = state.file.metadata["loss_scale"] {
            guard let s = Float(text), s.isFinite, s > 0 else {
                throw FileError.malformed(path, "loss_scale is \"\(text)\" (expected a finite number > 0)")
            }
            scale = (s, try state.integer("loss_scale_growth_tracker", in: 0...(LossScaler.growthInterval - 1)))
        }
        let epoch = try state.integer("epoch", in: 1...Self.epochLimit)
        let total = try state.integer("total_iters", in: 0...Self.counterLimit)
        let epochIter = try state.integer("epoch_iter", in: 0...total)
        guard let lr = Double(try state.string("lr")), lr.isFinite, lr >= 0 else {
            throw FileError.malformed(path, "lr is \(state.file.metadata["lr"] ?? "") (expected a finite number ≥ 0)")
        }

        // The four networks read and checked before any changes either.
        var weights: [(Module, [String: HostTensor])] = []
        for (name, net) in model.networks {
            let (dict, source, _) = try readNetwork(name: name, label: label)
            try loadChecked(net, dict, source: source, apply: false)
            weights.append((net, dict))
        }

        // All valid: now change the model.
        for (net, dict) in weights { try loadChecked(net, dict, source: "", apply: true) }
        for (opt, i, step, m, v) in adam {
            opt.restore(index: i, step: step, expAvg: m.map { Tensor(shape: $0.shape, values: $0.values, on: model.backend) },
                        expAvgSq: v.map { Tensor(shape: $0.shape, values: $0.values, on: model.backend) })
        }
        for (pool, images) in pools {
            pool.restore(images.map { poolImage($0, model) })
        }
        model.poolRandom.state = poolState
        for (mode, v) in dropoutStates { mode.dropoutRandom.state = v }
        if let (s, tracker) = scale { model.lossScaler?.restore(scale: s, growthTracker: tracker) }
        model.setLearningRate(lr)
        return TrainProgress(epoch: epoch, epochIter: epochIter, totalIters: total, lr: lr)
    }
}

extension CheckpointStore {
    /// Pools: at most pool_size images each, all [1, c, h, w] of one shape, c the channels
    /// of the domain the pool holds fakes of; and the pools' stream. Keys under `prefix`
    /// (`rank<r>/` for another rank's in a data-parallel run).
    static func readPools(_ state: TrainStateReader, model: any GANModel,
                          prefix: String) throws -> (pools: [(ImagePool, [HostTensor])], stream: UInt64) {
        var pools: [(ImagePool, [HostTensor])] = []
        for (name, pool, channels) in model.pools {
            let poolName = prefix + name
            let n = try state.integer("\(poolName)_count", in: 0...pool.size)
            var images: [HostTensor] = []
            for i in 0..<n {
                let h = try state.tensor("\(poolName)/\(i)", shape: nil)!
                guard h.shape.count == 4, h.shape[0] == 1, h.shape[1] == channels, h.shape[2] >= 1, h.shape[3] >= 1,
                      h.shape == images.first?.shape ?? h.shape else {
                    throw FileError.malformed(state.path, "\(poolName)/\(i) has shape \(h.shape) (expected [1, \(channels), h, w]"
                        + (images.first.map { ", as \(poolName)/0: \($0.shape)" } ?? "") + ")")
                }
                images.append(h)
            }
            pools.append((pool, images))
        }
        guard let stream = UInt64(try state.string(prefix + "pool_random_state")) else {
            throw FileError.malformed(state.path, "\(prefix)pool_random_state is not an unsigned 64-bit integer")
        }
        return (pools, stream)
    }

    /// This rank's pools and pool stream, as the train state keeps them (what rank 0 gathers).
    static func rankState(_ model: any GANModel) -> SafeTensorsFile {
        var f = SafeTensorsFile()
        for (name, pool, _) in model.pools {
            for (i, image) in pool.images.enumerated() { f.tensors["\(name)/\(i)"] = image.toHost() }
            f.metadata["\(name)_count"] = "\(pool.images.count)"
        }
        f.metadata["pool_random_state"] = "\(model.poolRandom.state)"
        return f
    }

    /// After `restore` on every rank of a data-parallel run: rank r > 0 takes its own pools
    /// and stream (`rank<r>/…`) when the set was saved by as many ranks; with another rank
    /// count, says so (on rank 0): pools are re-dealt (rank r takes saved rank r's, or starts
    /// empty) and each rank's data positions are re-derived from the images trained.
    func restoreRankState(_ model: any GANModel, label: String, rank: Int, size: Int, say: (String) -> Void) throws {
        let path = trainStatePath(label)
        guard FileManager.default.fileExists(atPath: path) else { return }  // weights only: nothing per rank
        let state = TrainStateReader(file: try SafeTensorsFile(contentsOf: path), path: path)
        let saved = try state.integer("world_size", in: 1...Int(Int32.max), default: 1)
        if saved != size {
            say("note: checkpoint '\(label)' was trained on \(saved) rank(s), now \(size): image pools are re-dealt (rank r takes "
                + "saved rank r's, or starts empty) and each rank's place in the epoch is re-derived from the images trained, "
                + "so the run is not the uninterrupted one")
        }
        guard rank > 0 else { return }
        if rank < saved {
            let (pools, stream) = try Self.readPools(state, model: model, prefix: "rank\(rank)/")
            for (pool, images) in pools { pool.restore(images.map { poolImage($0, model) }) }
            model.poolRandom.state = stream
        } else {
            for (_, pool, _) in model.pools { pool.restore([]) }
            model.poolRandom.state = CPUBackend.mix64(CPUBackend.mix64(model.config.seed, 0x9001), UInt64(rank))
        }
    }
}

/// A saved pool image on the model's device, in its activations' element type (FP16 under
/// `--precision mixed`, where the pools hold the generators' FP16 outputs).
func poolImage(_ h: HostTensor, _ model: any GANModel) -> Tensor {
    let t = Tensor(empty: h.shape, on: model.backend, dtype: model.backend.precision.activationType)
    model.backend.upload(h.values, to: t.buffer)
    return t
}

/// Checked reads of a train state's metadata and tensors; errors name the file and key.
struct TrainStateReader {
    let file: SafeTensorsFile
    let path: String

    func string(_ key: String) throws -> String {
        guard let v = file.metadata[key] else { throw FileError.malformed(path, "train state has no \(key)") }
        return v
    }

    /// An integer metadata value within `range` (or `default` when absent, if given).
    func integer(_ key: String, in range: ClosedRange<Int>, default fallback: Int? = nil) throws -> Int {
        if file.metadata[key] == nil, let fallback { return fallback }
        let text = try string(key)
        guard let v = Int(text), range.contains(v) else {
            let upper = range.upperBound == Int.max ? "" : " and ≤ \(range.upperBound)"
            throw FileError.malformed(path, "\(key) is \"\(text)\" (expected an integer ≥ \(range.lowerBound)\(upper))")
        }
        return v
    }

    /// A counter format 1 saved as a one-element Float tensor: finite, whole, 0...limit.
    func floatCounter(_ key: String, limit: Int) throws -> Int {
        guard let t = file.tensors[key] else { throw FileError.malformed(path, "train state has no \(key)") }
        guard t.values.count == 1, let f = t.values.first, f.isFinite, f >= 0, f <= Float(limit), f == f.rounded() else {
            throw FileError.malformed(path, "\(key) is \(t.values.prefix(4)) of shape \(t.shape) (expected one whole number from 0 to \(limit))")
        }
        return Int(f)
    }

    /// The tensor under `key`, of `shape` when given, with finite values; nil when absent
    /// and `optional`.
    func tensor(_ key: String, shape: [Int]?, optional: Bool = false) throws -> HostTensor? {
        guard let t = file.tensors[key] else {
            if optional { return nil }
            throw FileError.malformed(path, "train state has no \(key)")
        }
        if let shape, t.shape != shape {
            throw FileError.malformed(path, "\(key): expected shape \(shape), found \(t.shape)")
        }
        if let bad = t.values.firstIndex(where: { !$0.isFinite }) {
            throw FileError.malformed(path, "\(key)[\(bad)] is \(t.values[bad]) (expected finite values)")
        }
        return t
    }
}
