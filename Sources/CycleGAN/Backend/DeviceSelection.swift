import Foundation

/// What `--device` (or $CYCLEGAN_DEVICE) asks for.
public enum DeviceSpec: Equatable, Sendable, CustomStringConvertible {
    /// The first GPU, else any OpenCL device, else the CPU reference (said once on stderr).
    case auto
    /// The N-th GPU over all platforms.
    case gpu(Int)
    /// Platform P, device D.
    case cl(platform: Int, device: Int)
    /// The CPU reference backend.
    case cpuReference

    /// Parses "auto", "gpu", "gpu:N", "cl:P:D" or "cpu-ref".
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch (parts.first ?? "", parts.count) {
        case ("auto", 1): self = .auto
        case ("cpu-ref", 1): self = .cpuReference
        case ("gpu", 1): self = .gpu(0)
        case ("gpu", 2):
            guard let n = Int(parts[1]), n >= 0 else { throw DeviceError.badSpec(text) }
            self = .gpu(n)
        case ("cl", 3):
            guard let p = Int(parts[1]), let d = Int(parts[2]), p >= 0, d >= 0 else { throw DeviceError.badSpec(text) }
            self = .cl(platform: p, device: d)
        default: throw DeviceError.badSpec(text)
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .gpu(let n): return "gpu:\(n)"
        case .cl(let p, let d): return "cl:\(p):\(d)"
        case .cpuReference: return "cpu-ref"
        }
    }

    /// The device `auto` picks among `devices`: the first GPU, else the first device.
    public static func autoChoice(_ devices: [OpenCLDeviceInfo]) -> OpenCLDeviceInfo? {
        devices.first(where: { $0.isGPU }) ?? devices.first
    }
}

public enum DeviceError: Error, CustomStringConvertible {
    case badSpec(String)
    case noMatch(String, available: [String])

    public var description: String {
        switch self {
        case .badSpec(let s):
            return "--device: \"\(s)\" is not a device; expected auto, gpu, gpu:N, cl:P:D or cpu-ref"
        case .noMatch(let s, let available):
            return "no OpenCL device matches \"--device \(s)\" (found: \(available.joined(separator: ", ")))"
        }
    }
}

/// The OpenCL device `spec` names: nil for `cpu-ref`, and for `auto` where there is none;
/// an error naming the devices found where nothing matches.
public func openCLDevice(_ spec: DeviceSpec) throws -> OpenCLDeviceInfo? {
    let devices = openCLDevices()
    let chosen: OpenCLDeviceInfo?
    switch spec {
    case .cpuReference: return nil
    case .auto: return DeviceSpec.autoChoice(devices)
    case .gpu(let n):
        let gpus = devices.filter { $0.isGPU }
        chosen = n < gpus.count ? gpus[n] : nil
    case .cl(let p, let d):
        chosen = devices.first { $0.platformIndex == p && $0.deviceIndex == d }
    }
    guard let device = chosen else {
        throw DeviceError.noMatch(spec.description, available: devices.map { "\($0.spec) \($0.name)" } + ["cpu-ref"])
    }
    return device
}

/// Opens the backend `spec` names. With `.auto` and no OpenCL device, returns the CPU
/// reference and says so once on stderr. With `tuned`, an OpenCL device takes the GEMM
/// tiling `cyclegan tune` cached for it, and says so (`check` passes false). `precision`
/// is how it computes; `tf32` says once that it runs emulated (no device here has the
/// tensor-core path).
public func makeBackend(_ spec: DeviceSpec, profiling: Bool = false, tuned: Bool = true, precision: Precision = .fp32) throws -> Backend {
    guard let device = try openCLDevice(spec) else {
        if spec == .auto { FileHandle.standardError.write(Data("note: no OpenCL device found; using the CPU reference backend (slow)\n".utf8)) }
        return CPUBackend(precision: precision)
    }
    if precision == .tf32 {
        FileHandle.standardError.write(Data(("note: --precision tf32 runs emulated on \(device.name): the convolutions' operands "
            + "rounded to TF32 as the GEMMs load them, products summed in FP32 (\(device.precisionSupport))\n").utf8))
    }
    if tuned, let entry = Tuner.cached(for: device, gpuShaped: try OpenCLTuning().isGPUShaped(on: device)) {
        FileHandle.standardError.write(Data("note: GEMM tiling \(entry.tile.description) from \(Tuner.cachePath(for: device)) (cyclegan tune)\n".utf8))
        return try OpenCLBackend(device: device, profiling: profiling, gemmTile: entry.tile, precision: precision)
    }
    return try OpenCLBackend(device: device, profiling: profiling, precision: precision)
}

/// The precision from $CYCLEGAN_PRECISION, else fp32.
public func defaultPrecision() throws -> Precision {
    guard let s = ProcessInfo.processInfo.environment["CYCLEGAN_PRECISION"], !s.isEmpty else { return .fp32 }
    return try Precision.parse(s, source: "CYCLEGAN_PRECISION")
}

/// The device spec from $CYCLEGAN_DEVICE, else auto.
public func defaultDeviceSpec() throws -> DeviceSpec {
    if let s = ProcessInfo.processInfo.environment["CYCLEGAN_DEVICE"], !s.isEmpty { return try DeviceSpec(parsing: s) }
    return .auto
}
