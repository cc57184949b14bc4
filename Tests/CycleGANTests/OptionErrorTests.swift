import XCTest
@testable import CycleGAN

/// Options out of range, and command lines that do not parse: one `error:` line naming the
/// option, status 1, before anything is allocated or written.
final class OptionErrorTests: CLITestCase {
    func testBadCommandLinesAreOneLine() throws {
        assertOneLineError(try cyclegan(["train", "--bogus"]), contains: "--bogus")
        assertOneLineError(try cyclegan(["train", "--ndf", "-2"]), contains: "--ndf")
        assertOneLineError(try cyclegan(["train", "--ndf=-2", "--device", "cpu-ref"]), contains: "--ndf")
        assertOneLineError(try cyclegan(["bench", "--sizes", "100000", "--ops", "none"]), contains: "--sizes")
        assertOneLineError(try cyclegan(["bench", "--repeats", "0"]), contains: "--repeats")
        assertOneLineError(try cyclegan(["check", "--ngf", "100000"]), contains: "--ngf")
        assertOneLineError(try cyclegan(["check", "--tolerance", "nan"]), contains: "--tolerance")
        let tiny = ["train", "--device", "cpu-ref", "--ngf", "4", "--ndf", "4", "--load_size", "36", "--crop_size", "32"]
        for (option, value) in [("--display_freq", "0"), ("--save_epoch_freq", "0"), ("--lr_decay_iters", "0"), ("--lambda_B", "inf"),
                                ("--init_gain", "nan"), ("--lr", "inf")] {
            assertOneLineError(try cyclegan(tiny + [option, value]), contains: option)
        }
        let help = try cyclegan(["train", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("--crop_size"), help.stdout)
    }
}
