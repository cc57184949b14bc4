import XCTest
@testable import CycleGAN

/// The PyTorch fixture of the official repository's other half (Tests/Fixtures/
/// pix2pix_reference.*): a U-Net with batch norm and dropout, and two pix2pix iterations,
/// on the CPU reference and on OpenCL.
final class Pix2PixFixtureTests: XCTestCase {
    static let fixture = try! Pix2PixFixture(directory: Fixture.directory.path)

    func check(_ results: [Pix2PixFixture.Comparison], _ backend: Backend, expecting count: Int) {
        XCTAssertEqual(results.count, count)
        var worst: [String: Double] = [:]
        for r in results {
            XCTAssertTrue(r.passed, "\(backend.name) \(r.group) \(r.key): error \(r.error) (tolerance \(r.tolerance))")
            worst[r.group] = max(worst[r.group] ?? 0, r.error)
        }
        for (g, e) in worst.sorted(by: { $0.key < $1.key }) { print("pix2pix fixture \(backend.name) \(g): worst \(e)") }
    }

    static func keys(_ prefix: String) -> Int { fixture.tensors.tensors.keys.filter { $0.hasPrefix(prefix) }.count }
    /// Every tensor of the fixture's U-Net part compared: the forward, the input gradient,
    /// each parameter's gradient (`unet/grad/`), each running statistic (`unet/after/`), the
    /// evaluation-mode forward.
    static var unetCount: Int { 3 + keys("unet/grad/") + keys("unet/after/") }
    /// fake_B, 4 + 4 losses, the first step's gradients, every tensor after each step.
    static var trainingCount: Int { 9 + keys("pix2pix/step1/grad/") + keys("pix2pix/after1/") + keys("pix2pix/after2/") }

    func testUnetMatchesPyTorchOnTheCPUReference() throws {
        XCTAssertEqual(Self.unetCount, 62)  // 37 parameter gradients, 22 running statistics
        check(try Self.fixture.compareUnet(on: TestDevices.cpu, forwardTolerance: 1e-5), TestDevices.cpu, expecting: Self.unetCount)
    }

    func testUnetMatchesPyTorchOnOpenCL() throws {
        let ocl = try TestDevices.requireOpenCL()
        check(try Self.fixture.compareUnet(on: ocl, forwardTolerance: 1e-4), ocl, expecting: Self.unetCount)
    }

    func testPix2PixTrainingMatchesPyTorchOnTheCPUReference() throws {
        check(try Self.fixture.compareTraining(on: TestDevices.cpu, forwardTolerance: 1e-5), TestDevices.cpu,
              expecting: Self.trainingCount)
    }

    func testPix2PixTrainingMatchesPyTorchOnOpenCL() throws {
        let ocl = try TestDevices.requireOpenCL()
        check(try Self.fixture.compareTraining(on: ocl, forwardTolerance: 1e-4), ocl, expecting: Self.trainingCount)
    }
}
