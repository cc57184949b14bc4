import COpenCL

/// One OpenCL device as found on the machine, with what `cyclegan devices` prints.
public struct OpenCLDeviceInfo: @unchecked Sendable {
    public let platformIndex: Int
    public let deviceIndex: Int
    public let platformName: String
    public let name: String
    public let vendor: String
    public let isGPU: Bool
    public let typeName: String
    public let computeUnits: Int
    public let globalMemory: Int
    /// CL_DEVICE_MAX_MEM_ALLOC_SIZE: the largest single buffer.
    public let maxMemAllocSize: Int
    public let localMemory: Int
    public let maxWorkGroupSize: Int
    /// CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT: 16 on AVX-512 CPUs, 8 on AVX2, 1 on most GPUs.
    public let preferredFloatWidth: Int
    public let openCLCVersion: String
    public let driverVersion: String
    public let extensions: String
    /// NVIDIA's compute capability (cl_nv_device_attribute_query), nil elsewhere.
    public let computeCapability: (major: Int, minor: Int)?
    let id: cl_device_id

    /// "cl:P:D", the `--device` spelling of this device.
    public var spec: String { "cl:\(platformIndex):\(deviceIndex)" }
    public var hasFP16: Bool { extensions.contains("cl_khr_fp16") }
    public var hasFP64: Bool { extensions.contains("cl_khr_fp64") }

    /// How the device runs each `--precision` (what `cyclegan devices` prints): fp32 and
    /// mixed natively on every OpenCL 1.2 device (FP16 storage is core: vload_half and
    /// vstore_half), tf32 emulated everywhere. NVIDIA GPUs of compute capability 8.0 or newer
    /// have TF32 tensor cores, which the kernels do not use yet: the inline-PTX path was never
    /// run on such a GPU, so it is not written.
    public var precisionSupport: String {
        var tf32 = "tf32 emulated (operands rounded in the GEMM loads, FP32 sums)"
        if let cc = computeCapability, cc.major >= 8 {
            tf32 += "; the device has TF32 tensor cores (compute capability \(cc.major).\(cc.minor)), not used yet"
        }
        return "fp32 native, mixed native (FP16 storage, FP32 arithmetic), " + tf32
    }
}

/// Lists every device of every platform (never assumes platform 0). An absent ICD
/// loader configuration or no platform gives an empty list.
public func openCLDevices() -> [OpenCLDeviceInfo] {
    var numPlatforms: cl_uint = 0
    guard clGetPlatformIDs(0, nil, &numPlatforms) == CL_SUCCESS, numPlatforms > 0 else { return [] }
    var platforms = [cl_platform_id?](repeating: nil, count: Int(numPlatforms))
    guard clGetPlatformIDs(numPlatforms, &platforms, nil) == CL_SUCCESS else { return [] }
    var result: [OpenCLDeviceInfo] = []
    for (pi, platform) in platforms.enumerated() {
        let platformName = platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
        var numDevices: cl_uint = 0
        guard clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &numDevices) == CL_SUCCESS,
              numDevices > 0 else { continue }
        var devices = [cl_device_id?](repeating: nil, count: Int(numDevices))
        guard clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), numDevices, &devices, nil) == CL_SUCCESS
        else { continue }
        for (di, dev) in devices.enumerated() {
            guard let dev else { continue }
            let type: cl_device_type = deviceValue(dev, CL_DEVICE_TYPE)
            let isGPU = type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0
            let typeName = isGPU ? "GPU" : (type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 ? "CPU"
                : (type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 ? "accelerator" : "other"))
            let cu: cl_uint = deviceValue(dev, CL_DEVICE_MAX_COMPUTE_UNITS)
            let gmem: cl_ulong = deviceValue(dev, CL_DEVICE_GLOBAL_MEM_SIZE)
            let maxAlloc: cl_ulong = deviceValue(dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE)
            let lmem: cl_ulong = deviceValue(dev, CL_DEVICE_LOCAL_MEM_SIZE)
            let wg: Int = deviceValue(dev, CL_DEVICE_MAX_WORK_GROUP_SIZE)
            let width: cl_uint = deviceValue(dev, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT)
            let extensions = deviceString(dev, CL_DEVICE_EXTENSIONS)
            // CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV / _MINOR_NV
            let ccMajor: cl_uint = extensions.contains("cl_nv_device_attribute_query") ? deviceValue(dev, 0x4000) : 0
            let ccMinor: cl_uint = ccMajor > 0 ? deviceValue(dev, 0x4001) : 0
            result.append(OpenCLDeviceInfo(
                platformIndex: pi, deviceIndex: di, platformName: platformName,
                name: deviceString(dev, CL_DEVICE_NAME), vendor: deviceString(dev, CL_DEVICE_VENDOR),
                isGPU: isGPU, typeName: typeName, computeUnits: Int(cu), globalMemory: Int(clamping: gmem),
                maxMemAllocSize: maxAlloc > 0 ? Int(clamping: maxAlloc) : gmem > 0 ? Int(clamping: gmem) : Int.max,
                localMemory: Int(clamping: lmem), maxWorkGroupSize: max(1, wg), preferredFloatWidth: max(1, Int(width)),
                openCLCVersion: deviceString(dev, CL_DEVICE_OPENCL_C_VERSION),
                driverVersion: deviceString(dev, CL_DRIVER_VERSION),
                extensions: extensions, computeCapability: ccMajor > 0 ? (Int(ccMajor), Int(ccMinor)) : nil, id: dev))
        }
    }
    return result
}

private func platformString(_ p: cl_platform_id?, _ what: cl_platform_info) -> String {
    var size = 0
    guard clGetPlatformInfo(p, what, 0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
    var bytes = [CChar](repeating: 0, count: size)
    guard clGetPlatformInfo(p, what, size, &bytes, nil) == CL_SUCCESS else { return "" }
    return String(cString: bytes).trimmingCharacters(in: .whitespaces)
}

func deviceString(_ d: cl_device_id, _ what: Int32) -> String {
    var size = 0
    guard clGetDeviceInfo(d, cl_device_info(what), 0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
    var bytes = [CChar](repeating: 0, count: size)
    guard clGetDeviceInfo(d, cl_device_info(what), size, &bytes, nil) == CL_SUCCESS else { return "" }
    return String(cString: bytes).trimmingCharacters(in: .whitespaces)
}

/// A numeric device property; 0 where the driver does not answer (callers treat 0 as
/// unknown: at least one work-item, no allocation limit beyond the global memory).
func deviceValue<T: FixedWidthInteger>(_ d: cl_device_id, _ what: Int32) -> T {
    var v: T = 0
    guard clGetDeviceInfo(d, cl_device_info(what), MemoryLayout<T>.size, &v, nil) == CL_SUCCESS else { return 0 }
    return v
}

import Foundation
