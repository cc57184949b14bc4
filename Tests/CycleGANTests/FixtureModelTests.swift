import XCTest
@testable import CycleGAN

/// The PyTorch fixture's model (ngf 8, ndf 8, 2 blocks, 32×32, batch 2): per-layer
/// activations, the first iteration's images, losses and gradients, and the weights after
/// one and two iterations, on the CPU reference and on OpenCL.
final class FixtureModelTests: XCTestCase {
    func runFixture(on backend: Backend, forwardTolerance: Double) throws {
        let results = try Fixture.pytorch.compareModel(on: backend, forwardTolerance: forwardTolerance)
        XCTAssertEqual(results.filter { $0.group == "activations" }.count, 33)
        XCTAssertEqual(results.filter { $0.group.hasPrefix("step") && $0.group.hasSuffix("losses") }.count, 16)
        var worst: [String: Double] = [:]
        for r in results {
            XCTAssertTrue(r.passed, "\(backend.name) \(r.group) \(r.key): error \(r.error) (tolerance \(r.tolerance))")
            worst[r.group] = max(worst[r.group] ?? 0, r.error)
        }
        for (g, e) in worst.sorted(by: { $0.key < $1.key }) { print("fixture model \(backend.name) \(g): worst \(e)") }
    }

    func testCPUReferenceMatchesPyTorch() throws {
        try runFixture(on: TestDevices.cpu, forwardTolerance: 1e-5)
    }

    func testOpenCLMatchesPyTorch() throws {
        try runFixture(on: try TestDevices.requireOpenCL(), forwardTolerance: 1e-4)
    }
}
