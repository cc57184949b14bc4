import Foundation

/// Host memory for the CPU reference backend. An FP16 buffer holds Floats too, each an
/// FP16 value: every op that writes one rounds its results (`CPUBackend.stored`), which is
/// the same arithmetic as storing them as FP16.
public final class CPUBuffer: Buffer {
    public let count: Int
    public let dtype: DType
    public let pointer: UnsafeMutablePointer<Float>

    init(count: Int, dtype: DType) {
        self.count = count
        self.dtype = dtype
        pointer = .allocate(capacity: max(count, 1))
    }
    deinit { pointer.deallocate() }

    subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}

/// The CPU reference: plain, obviously correct Swift for every op, sums accumulated in
/// Double. It is the oracle every OpenCL kernel is tested against, and the fallback
/// when no OpenCL device exists. The ops live in extensions, one file per family of ops,
/// named after its kernel file: CPUConv2d.swift ↔ Kernels/conv2d.cl, CPUInstanceNorm.swift
/// ↔ instance_norm.cl, … (gemm.cl, winograd.cl and bench.cl have none: Kernels/README.md).
public final class CPUBackend: Backend {
    public let name = "cpu-ref"
    public let precision: Precision
    public init(precision: Precision = .fp32) { self.precision = precision }

    public func makeBuffer(count: Int, dtype: DType) -> Buffer { CPUBuffer(count: count, dtype: dtype) }

    public func upload(_ values: [Float], to buffer: Buffer) {
        let b = cpu(buffer)
        precondition(values.count == b.count, "upload of \(values.count) values into a buffer of \(b.count)")
        values.withUnsafeBufferPointer { b.pointer.update(from: $0.baseAddress!, count: values.count) }
        stored(b)
    }

    public func download(_ buffer: Buffer) -> [Float] {
        let b = cpu(buffer)
        return Array(UnsafeBufferPointer(start: b.pointer, count: b.count))
    }

    public func fill(_ buffer: Buffer, value: Float) {
        let b = cpu(buffer)
        b.pointer.update(repeating: value, count: b.count)
        stored(b)
    }

    public func copy(_ src: Buffer, srcOffset: Int, to dst: Buffer, dstOffset: Int, count: Int) {
        precondition(src.dtype == dst.dtype, "copy from \(src.dtype) to \(dst.dtype)")
        (ptr(dst) + dstOffset).update(from: ptr(src) + srcOffset, count: count)
    }

    /// Rounds the values of each FP16 buffer among `buffers` to FP16: what storing them does.
    /// Every op calls it on the buffers it wrote.
    func stored(_ buffers: Buffer?...) {
        for case let b? in buffers where b.dtype == .float16 {
            let p = ptr(b)
            for i in 0..<b.count { p[i] = Rounding.half(p[i]) }
        }
    }

    public func synchronize() {}
    public func releaseCachedMemory() {}
    /// One fixed summation order: the name (and the precision) says it all.
    public var kernelConfiguration: String { precision == .fp32 ? name : "\(name), \(precision.rawValue)" }

    /// The CPU reference never fails at run time.
    public func throwIfFailed() throws {}

    /// The host pointer of a buffer made by this backend.
    @inline(__always) func cpu(_ b: Buffer) -> CPUBuffer {
        guard let c = b as? CPUBuffer else { fatalError("buffer of another backend passed to cpu-ref") }
        return c
    }
    @inline(__always) func ptr(_ b: Buffer) -> UnsafeMutablePointer<Float> { cpu(b).pointer }
}

/// Runs `body(i)` for i in 0..<count on all cores.
@inline(__always) func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count < 2 { for i in 0..<count { body(i) }; return }
    DispatchQueue.concurrentPerform(iterations: count, execute: body)
}
