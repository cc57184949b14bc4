import XCTest
@testable import CycleGAN

/// `bench`'s per-layer breakdown of a training iteration: every layer's kernels are filed
/// under it, forward and backward, and the layers account for the step.
final class BenchmarkTests: XCTestCase {
    func testIterationBreakdownFilesEveryKernelUnderItsLayer() throws {
        _ = try TestDevices.requireOpenCL()
        guard let device = openCLDevices().first else { throw XCTSkip("no OpenCL device") }
        let ocl = try OpenCLBackend(device: device, profiling: true)
        let (layers, stepMs) = try Benchmark.iterationBreakdown(ocl, size: 32, ngf: 4, nBlocks: 6)
        XCTAssertGreaterThan(stepMs, 0)
        let names = Set(layers.map(\.layer))
        // the generator's first conv, its residual convs, the transposed convs, the fused norms, the losses, Adam
        for expected in ["conv2d 1x3x32x32 -> 4 k7x7 s1 p3 reflect", "conv2d 1x16x8x8 -> 16 k3x3 s1 p1 reflect",
                         "conv_transpose2d 16x8x8 -> 8 k3 s2", "instance_norm2d+relu 1x4x32x32", "instance_norm2d+skip 1x16x8x8",
                         "l1_loss 1x3x32x32", "mse_loss 1x1x2x2", "adam step"] {
            XCTAssertTrue(names.contains(expected), "\(expected) not in \(names.sorted())")
        }
        let conv = layers.first { $0.layer == "conv2d 1x3x32x32 -> 4 k7x7 s1 p3 reflect" }!
        XCTAssertGreaterThan(conv.forwardMs, 0)
        XCTAssertGreaterThan(conv.backwardMs, 0)  // its weight gradient (the image needs none)
        XCTAssertEqual(layers.reduce(0) { $0 + $1.share }, 1, accuracy: 1e-9)
        // few kernels are left unlabelled (buffer fills, the losses' gather): counted, not timed
        let other = layers.first { $0.layer == "other" }?.kernels ?? 0, all = layers.reduce(0) { $0 + $1.kernels }
        XCTAssertGreaterThan(all, 100)
        XCTAssertLessThan(other, all / 10, "\(other) of the step's \(all) kernels under no layer")
        XCTAssertFalse(LayerScope.enabled)
    }

    /// `--batch_size`: the iteration and its breakdown run on a batch (the layers' shapes say
    /// so), and images per second count the batch.
    func testIterationAtABatch() throws {
        _ = try TestDevices.requireOpenCL()
        guard let device = openCLDevices().first else { throw XCTSkip("no OpenCL device") }
        let ocl = try OpenCLBackend(device: device, profiling: true)
        let it = try Benchmark.iteration(ocl, size: 32, ngf: 4, nBlocks: 6, batch: 3, repeats: 1)
        XCTAssertEqual(it.batch, 3)
        XCTAssertEqual(it.imagesPerSecond, 3000 / it.medianMs, accuracy: 1e-9 * it.imagesPerSecond)
        let (layers, _) = try Benchmark.iterationBreakdown(ocl, size: 32, ngf: 4, nBlocks: 6, batch: 3)
        let names = Set(layers.map(\.layer))
        XCTAssertTrue(names.contains("conv2d 3x3x32x32 -> 4 k7x7 s1 p3 reflect"), "\(names.sorted())")
    }
}
