/// An n-dimensional fp32 array on one backend's device (NCHW for images), with the
/// autograd fields of PyTorch's tensors: `requiresGrad`, `grad`, and the node that made it.
public final class Tensor {
    public let shape: [Int]
    public let buffer: Buffer
    public let backend: Backend
    /// For a leaf (a parameter or an input): whether backward accumulates into `grad`.
    public var requiresGrad: Bool
    /// The accumulated gradient of a leaf, nil after `zeroGrad()` (PyTorch's set_to_none).
    public var grad: Tensor?
    /// The op that produced this tensor, recorded while grad mode is on.
    var node: Node?

    /// A tensor over an existing buffer.
    public init(shape: [Int], buffer: Buffer, backend: Backend, requiresGrad: Bool = false) {
        precondition(shape.reduce(1, *) == buffer.count, "shape \(shape) does not match a buffer of \(buffer.count)")
        self.shape = shape
        self.buffer = buffer
        self.backend = backend
        self.requiresGrad = requiresGrad
    }

    /// A new tensor with unspecified contents.
    public convenience init(empty shape: [Int], on backend: Backend) {
        self.init(shape: shape, buffer: backend.makeBuffer(count: shape.reduce(1, *)), backend: backend)
    }

    /// A tensor holding `values`.
    public convenience init(shape: [Int], values: [Float], on backend: Backend, requiresGrad: Bool = false) {
        let b = backend.makeBuffer(count: values.count)
        backend.upload(values, to: b)
        self.init(shape: shape, buffer: b, backend: backend, requiresGrad: requiresGrad)
    }

    /// A tensor filled with `value`.
    public convenience init(filled value: Float, shape: [Int], on backend: Backend) {
        self.init(empty: shape, on: backend)
        backend.fill(buffer, value: value)
    }

    public var count: Int { buffer.count }

    /// Whether gradients flow to or through this tensor.
    var needsGrad: Bool { requiresGrad || node != nil }

    /// The values, read back to the host.
    public func toArray() -> [Float] { backend.download(buffer) }

    /// The single value of a one-element tensor, read back to the host.
    public func item() -> Float {
        precondition(count == 1, "item() of a tensor of \(count) elements")
        return toArray()[0]
    }

    /// The same data without a history: gradients stop here.
    public func detach() -> Tensor { Tensor(shape: shape, buffer: buffer, backend: backend) }

    /// A copy of the data in a new buffer, without history.
    public func clone() -> Tensor {
        let t = Tensor(empty: shape, on: backend)
        backend.copy(buffer, srcOffset: 0, to: t.buffer, dstOffset: 0, count: count)
        return t
    }

    /// The host copy, for checkpoints.
    public func toHost() -> HostTensor { HostTensor(shape: shape, values: toArray()) }
}
