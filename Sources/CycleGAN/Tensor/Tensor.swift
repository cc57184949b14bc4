/// An n-dimensional array of FP32 (or, for activations under `--precision mixed`, FP16)
/// values on one backend's device (NCHW for images), with the
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
    public convenience init(empty shape: [Int], on backend: Backend, dtype: DType = .float32) {
        self.init(shape: shape, buffer: backend.makeBuffer(count: shape.reduce(1, *), dtype: dtype), backend: backend)
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
    /// The element type of the values.
    public var dtype: DType { buffer.dtype }

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
        let t = Tensor(empty: shape, on: backend, dtype: dtype)
        backend.copy(buffer, srcOffset: 0, to: t.buffer, dstOffset: 0, count: count)
        return t
    }

    /// The host copy, for checkpoints.
    public func toHost() -> HostTensor { HostTensor(shape: shape, values: toArray(), dtype: dtype) }

    /// The values converted to `dtype` (to FP16: rounded to nearest, ties to even), as a
    /// differentiable op whose gradient is converted back: autocast's casts. Self when the
    /// type is already `dtype`.
    public func to(_ dtype: DType) -> Tensor {
        guard dtype != self.dtype else { return self }
        return LayerScope.run("cast \(shapeText) to \(dtype.rawValue)") {
            let y = Tensor(empty: shape, on: backend, dtype: dtype)
            backend.cast(buffer, to: y.buffer, count: count)
            return Tensor.record(y, inputs: [self]) {
                let be = backend, shape = shape, from = self.dtype
                return { gy in
                    let gx = Tensor(empty: shape, on: be, dtype: from)
                    be.cast(gy.buffer, to: gx.buffer, count: gy.count)
                    return [gx]
                }
            }
        }
    }

    /// The tensors converted to their widest element type (FP32 if any is): PyTorch's type
    /// promotion, for ops on tensors of mixed types.
    static func promoted(_ tensors: [Tensor]) -> [Tensor] {
        guard Set(tensors.map(\.dtype)).count > 1 else { return tensors }
        return tensors.map { $0.to(.float32) }
    }
}
