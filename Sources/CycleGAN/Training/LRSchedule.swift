import Foundation

/// The official learning-rate policies, as a function of completed epochs (the linear
/// policy is stepped at the end of each epoch, as in the 2025 master).
public enum LRPolicy: String, CaseIterable, Sendable {
    case linear, step, cosine
}

public struct LRSchedule: Sendable {
    public var policy: LRPolicy
    public var lr: Double
    public var epochCount = 1
    public var nEpochs = 100
    public var nEpochsDecay = 100
    public var lrDecayIters = 50

    public init(policy: LRPolicy = .linear, lr: Double = 2e-4, epochCount: Int = 1, nEpochs: Int = 100,
                nEpochsDecay: Int = 100, lrDecayIters: Int = 50) {
        self.policy = policy; self.lr = lr; self.epochCount = epochCount
        self.nEpochs = nEpochs; self.nEpochsDecay = nEpochsDecay; self.lrDecayIters = lrDecayIters
    }

    /// The learning rate after `e` completed epochs (scheduler.step() called e times).
    public func rate(afterEpochs e: Int) -> Double {
        switch policy {
        case .linear:
            return lr * (1 - Double(max(0, e + epochCount - nEpochs)) / Double(nEpochsDecay + 1))
        case .step:
            return lr * pow(0.1, Double(e / lrDecayIters))
        case .cosine:
            // CosineAnnealingLR(T_max = n_epochs, eta_min = 0), closed form
            return lr * (1 + cos(Double.pi * Double(e) / Double(nEpochs))) / 2
        }
    }
}
