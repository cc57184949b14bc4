import XCTest
@testable import CycleGAN

/// Every op, forward and every backward: OpenCL vs the CPU reference on random inputs of
/// awkward shapes, ‖ocl − cpu‖/‖cpu‖ ≤ 1e-4.
final class OpParityTests: XCTestCase {
    func testEveryOpMatchesTheCPUReference() throws {
        let ocl = try TestDevices.requireOpenCL()
        let results = checkParity(OpCases.parity, on: ocl, reference: TestDevices.cpu, tolerance: 1e-4)
        XCTAssertGreaterThan(results.count, 50)
        var worst: [String: Double] = [:]
        for r in results {
            worst[r.op] = max(worst[r.op] ?? 0, r.relativeError)
            XCTAssertTrue(r.passed, "\(r.op) \(r.shape) \(r.output): relative error \(r.relativeError), max abs \(r.maxAbsError)")
        }
        for (op, e) in worst.sorted(by: { $0.key < $1.key }) { print("parity \(op): worst relative error \(e)") }
    }

    /// The GEMM kernels are generic in their tile: the GPU tiling (4×4, local 16×4), both
    /// CPU tilings (16×16 for AVX-512, 6×16 for narrower vectors: M not a multiple of TM)
    /// and others give the same results, checked here on whatever device runs the tests.
    func testOtherGEMMTilingsMatchTheCPUReference() throws {
        let device = try TestDevices.requireOpenCL().device
        for tile in [GEMMTile(tm: 4, tn: 4, local: [16, 4, 1]), GEMMTile(tm: 8, tn: 8, local: [4, 4, 1]), GEMMTile(tm: 16, tn: 4, local: nil),
                     GEMMTile.cpu(width: 16), GEMMTile.cpu(width: 8)] {
            let ocl = try OpenCLBackend(device: device, gemmTile: tile)
            let convs = OpCases.parity.filter { $0.op.hasPrefix("conv") }
            for r in checkParity(convs, on: ocl, reference: TestDevices.cpu, tolerance: 1e-4) {
                XCTAssertTrue(r.passed, "tile \(tile.tm)x\(tile.tn): \(r.op) \(r.shape) \(r.output): \(r.relativeError)")
            }
        }
    }

    /// The first, direct convolution kernels (CYCLEGAN_CONV=direct, the benchmark baseline)
    /// stay correct too.
    func testDirectConvolutionKernelsMatchTheCPUReference() throws {
        let ocl = try OpenCLBackend(device: try TestDevices.requireOpenCL().device, convAlgorithm: .direct)
        XCTAssertEqual(ocl.convAlgorithm, .direct)
        for r in checkParity(OpCases.parity.filter { $0.op.hasPrefix("conv") }, on: ocl, reference: TestDevices.cpu) {
            XCTAssertTrue(r.passed, "direct: \(r.op) \(r.shape) \(r.output): \(r.relativeError)")
        }
    }

    /// The checks also catch a wrong result: a corrupted weight must fail parity.
    func testParityDetectsAWrongKernelResult() throws {
        let ocl = try TestDevices.requireOpenCL()
        var c = OpCases.parity[0]
        let reference = c.outputs(on: TestDevices.cpu)
        c.inputs["weight"]!.values[3] += 0.01
        let changed = c.outputs(on: ocl)
        XCTAssertGreaterThan(relativeError(changed["y"]!, reference["y"]!), 1e-4)
    }

    func testRandomInitialisationIsTheSameOnBothBackendsAndHasTheRightMoments() throws {
        let ocl = try TestDevices.requireOpenCL()
        let n = 20000
        let a = TestDevices.cpu.makeBuffer(count: n), b = ocl.makeBuffer(count: n)
        TestDevices.cpu.randomNormal(a, count: n, seed: 7, mean: 0, std: 0.02)
        ocl.randomNormal(b, count: n, seed: 7, mean: 0, std: 0.02)
        let x = TestDevices.cpu.download(a), y = ocl.download(b)
        XCTAssertLessThan(relativeError(y, x), 1e-6)
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(n)
        let std = (x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.001)
        XCTAssertEqual(std, 0.02, accuracy: 0.001)
        // another seed gives other numbers
        TestDevices.cpu.randomNormal(a, count: n, seed: 8, mean: 0, std: 0.02)
        XCTAssertGreaterThan(relativeError(TestDevices.cpu.download(a), x), 0.5)
    }

    /// Buffers come back to the pool: a repeated op allocates nothing new.
    func testBufferPoolReusesBuffers() throws {
        let ocl = try TestDevices.requireOpenCL()
        let c = OpCases.parity[2]
        _ = c.outputs(on: ocl)
        let before = ocl.bufferAllocations
        _ = c.outputs(on: ocl)
        XCTAssertEqual(ocl.bufferAllocations, before)
    }
}
