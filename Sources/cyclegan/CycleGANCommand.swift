import ArgumentParser
import CycleGAN
import Foundation

/// The command-line tool: train, test, bench, devices, check.
@main
struct CycleGANCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cyclegan",
        abstract: "CycleGAN training and translation with OpenCL kernels.",
        subcommands: [Train.self, TestCommand.self, Devices.self, Check.self, Bench.self, Tune.self, Programs.self])

    /// Line-buffered stdout, so logs piped to a file or `tee` appear as training goes.
    /// A command line that does not parse is one `error:` line and status 1, like every
    /// other user error; `--help` prints the help.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        let command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }
            let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            fail(message + " (see cyclegan --help)")
        }
        var runnable = command
        do { try runnable.run() } catch { exit(withError: error) }
    }
}

/// `--device`, shared by every subcommand that computes.
struct DeviceOption: ParsableArguments {
    @Option(name: .customLong("device"),
            help: "auto (first GPU, else any OpenCL device, else cpu-ref), gpu, gpu:N, cl:P:D or cpu-ref. Default: $CYCLEGAN_DEVICE or auto.")
    var device: String?

    @Option(name: .customLong("precision"),
            help: "fp32 (default), tf32 (convolution operands rounded to TF32, FP32 sums; emulated), or mixed (FP16 activations, FP32 weights and Adam, dynamic loss scale; as torch.autocast). Default: $CYCLEGAN_PRECISION or fp32.")
    var precisionText: String?

    /// The precision the option (else $CYCLEGAN_PRECISION) names.
    func precision() throws -> Precision {
        if let p = precisionText { return try Precision.parse(p, source: "--precision") }
        return try defaultPrecision()
    }

    /// The backend the option names; `tuned`: with the tiling `cyclegan tune` cached. Under
    /// mpirun (`localRank` given), `auto` takes GPU local rank mod the GPU count, and a list
    /// `--device A,B,…` one device per local rank (local rank mod its length).
    func backend(profiling: Bool = false, tuned: Bool = true, localRank: Int? = nil) throws -> Backend {
        var spec = try self.spec(localRank: localRank ?? 0)
        if let r = localRank, spec == .auto {
            let gpus = openCLDevices().filter { $0.isGPU }
            if !gpus.isEmpty { spec = .gpu(r % gpus.count) }
        }
        return try makeBackend(spec, profiling: profiling, tuned: tuned, precision: try precision())
    }

    func spec(localRank: Int = 0) throws -> DeviceSpec {
        guard let text = device ?? ProcessInfo.processInfo.environment["CYCLEGAN_DEVICE"], !text.isEmpty else { return .auto }
        let list = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        return try DeviceSpec(parsing: list[localRank % list.count])
    }
}

/// Prints `message` as one line on stderr and exits with status 1. Control characters
/// (a newline in a file name or a checkpoint key) are escaped: one error, one line.
func fail(_ message: String) -> Never {
    var line = ""
    for scalar in message.unicodeScalars {
        if scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}" {
            line += scalar.escaped(asASCII: true)
        } else {
            line.unicodeScalars.append(scalar)
        }
    }
    FileHandle.standardError.write(Data("error: \(line)\n".utf8))
    exit(1)
}

/// Runs `body`, turning any error into one clear line and exit status 1. In a data-parallel
/// run the line names the rank, and the whole job is then ended (MPI_Abort), so that no
/// other rank waits for this one.
func runReportingErrors(distributed: Distributed? = nil, _ body: () throws -> Void) {
    do {
        try body()
    } catch let e as ExitCode {
        // (every rank stops at the same step for a signal, and leaves together)
        distributed?.finalize()
        exit(e.rawValue)
    } catch {
        let message = (error as? ValidationError)?.message ?? "\(error)"
        guard let d = distributed else { fail(message) }
        let line = message.hasPrefix("rank ") ? message : "rank \(d.rank) of \(d.size): \(message)"
        FileHandle.standardError.write(Data("error: \(line.replacingOccurrences(of: "\n", with: "\\n"))\n".utf8))
        d.abort(1)
    }
}
