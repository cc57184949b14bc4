/// What the kernels being enqueued compute: an op at its shape (`conv2d 1x64x256x256 -> 3
/// k7x7 s1 p3 reflect`), forward or backward. Only while `enabled` (bench's per-layer
/// breakdown of a training iteration, `Benchmark.iterationBreakdown`) do the ops label their
/// work; the OpenCL backend then files each kernel's profiled time under the label.
public enum LayerScope {
    /// (label, backward?) of the op running now; nil outside labelled ops.
    nonisolated(unsafe) static var current: (label: String, backward: Bool)? = nil
    nonisolated(unsafe) public static var enabled = false

    /// Runs `body` with its kernels filed under `label` (forward).
    static func run<T>(_ label: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let saved = current
        current = (label(), false)
        defer { current = saved }
        return try body()
    }

    /// Runs a node's backward with its kernels filed under the label its forward had.
    static func backward<T>(_ label: String?, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let saved = current
        current = (label ?? "other", true)
        defer { current = saved }
        return try body()
    }
}

extension Tensor {
    /// The shape as `LayerScope` labels write it: 1x64x256x256.
    var shapeText: String { shape.map(String.init).joined(separator: "x") }
}
