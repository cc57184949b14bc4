/// A network or layer with named parameters, PyTorch style.
public protocol Module: AnyObject {
    /// Every parameter with its state-dict key (`model.10.conv_block.5.weight`, …), in
    /// registration order.
    func namedParameters() -> [(String, Tensor)]
    /// State that is saved and loaded but not trained (batch norm's running statistics), by
    /// state-dict key.
    func namedBuffers() -> [(String, Tensor)]
}

/// A mismatch between a state dict and a model: every problem, by key.
public struct StateDictError: Error, CustomStringConvertible {
    public var missing: [String] = []
    public var unexpected: [String] = []
    public var misshaped: [(key: String, expected: [Int], found: [Int])] = []
    public var source = ""

    public var description: String {
        // at most 8 keys of each kind, each made printable (keys come from the file)
        func list(_ keys: [String]) -> String {
            keys.prefix(8).map(printable).joined(separator: ", ") + (keys.count > 8 ? " and \(keys.count - 8) more" : "")
        }
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing keys: " + list(missing)) }
        if !unexpected.isEmpty { parts.append("unexpected keys: " + list(unexpected)) }
        for m in misshaped.prefix(8) { parts.append("\(printable(m.key)): expected shape \(m.expected), found \(m.found)") }
        if misshaped.count > 8 { parts.append("\(misshaped.count - 8) more keys of other shapes") }
        return (source.isEmpty ? "" : "\(source): ") + "state dict does not match the model (" + parts.joined(separator: "; ") + ")"
    }
}

extension Module {
    public func namedBuffers() -> [(String, Tensor)] { [] }

    public func parameters() -> [Tensor] { namedParameters().map { $0.1 } }

    /// Clears every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
    public func zeroGrad() { for p in parameters() { p.grad = nil } }

    /// Freezes or unfreezes every parameter (gradients still flow to the inputs).
    public func setRequiresGrad(_ flag: Bool) { for p in parameters() { p.requiresGrad = flag } }

    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// The weights and buffers by official key name, copied to the host.
    public func stateDict() -> [String: HostTensor] {
        var d: [String: HostTensor] = [:]
        for (k, p) in namedParameters() + namedBuffers() { d[k] = p.toHost() }
        return d
    }

    /// Loads weights and buffers by key. Unknown keys `ignoring` accepts (e.g. running
    /// statistics at instance-norm positions) are skipped;
    /// any other missing, unexpected or mis-shaped key is reported, all at once, and
    /// nothing is loaded.
    /// With `apply` false, only checks that the dict matches (what a caller does for several
    /// modules before changing any).
    public func loadStateDict(_ dict: [String: HostTensor], ignoring: (String) -> Bool = { _ in false }, apply: Bool = true) throws {
        let params = namedParameters() + namedBuffers()
        var err = StateDictError()
        let known = Set(params.map { $0.0 })
        for (k, p) in params {
            guard let t = dict[k] else { err.missing.append(k); continue }
            if t.shape != p.shape { err.misshaped.append((k, p.shape, t.shape)) }
        }
        err.unexpected = dict.keys.filter { !known.contains($0) && !ignoring($0) }.sorted()
        if !err.missing.isEmpty || !err.unexpected.isEmpty || !err.misshaped.isEmpty { throw err }
        guard apply else { return }
        for (k, p) in params { p.backend.upload(dict[k]!.values, to: p.buffer) }
    }
}
