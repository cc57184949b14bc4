import COpenCL
import Foundation

/// An OpenCL call that failed: the operation, and the error code by name.
public struct OpenCLError: Error, CustomStringConvertible {
    public let code: cl_int
    public let operation: String
    public var detail: String = ""

    public var description: String {
        var s = "OpenCL error \(Self.name(of: code)) (\(code)) in \(operation)"
        if Self.isOutOfMemory(code) {
            s += ": the device ran out of memory; lower --crop_size, --batch_size or --ngf"
        }
        if !detail.isEmpty { s += "\n" + detail }
        return s
    }

    /// The symbolic name of an OpenCL status code.
    public static func name(of code: cl_int) -> String {
        let names: [cl_int: String] = [
            0: "CL_SUCCESS", -1: "CL_DEVICE_NOT_FOUND", -2: "CL_DEVICE_NOT_AVAILABLE",
            -3: "CL_COMPILER_NOT_AVAILABLE", -4: "CL_MEM_OBJECT_ALLOCATION_FAILURE",
            -5: "CL_OUT_OF_RESOURCES", -6: "CL_OUT_OF_HOST_MEMORY",
            -7: "CL_PROFILING_INFO_NOT_AVAILABLE", -8: "CL_MEM_COPY_OVERLAP",
            -9: "CL_IMAGE_FORMAT_MISMATCH", -10: "CL_IMAGE_FORMAT_NOT_SUPPORTED",
            -11: "CL_BUILD_PROGRAM_FAILURE", -12: "CL_MAP_FAILURE",
            -13: "CL_MISALIGNED_SUB_BUFFER_OFFSET", -14: "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST",
            -15: "CL_COMPILE_PROGRAM_FAILURE", -16: "CL_LINKER_NOT_AVAILABLE",
            -17: "CL_LINK_PROGRAM_FAILURE", -18: "CL_DEVICE_PARTITION_FAILED",
            -19: "CL_KERNEL_ARG_INFO_NOT_AVAILABLE",
            -30: "CL_INVALID_VALUE", -31: "CL_INVALID_DEVICE_TYPE", -32: "CL_INVALID_PLATFORM",
            -33: "CL_INVALID_DEVICE", -34: "CL_INVALID_CONTEXT", -35: "CL_INVALID_QUEUE_PROPERTIES",
            -36: "CL_INVALID_COMMAND_QUEUE", -37: "CL_INVALID_HOST_PTR", -38: "CL_INVALID_MEM_OBJECT",
            -39: "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR", -40: "CL_INVALID_IMAGE_SIZE",
            -41: "CL_INVALID_SAMPLER", -42: "CL_INVALID_BINARY", -43: "CL_INVALID_BUILD_OPTIONS",
            -44: "CL_INVALID_PROGRAM", -45: "CL_INVALID_PROGRAM_EXECUTABLE",
            -46: "CL_INVALID_KERNEL_NAME", -47: "CL_INVALID_KERNEL_DEFINITION", -48: "CL_INVALID_KERNEL",
            -49: "CL_INVALID_ARG_INDEX", -50: "CL_INVALID_ARG_VALUE", -51: "CL_INVALID_ARG_SIZE",
            -52: "CL_INVALID_KERNEL_ARGS", -53: "CL_INVALID_WORK_DIMENSION",
            -54: "CL_INVALID_WORK_GROUP_SIZE", -55: "CL_INVALID_WORK_ITEM_SIZE",
            -56: "CL_INVALID_GLOBAL_OFFSET", -57: "CL_INVALID_EVENT_WAIT_LIST", -58: "CL_INVALID_EVENT",
            -59: "CL_INVALID_OPERATION", -60: "CL_INVALID_GL_OBJECT", -61: "CL_INVALID_BUFFER_SIZE",
            -62: "CL_INVALID_MIP_LEVEL", -63: "CL_INVALID_GLOBAL_WORK_SIZE", -64: "CL_INVALID_PROPERTY",
            -1001: "CL_PLATFORM_NOT_FOUND_KHR",
        ]
        return names[code] ?? "unknown OpenCL error"
    }
}

/// A test-only fault: `CYCLEGAN_FAULT=alloc:N` makes the Nth buffer allocation fail with
/// CL_MEM_OBJECT_ALLOCATION_FAILURE, `launch:N` the Nth kernel launch with
/// CL_OUT_OF_RESOURCES (as NVIDIA's driver reports memory exhaustion at enqueue), each
/// including its retry; `launch:N:once` fails only the first attempt, so the retry after
/// freeing the pool's cache succeeds. Counted from 1 per backend; read once, at init.
struct InjectedFault: Equatable {
    enum Kind: String { case alloc, launch }
    var kind: Kind
    var index: Int
    var once: Bool

    /// Parses `spec` ("alloc:N", "launch:N" or "launch:N:once"); nil for nil or malformed.
    init?(_ spec: String?) {
        guard let parts = spec?.split(separator: ":").map(String.init), parts.count == 2 || parts.count == 3,
              let kind = Kind(rawValue: parts[0]), let n = Int(parts[1]), n >= 1,
              parts.count == 2 || parts[2] == "once" else { return nil }
        self.kind = kind; index = n; once = parts.count == 3
    }

    /// The failure code for attempt `attempt` (0 first, 1 the retry) of the `count`th call of
    /// `kind`, or nil when that call is not the injected one.
    func code(_ kind: Kind, count: Int, attempt: Int) -> cl_int? {
        guard kind == self.kind, count == index, attempt == 0 || !once else { return nil }
        return kind == .alloc ? CL_MEM_OBJECT_ALLOCATION_FAILURE : CL_OUT_OF_RESOURCES
    }
}

extension OpenCLError {
    /// Whether the code is how a driver reports that device memory ran out.
    static func isOutOfMemory(_ code: cl_int) -> Bool {
        code == CL_MEM_OBJECT_ALLOCATION_FAILURE || code == CL_OUT_OF_RESOURCES || code == CL_OUT_OF_HOST_MEMORY
    }
}
