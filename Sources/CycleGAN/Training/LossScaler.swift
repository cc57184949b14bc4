/// The dynamic loss scale of `--precision mixed`: torch.amp.GradScaler with its defaults
/// (init_scale 2^16, growth_factor 2, backoff_factor 0.5, growth_interval 2000), used as the
/// PyTorch AMP recipe uses one scaler for two optimisers: each backward starts from the
/// scale instead of 1 (the scaled loss, so FP16 activation gradients stay above FP16's
/// smallest values); each optimiser step first unscales its gradients and is skipped when
/// one of them is inf or NaN; once per iteration `update` halves the scale after any
/// skip, and doubles it after `growthInterval` iterations in a row without one.
/// The train state saves `scale` and `growthTracker`.
public final class LossScaler {
    public static let initialScale: Float = 65536
    public static let growthFactor: Float = 2
    public static let backoffFactor: Float = 0.5
    public static let growthInterval = 2000

    public private(set) var scale: Float
    /// Iterations since the last skip or growth.
    public private(set) var growthTracker: Int
    /// Whether a step was skipped since the last `update`.
    public private(set) var foundInfSinceUpdate = false
    /// Optimiser steps skipped since the run began (in this process).
    public private(set) var skippedSteps = 0

    /// The device flag `unscaleCheck` raises.
    private var flag: Tensor?

    public init(scale: Float = LossScaler.initialScale, growthTracker: Int = 0) {
        self.scale = scale
        self.growthTracker = growthTracker
    }

    /// Backpropagates `loss` (a scalar) scaled: the gradient it starts from is `scale`.
    public func backward(_ loss: Tensor, onLeafReady: ((Tensor) -> Void)? = nil) {
        loss.backward(gradient: Tensor(filled: scale, shape: loss.shape, on: loss.backend), onLeafReady: onLeafReady)
    }

    /// Unscales the gradients of `optimizer`'s parameters in place and steps it, unless one
    /// of them is inf or NaN: then the step is skipped (no parameter, moment or step count
    /// changes) and the skip is remembered for `update`. One value is read back. Returns
    /// whether the step was taken.
    @discardableResult
    public func step(_ optimizer: Adam) throws -> Bool {
        let grads = optimizer.params.compactMap(\.grad)
        guard let backend = grads.first?.backend else { return true }
        // one flag for the scaler's life (the backend is the model's, the same every step)
        let found = flag ?? Tensor(empty: [1], on: backend)
        flag = found
        backend.fill(found.buffer, value: 0)
        LayerScope.run("amp unscale") {
            for g in grads { backend.unscaleCheck(g.buffer, count: g.count, invScale: 1 / scale, found: found.buffer) }
        }
        let inf = found.item() != 0
        try backend.throwIfFailed()
        if inf {
            foundInfSinceUpdate = true
            skippedSteps += 1
            return false
        }
        optimizer.step()
        return true
    }

    /// The scale for the next iteration (torch's _amp_update_scale_).
    public func update() {
        if foundInfSinceUpdate {
            scale *= Self.backoffFactor
            growthTracker = 0
        } else {
            growthTracker += 1
            if growthTracker == Self.growthInterval {
                // as torch: the scale grows only to a finite value
                if (scale * Self.growthFactor).isFinite { scale *= Self.growthFactor }
                growthTracker = 0
            }
        }
        foundInfSinceUpdate = false
    }

    /// Restores a saved state (checked by the caller).
    public func restore(scale: Float, growthTracker: Int) {
        self.scale = scale
        self.growthTracker = growthTracker
        foundInfSinceUpdate = false
    }
}
