/// Reverse-mode automatic differentiation. Each op run in grad mode on inputs that need
/// gradients records a `Node`: its inputs and a closure from the output's gradient to the
/// inputs' gradients, holding only what that backward needs. `backward()` walks the
/// nodes in reverse topological order and releases each node's saved tensors as soon as
/// it has run, so one network called several times keeps one set per call.
final class Node {
    var inputs: [Tensor]
    /// Given the gradient of the output, the gradient of each input (nil where an input
    /// needs none).
    var backward: ((Tensor) -> [Tensor?])?
    /// The forward op's `LayerScope` label, for its backward's kernels (nil unless enabled).
    let label: String?

    init(inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.inputs = inputs
        self.backward = backward
        label = LayerScope.enabled ? LayerScope.current?.label : nil
    }
}

/// Whether ops record their history (PyTorch's grad mode).
public enum GradMode {
    nonisolated(unsafe) static var enabled = true

    public static var isEnabled: Bool { enabled }
}

/// Runs `body` without recording history (PyTorch's `torch.no_grad()`), for inference.
public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
    let saved = GradMode.enabled
    GradMode.enabled = false
    defer { GradMode.enabled = saved }
    return try body()
}

extension Tensor {
    /// Wraps `output` as the result of an op on `inputs`: records the node when grad mode
    /// is on and some input needs a gradient. `backward` is only built in that case.
    static func record(_ output: Tensor, inputs: [Tensor], _ backward: () -> (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.enabled, inputs.contains(where: { $0.needsGrad }) else { return output }
        output.node = Node(inputs: inputs, backward: backward())
        return output
    }

    /// Backpropagates from this scalar (gradient 1) into every leaf that requires grad.
    /// `onLeafReady` is called with each leaf as soon as its gradient is final (no node left
    /// to run feeds it): data-parallel training starts averaging gradients from there.
    public func backward(onLeafReady: ((Tensor) -> Void)? = nil) {
        precondition(count == 1, "backward() needs a scalar; this tensor has shape \(shape)")
        backward(gradient: Tensor(filled: 1, shape: shape, on: backend), onLeafReady: onLeafReady)
    }

    /// Backpropagates `gradient` (same shape as this tensor).
    public func backward(gradient: Tensor, onLeafReady: ((Tensor) -> Void)? = nil) {
        // Reverse topological order by iterative depth-first search.
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            if !visited.insert(ObjectIdentifier(t)).inserted { continue }
            stack.append((t, true))
            for input in t.node?.inputs ?? [] where input.node != nil && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): gradient]
        if node == nil && requiresGrad { accumulate(into: self, gradient) }
        // for the hook: the leaves whose last consumer is the i-th node to run
        var finalAt: [Int: [Tensor]] = [:]
        if onLeafReady != nil {
            var last: [ObjectIdentifier: (Int, Tensor)] = [:]
            for (i, t) in order.reversed().enumerated() {
                for input in t.node?.inputs ?? [] where input.node == nil && input.requiresGrad { last[ObjectIdentifier(input)] = (i, input) }
            }
            for (i, leaf) in last.values { finalAt[i, default: []].append(leaf) }
        }
        for (i, t) in order.reversed().enumerated() {
            defer { for leaf in finalAt[i] ?? [] { onLeafReady?(leaf) } }
            guard let node = t.node, let fn = node.backward,
                  let g = grads.removeValue(forKey: ObjectIdentifier(t)) else { continue }
            let inputGrads = LayerScope.backward(node.label) { fn(g) }
            for (input, ig) in zip(node.inputs, inputGrads) {
                guard let ig, input.needsGrad else { continue }
                if input.node == nil {
                    accumulate(into: input, ig)
                } else if let existing = grads[ObjectIdentifier(input)] {
                    grads[ObjectIdentifier(input)] = existing.adding(ig)
                } else {
                    grads[ObjectIdentifier(input)] = ig
                }
            }
            // Free what this node saved; its history is spent.
            node.backward = nil
            node.inputs = []
            t.node = nil
        }
    }

    /// leaf.grad += g (allocating on first use).
    private func accumulate(into leaf: Tensor, _ g: Tensor) {
        guard leaf.requiresGrad else { return }
        if let existing = leaf.grad {
            backend.axpy(g.buffer, existing.buffer, alpha: 1, count: g.count)
        } else {
            leaf.grad = g.clone()
        }
    }

    /// a + b without history (used to sum gradients).
    func adding(_ other: Tensor) -> Tensor {
        let out = Tensor(empty: shape, on: backend, dtype: dtype)
        backend.addScaled(buffer, other.buffer, out: out.buffer, alpha: 1, beta: 1, count: count)
        return out
    }
}
