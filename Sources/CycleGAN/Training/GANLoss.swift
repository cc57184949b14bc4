/// The adversarial loss on a discriminator's patch scores: `lsgan` (mean squared error
/// against 1 for real, 0 for fake) or `vanilla` (binary cross-entropy with logits).
public enum GANMode: String, CaseIterable, Sendable {
    case lsgan, vanilla
}

public struct GANLoss {
    public var mode: GANMode
    public init(_ mode: GANMode = .lsgan) { self.mode = mode }

    public func callAsFunction(_ prediction: Tensor, targetIsReal: Bool) -> Tensor {
        let target: Float = targetIsReal ? 1 : 0
        switch mode {
        case .lsgan: return prediction.mseLoss(target: target)
        case .vanilla: return prediction.bceWithLogitsLoss(target: target)
        }
    }
}
