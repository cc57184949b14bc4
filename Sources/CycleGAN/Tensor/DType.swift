/// The element type of a buffer: FP32, or FP16 storage (the activations of `--precision
/// mixed`), read into and computed in FP32 by every op. (Its own file: the fuzz harnesses
/// compile the checkpoint readers, which know it, without the rest of the library.)
public enum DType: String, Sendable {
    case float32, float16

    /// Bytes per element.
    public var size: Int { self == .float32 ? 4 : 2 }
}
