/// How a backend computes (`--precision`, `$CYCLEGAN_PRECISION`):
/// - `fp32`: everything in FP32;
/// - `tf32`: the convolutions' operands (input, weight, output gradient) rounded to TF32 (a
///   10-bit mantissa, FP32's range) as the GEMMs load them, products summed in FP32: what
///   NVIDIA's tensor cores compute in TF32 (here emulated on every device);
/// - `mixed`: PyTorch's `torch.autocast` in FP16: a convolution casts its input to FP16 and
///   uses its weight rounded to FP16, and writes an FP16 output; the ops after it keep
///   FP16 (normalisation statistics and sums in FP32, results stored in FP16); losses run in
///   FP32; master weights, their gradients and Adam stay FP32, with a dynamic loss scale
///   (`LossScaler`).
public enum Precision: String, CaseIterable, Sendable {
    case fp32, tf32, mixed

    /// The element type of activations (and their gradients) under this precision.
    public var activationType: DType { self == .mixed ? .float16 : .float32 }

    /// The parity tolerance (‖a − b‖₂/‖b‖₂) of an output stored in FP16, both backends computing
    /// under `mixed`: their FP32 results differ in the order of sums only (about 1e-6), but
    /// where the two straddle a rounding boundary they are stored one FP16 ulp apart, up to
    /// 2^-10 of the value (FP16 has an 11-bit significand). Every element one ulp apart
    /// would give 2^-10 ≈ 9.8e-4. FP32 outputs (weight gradients, statistics) keep 1e-4;
    /// under `tf32` every output does, both backends rounding the same operands identically.
    public static let fp16StoredTolerance = 1e-3

    /// `text` as a precision, or an error naming `source` (an option or variable).
    public static func parse(_ text: String, source: String) throws -> Precision {
        guard let p = Precision(rawValue: text) else {
            throw OptionError("\(source): expected fp32, tf32 or mixed, got \"\(text)\"")
        }
        return p
    }
}

/// The roundings of the precision modes, on the host: the CPU reference's and the tests'.
/// Each is bit for bit what the kernels do (common.cl: `round_half`, `round_tf32`).
public enum Rounding {
    /// x rounded to the nearest FP16 value (ties to even), as `vstore_half_rte` stores it:
    /// ±inf past 65504 + half an ulp, subnormals below 2^-14.
    @inline(__always) public static func half(_ x: Float) -> Float {
        Float(Float16(x))
    }

    /// x rounded to TF32 (ties to even on the 13 dropped mantissa bits); inf and NaN
    /// returned as they are.
    @inline(__always) public static func tf32(_ x: Float) -> Float {
        let u = x.bitPattern
        if u & 0x7f80_0000 == 0x7f80_0000 { return x }
        return Float(bitPattern: (u &+ 0xfff &+ ((u >> 13) & 1)) & 0xffff_e000)
    }
}
