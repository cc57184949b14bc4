import Foundation

/// The functions of libcyclegan_mpi.so (MPIShim/cyclegan_mpi.c, built against Open MPI by
/// scripts/build-mpi-shim.sh), loaded with dlopen only when the process runs under mpirun:
/// a machine that never runs `mpirun` needs no MPI library, and the static binary for GPU
/// machines keeps working without one. Each function returns an MPI error code.
final class MPILibrary {
    typealias Init = @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>,
                                     UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Int32
    typealias Void0 = @convention(c) () -> Int32
    typealias Abort = @convention(c) (Int32) -> Void
    typealias Text = @convention(c) (UnsafeMutablePointer<CChar>, Int32) -> Void
    typealias ErrorText = @convention(c) (Int32, UnsafeMutablePointer<CChar>, Int32) -> Void
    typealias ReduceFloat = @convention(c) (UnsafeMutablePointer<Float>, Int64) -> Int32
    typealias ReduceDouble = @convention(c) (UnsafeMutablePointer<Double>, Int64) -> Int32
    typealias StartReduce = @convention(c) (UnsafeMutablePointer<Float>, Int64, UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Int32
    typealias Test = @convention(c) (UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> Int32
    typealias Wait = @convention(c) (UnsafeMutableRawPointer) -> Int32
    typealias Allgather = @convention(c) (UInt64, UnsafeMutablePointer<UInt64>) -> Int32
    typealias Bcast = @convention(c) (UnsafeMutableRawPointer, Int64, Int32) -> Int32
    typealias Send = @convention(c) (UnsafeRawPointer?, Int64, Int32) -> Int32
    typealias Recv = @convention(c) (UnsafeMutableRawPointer?, Int64, Int32) -> Int32

    let path: String
    let initialize: Init, finalize: Void0, barrier: Void0, abort: Abort
    let libraryVersion: Text, errorString: ErrorText
    let allreduceFloat: ReduceFloat, allreduceDouble: ReduceDouble
    let startAllreduce: StartReduce, test: Test, wait: Wait
    let allgather: Allgather, bcast: Bcast, send: Send, recv: Recv

    /// The file name `load` looks for.
    static let fileName = "libcyclegan_mpi.so"

    /// Where `load` looks: `$CYCLEGAN_MPI_SHIM`, else beside the running executable.
    static var searchPaths: [String] {
        if let p = ProcessInfo.processInfo.environment["CYCLEGAN_MPI_SHIM"], !p.isEmpty { return [p] }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return [((exe as NSString).deletingLastPathComponent as NSString).appendingPathComponent(fileName)]
    }

    /// Loads the shim (and through it the MPI library); throws, naming where it looked and
    /// what dlopen said, when it cannot.
    static func load() throws -> MPILibrary {
        var reasons: [String] = []
        for path in searchPaths {
            guard FileManager.default.fileExists(atPath: path) else { reasons.append("\(path): no such file"); continue }
            // RTLD_GLOBAL: Open MPI loads its own components with dlopen and needs libmpi's symbols
            guard let handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL) else {
                reasons.append("\(path): \(dlerror().map { String(cString: $0) } ?? "dlopen failed")")
                continue
            }
            return try MPILibrary(handle: handle, path: path)
        }
        throw DistributedError("cannot load the MPI shim (\(reasons.joined(separator: "; "))); build it with "
            + "`bash scripts/build-mpi-shim.sh release` (needs openmpi-bin and libopenmpi-dev), or set CYCLEGAN_MPI_SHIM")
    }

    private init(handle: UnsafeMutableRawPointer, path: String) throws {
        self.path = path
        func symbol<T>(_ name: String, _: T.Type) throws -> T {
            guard let p = dlsym(handle, name) else { throw DistributedError("\(path) has no \(name): rebuild it with scripts/build-mpi-shim.sh") }
            return unsafeBitCast(p, to: T.self)
        }
        initialize = try symbol("cg_mpi_init", Init.self)
        finalize = try symbol("cg_mpi_finalize", Void0.self)
        barrier = try symbol("cg_mpi_barrier", Void0.self)
        abort = try symbol("cg_mpi_abort", Abort.self)
        libraryVersion = try symbol("cg_mpi_library_version", Text.self)
        errorString = try symbol("cg_mpi_error_string", ErrorText.self)
        allreduceFloat = try symbol("cg_mpi_allreduce_sum_float", ReduceFloat.self)
        allreduceDouble = try symbol("cg_mpi_allreduce_sum_double", ReduceDouble.self)
        startAllreduce = try symbol("cg_mpi_iallreduce_sum_float", StartReduce.self)
        test = try symbol("cg_mpi_test", Test.self)
        wait = try symbol("cg_mpi_wait", Wait.self)
        allgather = try symbol("cg_mpi_allgather_u64", Allgather.self)
        bcast = try symbol("cg_mpi_bcast", Bcast.self)
        send = try symbol("cg_mpi_send_bytes", Send.self)
        recv = try symbol("cg_mpi_recv_bytes", Recv.self)
    }

    /// The MPI library's own description ("Open MPI v4.1.4, …"), first line.
    var version: String {
        var buf = [CChar](repeating: 0, count: 512)
        libraryVersion(&buf, 512)
        return String(cString: buf).split(separator: "\n").first.map(String.init) ?? ""
    }

    func describe(_ code: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 512)
        errorString(code, &buf, 512)
        return String(cString: buf)
    }
}

/// A failure of the distributed run: one line, naming the rank where one is known.
public struct DistributedError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
