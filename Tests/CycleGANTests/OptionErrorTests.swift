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
        assertOneLineError(try cyclegan(["bench", "--batch_size", "0", "--ops", "none"]), contains: "--batch_size")
        assertOneLineError(try cyclegan(["check", "--ngf", "100000"]), contains: "--ngf")
        assertOneLineError(try cyclegan(["check", "--tolerance", "nan"]), contains: "--tolerance")
        let tiny = ["train", "--device", "cpu-ref", "--ngf", "4", "--ndf", "4", "--load_size", "36", "--crop_size", "32"]
        for (option, value) in [("--display_freq", "0"), ("--save_epoch_freq", "0"), ("--lr_decay_iters", "0"), ("--lambda_B", "inf"),
                                ("--init_gain", "nan"), ("--lr", "inf")] {
            assertOneLineError(try cyclegan(tiny + [option, value]), contains: option)
        }
        // the environment's tuning knobs are checked too, and CYCLEGAN_DEVICE
        for (name, value) in [("CYCLEGAN_GEMM_TILE", "0x16"), ("CYCLEGAN_GEMM_TILE", "4x4:"), ("CYCLEGAN_KERNEL_SHAPE", "tpu"),
                              ("CYCLEGAN_CONV", "fft"), ("CYCLEGAN_WINOGRAD", "no"), ("CYCLEGAN_SCRATCH_LIMIT", "0"), ("CYCLEGAN_DEVICE", "gpu:9")] {
            assertOneLineError(try cyclegan(["check", "--small"], environment: [name: value]), contains: name == "CYCLEGAN_DEVICE" ? "gpu:9" : name)
        }
        // the precision, by option and by variable; the fixtures are FP32 values
        assertOneLineError(try cyclegan(["check", "--small", "--precision", "fp16"]), contains: "--precision")
        assertOneLineError(try cyclegan(tiny + ["--precision", "bf16"]), contains: "--precision")
        assertOneLineError(try cyclegan(["check", "--small"], environment: ["CYCLEGAN_PRECISION": "half"]), contains: "CYCLEGAN_PRECISION")
        assertOneLineError(try cyclegan(["check", "--fixtures", "Tests/Fixtures", "--precision", "mixed"]), contains: "--precision fp32")
        // sizes, epochs and batches past any real run (their arithmetic overflowed)
        for (option, value) in [("--load_size", "9999999999"), ("--crop_size", "4611686018427387904"), ("--n_epochs", "9223372036854775807"),
                                ("--n_epochs_decay", "9223372036854775807"), ("--batch_size", "9223372036854775807")] {
            assertOneLineError(try cyclegan(tiny + [option, value]), contains: option)
        }
        assertOneLineError(try cyclegan(["test", "--preprocess", "scale_width", "--load_size", "5000000000", "--dataroot", "/tmp",
                                         "--device", "cpu-ref"]), contains: "--load_size")
        let help = try cyclegan(["train", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("--crop_size"), help.stdout)
    }
}
