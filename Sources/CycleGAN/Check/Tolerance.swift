/// How close a result must be to its reference (docs/tolerances.md): every element within
/// atol + rtol·|r|, with atol = `atolShare`·max|r| over the tensor (so that elements near zero
/// of a tensor with large ones are held to the tensor's scale, not their own), and the
/// relative L2 error ‖a − r‖₂/‖r‖₂ within rtol. Both must hold: a few wrong elements hide in a
/// large tensor's norm, and the norm catches an error spread over every element.
public struct Tolerance: Sendable, Equatable, CustomStringConvertible {
    public var rtol: Double
    public var atolShare: Double

    public init(rtol: Double, atolShare: Double? = nil) {
        self.rtol = rtol
        self.atolShare = atolShare ?? rtol
    }

    /// FP32 against FP32 (sums in another order): rtol 1e-4, atol 1e-4·max|r|.
    public static let fp32 = Tolerance(rtol: 1e-4)

    /// The bound of element `value` against `reference` in a tensor whose largest magnitude is `scale`.
    @inline(__always) func limit(reference: Double, scale: Double) -> Double { atolShare * scale + rtol * abs(reference) }

    public var description: String { "rtol \(rtol), atol \(atolShare)·max|r|" }
}
