import XCTest
@testable import CycleGAN

/// The `op/*` cases of the PyTorch fixture (`PyTorchFixture.compareOps`, which
/// `cyclegan check --fixtures` also runs): outputs and every gradient match PyTorch on the
/// CPU reference (≤ 1e-5) and on OpenCL (≤ 1e-4).
final class FixtureOpTests: XCTestCase {
    func check(_ backend: Backend, tolerance: Double) throws {
        let results = try Fixture.pytorch.compareOps(on: backend, tolerance: tolerance)
        XCTAssertEqual(try Fixture.pytorch.opCases().count, 11)
        XCTAssertEqual(results.count, 35)
        for r in results {
            XCTAssertTrue(r.passed, "\(backend.name) \(r.key): relative error \(r.error)")
            print("fixture \(backend.name) \(r.key): relative error \(r.error)")
        }
    }

    func testCPUReferenceMatchesPyTorch() throws { try check(TestDevices.cpu, tolerance: 1e-5) }

    func testOpenCLMatchesPyTorch() throws { try check(try TestDevices.requireOpenCL(), tolerance: 1e-4) }
}
