import XCTest
@testable import CycleGAN

/// `cyclegan check --fixtures`: the PyTorch comparisons from the binary (how a GPU machine,
/// which has no XCTest, verifies numerics): 222 of the CycleGAN fixture, 277 of the pix2pix one.
final class CheckCommandTests: CLITestCase {
    func testFixturesFromTheBinary() throws {
        _ = try TestDevices.requireOpenCL()
        let r = try cyclegan(["check", "--fixtures", Fixture.directory.path, "--device", "cl:0:0"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("all 499 comparisons with PyTorch passed"), r.stdout)
        assertOneLineError(try cyclegan(["check", "--fixtures", "/nowhere", "--device", "cpu-ref"]),
                           contains: "/nowhere/cyclegan_reference.safetensors")
    }
}
