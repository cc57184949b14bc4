import Foundation

/// Where training stands, saved beside the network weights so that a resumed run is the
/// uninterrupted one: epoch and iteration counters, the learning rate, both Adam states,
/// both image pools and the pools' random stream.
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

/// A checkpoint set under `<checkpoints_dir>/<name>/`: `<label>_net_{G_A,G_B,D_A,D_B}.safetensors`
/// with the official key names, and `<label>_train_state.safetensors`. Every file carries
/// the same `step_id` in its metadata; the train state is renamed into place last, so a
/// set whose files disagree was interrupted while saving.
public struct CheckpointStore {
    public let directory: String
    public init(directory: String) { self.directory = directory }

    public static let networkNames = ["G_A", "G_B", "D_A", "D_B"]

    public func networkPath(_ label: String, _ net: String, ext: String = "safetensors") -> String {
        "\(directory)/\(label)_net_\(net).\(ext)"
    }
    public func trainStatePath(_ label: String) -> String { "\(directory)/\(label)_train_state.safetensors" }

    /// Each optimiser with its parameters in optimiser order, keyed "<net>/<state-dict key>":
    /// the names its state is saved and restored under.
    static func optimizerParameters(_ model: CycleGANModel) -> [(String, Adam, [(String, Tensor)])] {
        func keyed(_ nets: [(String, Module)]) -> [(String, Tensor)] {
            nets.flatMap { net in net.1.namedParameters().map { ("\(net.0)/\($0.0)", $0.1) } }
        }
        return [("optimizer_G", model.optimizerG, keyed([("G_A", model.netG_A), ("G_B", model.netG_B)])),
                ("optimizer_D", model.optimizerD, keyed([("D_A", model.netD_A), ("D_B", model.netD_B)]))]
    }

    // MARK: saving

    /// Saves the four networks and the train state under `label` (atomically, file by file,
    /// the train state last). `beforeRename` lets tests simulate a crash.
    public func save(_ model: CycleGANModel, progress: TrainProgress, label: String,
                     beforeRename: ((String) throws -> Void)? = nil) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let stepId = "\(progress.totalIters)"
        for (name, net) in model.networks {
            let file = SafeTensorsFile(tensors: net.stateDict(), metadata: ["step_id": stepId, "format": "pt"])
            let path = networkPath(label, name)
            try file.write(to: path, beforeRename: beforeRename.map { f in { try f(path) } })
        }
        let path = trainStatePath(label)
        try trainState(model, progress: progress, stepId: stepId)
            .write(to: path, beforeRename: beforeRename.map { f in { try f(path) } })
    }

    func trainState(_ model: CycleGANModel, progress: TrainProgress, stepId: String) -> SafeTensorsFile {
        var t: [String: HostTensor] = [:]
        for (optName, opt, params) in Self.optimizerParameters(model) {
            for (i, (key, _)) in params.enumerated() {
                t["\(optName)/\(key)/step"] = HostTensor(shape: [], values: [Float(opt.steps[i])])
                if let m = opt.expAvg[i], let v = opt.expAvgSq[i] {
                    t["\(optName)/\(key)/exp_avg"] = m.toHost()
                    t["\(optName)/\(key)/exp_avg_sq"] = v.toHost()
                }
            }
        }
        for (poolName, pool) in [("pool_A", model.poolA), ("pool_B", model.poolB)] {
            for (i, image) in pool.images.enumerated() { t["\(poolName)/\(i)"] = image.toHost() }
        }
        let meta: [String: String] = [
            "step_id": stepId, "epoch": "\(progress.epoch)", "epoch_iter": "\(progress.epochIter)",
            "total_iters": "\(progress.totalIters)", "lr": "\(progress.lr)",
            "pool_random_state": "\(model.poolRandom.state)", "seed": "\(model.config.seed)",
            "pool_A_count": "\(model.poolA.images.count)", "pool_B_count": "\(model.poolB.images.count)",
        ]
        return SafeTensorsFile(tensors: t, metadata: meta)
    }

    // MARK: loading

    /// Network weights of `label`: the safetensors file, else an official `.pth` (read
    /// natively). Instance-norm running statistics are dropped, as the official loader does.
    public func loadNetwork(_ net: Module, name: String, label: String) throws -> String? {
        let st = networkPath(label, name)
        if FileManager.default.fileExists(atPath: st) {
            let file = try SafeTensorsFile(contentsOf: st)
            try loadChecked(net, file.tensors, source: st)
            return file.metadata["step_id"]
        }
        let pth = networkPath(label, name, ext: "pth")
        if FileManager.default.fileExists(atPath: pth) {
            try loadChecked(net, try PyTorchCheckpoint.load(pth), source: pth)
            return nil
        }
        throw FileError.cannotRead(st, "no such file (nor \((pth as NSString).lastPathComponent))")
    }

    private func loadChecked(_ net: Module, _ dict: [String: HostTensor], source: String) throws {
        do {
            try net.loadStateDict(dict) { key in
                key.hasSuffix(".running_mean") || key.hasSuffix(".running_var") || key.hasSuffix(".num_batches_tracked")
            }
        } catch var e as StateDictError {
            e.source = source
            throw e
        }
    }

    /// The step id of each file of a set, nil where a file is missing or has none.
    func stepIds(_ label: String) -> [String?] {
        (Self.networkNames.map { networkPath(label, $0) } + [trainStatePath(label)]).map { path in
            guard FileManager.default.fileExists(atPath: path), let f = try? SafeTensorsFile(contentsOf: path) else { return nil }
            return f.metadata["step_id"]
        }
    }

    /// Whether all five files of `label` exist and carry the same step id.
    public func isComplete(_ label: String) -> Bool {
        let ids = stepIds(label)
        return ids.allSatisfy { $0 != nil } && Set(ids.compactMap { $0 }).count == 1
    }

    /// Labels present in the directory (from `*_train_state.safetensors`), newest step first.
    public func completeLabels() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let labels = files.filter { $0.hasSuffix("_train_state.safetensors") }.map { String($0.dropLast("_train_state.safetensors".count)) }
        return labels.filter { isComplete($0) }.sorted { Int(stepIds($0)[4] ?? "") ?? 0 > Int(stepIds($1)[4] ?? "") ?? 0 }
    }

    /// Restores model weights, optimiser states, pools and the pool stream from a complete
    /// set, and returns where training stood.
    public func restore(_ model: CycleGANModel, label: String) throws -> TrainProgress {
        for (name, net) in model.networks { _ = try loadNetwork(net, name: name, label: label) }
        let path = trainStatePath(label)
        let state = try SafeTensorsFile(contentsOf: path)
        func meta(_ k: String) throws -> String {
            guard let v = state.metadata[k] else { throw FileError.malformed(path, "train state has no \(k)") }
            return v
        }
        for (optName, opt, params) in Self.optimizerParameters(model) {
            for (i, (key, p)) in params.enumerated() {
                guard let step = state.tensors["\(optName)/\(key)/step"] else {
                    throw FileError.malformed(path, "train state has no \(optName)/\(key)/step")
                }
                var m: Tensor? = nil, v: Tensor? = nil
                if let mh = state.tensors["\(optName)/\(key)/exp_avg"], let vh = state.tensors["\(optName)/\(key)/exp_avg_sq"] {
                    guard mh.shape == p.shape, vh.shape == p.shape else {
                        throw FileError.malformed(path, "\(optName)/\(key): moments of shape \(mh.shape), parameter \(p.shape)")
                    }
                    m = Tensor(shape: mh.shape, values: mh.values, on: model.backend)
                    v = Tensor(shape: vh.shape, values: vh.values, on: model.backend)
                }
                opt.restore(index: i, step: Int(step.values[0]), expAvg: m, expAvgSq: v)
            }
        }
        for (poolName, pool) in [("pool_A", model.poolA), ("pool_B", model.poolB)] {
            let n = Int(try meta("\(poolName)_count")) ?? 0
            pool.restore(try (0..<n).map { i in
                guard let h = state.tensors["\(poolName)/\(i)"] else { throw FileError.malformed(path, "train state has no \(poolName)/\(i)") }
                return Tensor(shape: h.shape, values: h.values, on: model.backend)
            })
        }
        guard let poolState = UInt64(try meta("pool_random_state")), let epoch = Int(try meta("epoch")),
              let epochIter = Int(try meta("epoch_iter")), let total = Int(try meta("total_iters")), let lr = Double(try meta("lr"))
        else { throw FileError.malformed(path, "train state metadata is not numeric") }
        model.poolRandom.state = poolState
        model.setLearningRate(lr)
        return TrainProgress(epoch: epoch, epochIter: epochIter, totalIters: total, lr: lr)
    }
}
