/// Conv2d with optional reflect padding folded into the conv (the official networks'
/// `ReflectionPad2d(p)` + `Conv2d(padding=0)` pair is one of these).
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int
    public let paddingMode: Conv2dGeometry.Padding

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                paddingMode: Conv2dGeometry.Padding = .zeros, bias: Bool = true, on backend: Backend) {
        (weight, self.bias) = makeParameters([outChannels, inChannels, kernelSize, kernelSize],
                                             bias: bias ? outChannels : nil, on: backend)
        self.stride = stride; self.padding = padding; self.paddingMode = paddingMode
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight, bias: bias, stride: stride, padding: padding, paddingMode: paddingMode)
    }

    public func namedParameters() -> [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}

/// ConvTranspose2d, weight [in, out, k, k] as in PyTorch.
public final class ConvTranspose2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int, outputPadding: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                outputPadding: Int = 0, bias: Bool = true, on backend: Backend) {
        (weight, self.bias) = makeParameters([inChannels, outChannels, kernelSize, kernelSize],
                                             bias: bias ? outChannels : nil, on: backend)
        self.stride = stride; self.padding = padding; self.outputPadding = outputPadding
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.convTranspose2d(weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding)
    }

    public func namedParameters() -> [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}

/// A zero weight of `shape` and an optional zero bias of `bias` elements, both trainable
/// (initialisation fills them: `initWeights`).
func makeParameters(_ shape: [Int], bias: Int?, on backend: Backend) -> (Tensor, Tensor?) {
    let w = Tensor(filled: 0, shape: shape, on: backend)
    w.requiresGrad = true
    let b = bias.map { Tensor(filled: 0, shape: [$0], on: backend) }
    b?.requiresGrad = true
    return (w, b)
}

/// Prefixes child parameter names: ("weight", w) under "model.1" → ("model.1.weight", w).
func prefixed(_ prefix: String, _ m: Module) -> [(String, Tensor)] {
    m.namedParameters().map { ("\(prefix).\($0.0)", $0.1) }
}

/// Prefixes child buffer names, as `prefixed` does parameter names.
func prefixedBuffers(_ prefix: String, _ m: Module) -> [(String, Tensor)] {
    m.namedBuffers().map { ("\(prefix).\($0.0)", $0.1) }
}
