import Foundation

/// torch.optim.Adam without weight decay or amsgrad: one fused in-place kernel per
/// parameter. Parameters whose grad is nil are skipped, as in PyTorch.
public final class Adam {
    public let params: [Tensor]
    public var lr: Double
    public let beta1: Double, beta2: Double, eps: Double
    /// Moments per parameter, created at the first step that parameter takes.
    public private(set) var expAvg: [Tensor?]
    public private(set) var expAvgSq: [Tensor?]
    /// Steps taken per parameter (PyTorch keeps one per parameter).
    public private(set) var steps: [Int]

    public init(_ params: [Tensor], lr: Double = 2e-4, betas: (Double, Double) = (0.5, 0.999), eps: Double = 1e-8) {
        self.params = params
        self.lr = lr
        beta1 = betas.0; beta2 = betas.1; self.eps = eps
        expAvg = Array(repeating: nil, count: params.count)
        expAvgSq = Array(repeating: nil, count: params.count)
        steps = Array(repeating: 0, count: params.count)
    }

    public func zeroGrad() { for p in params { p.grad = nil } }

    public func step() {
        LayerScope.run("adam step") {
            for (i, p) in params.enumerated() {
                guard let g = p.grad else { continue }
                if expAvg[i] == nil {
                    expAvg[i] = Tensor(filled: 0, shape: p.shape, on: p.backend)
                    expAvgSq[i] = Tensor(filled: 0, shape: p.shape, on: p.backend)
                }
                steps[i] += 1
                p.backend.adamStep(param: p.buffer, grad: g.buffer, m: expAvg[i]!.buffer, v: expAvgSq[i]!.buffer,
                                   count: p.count, AdamScalars(lr: lr, beta1: beta1, beta2: beta2, eps: eps, step: steps[i]))
            }
        }
    }

    /// Replaces the state of parameter i (restoring a train state).
    public func restore(index i: Int, step: Int, expAvg m: Tensor?, expAvgSq v: Tensor?) {
        steps[i] = step; expAvg[i] = m; expAvgSq[i] = v
    }
}
