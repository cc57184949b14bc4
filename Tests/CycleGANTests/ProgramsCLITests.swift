import XCTest
@testable import CycleGAN

/// `cyclegan programs`: a GPU profile's list as the GPU compilers' check reads it, the
/// device's list built on the device with the driver's report, and its option errors.
final class ProgramsCLITests: CLITestCase {
    func testAProfileListIsTheOfflinePlanAsJSON() throws {
        let r = try cyclegan(["programs", "--profile", "mi250", "--json", "--candidates"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let list = try JSONDecoder().decode(ProgramList.self, from: Data(r.stdout.utf8))
        let expected = try ProgramList.offline(DeviceProfile.named("mi250")!, precisions: Precision.allCases, candidates: true)
        XCTAssertEqual(list.programs.map(\.id), expected.programs.map(\.id))
        XCTAssertEqual(list.programs.map(\.options), expected.programs.map(\.options))
        XCTAssertEqual(list.maxWorkGroupSize, 256)
        XCTAssertTrue(list.programs.contains { $0.variant != "default" && $0.variant != "narrow" }, "the tune candidates' programs")
        let text = try cyclegan(["programs", "--profile", "h100", "--precision", "tf32"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("gemm.tf32  [default]  -DTM=4 -DTN=8 -DWGM=16 -DWGN=16 -DKS=4 -DROUND_TF32"), text.stdout)
        XCTAssertTrue(text.stdout.contains("gemm_tiled  256 work-items  launched"), text.stdout)
    }

    func testTheDeviceListBuildsOnTheDeviceWithTheDriversReport() throws {
        let device = try TestDevices.requireOpenCL().device
        let dir = NSTemporaryDirectory() + "cyclegan-programs-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try cyclegan(["programs", "--device", device.spec, "--precision", "fp32", "--build", dir])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("no problem"), r.stdout)
        let tsv = try String(contentsOfFile: dir + "/kernels.tsv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(tsv.first?.split(separator: "\t").count, 8, "the header")
        let gemm = tsv.first { $0.hasPrefix("gemm.fp32\tgemm_packed\t") }
        XCTAssertNotNil(gemm, "gemm_packed's row")
        // every kernel of the list has a row, with the driver's work-group limit
        let list = try ProgramList.onDevice(device, precisions: [.fp32], candidates: false)
        XCTAssertEqual(tsv.count - 1, list.programs.reduce(0) { $0 + $1.kernels.count })
        for p in list.programs {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/\(p.id).log"), p.id)
            XCTAssertTrue(try String(contentsOfFile: "\(dir)/\(p.id).log", encoding: .utf8).contains("status: CL_SUCCESS"), p.id)
        }
    }

    func testOptionErrorsAreOneLine() throws {
        assertOneLineError(try cyclegan(["programs", "--profile", "tpu"]), contains: "--profile")
        assertOneLineError(try cyclegan(["programs", "--profile", "h100", "--build", "/tmp/x"]), contains: "--build")
        assertOneLineError(try cyclegan(["programs", "--profile", "h100", "--precision", "fp8"]), contains: "--precision")
        assertOneLineError(try cyclegan(["programs", "--device", "cpu-ref"]), contains: "--device")
    }
}
