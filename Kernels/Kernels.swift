// The OpenCL C sources of Kernels/*.cl, embedded into the binary at build time
// (SwiftPM `.embedInCode`), so an installed `cyclegan` runs from any folder.

/// One embedded kernel source file.
public struct KernelSource: Sendable {
    /// File name without extension, e.g. "conv2d".
    public let name: String
    /// The OpenCL C text.
    public let text: String
}

/// Every kernel source, by file name.
public let embeddedKernelSources: [String: KernelSource] = {
    let files: [(String, [UInt8])] = [
        ("common", PackageResources.common_cl),
        ("conv2d", PackageResources.conv2d_cl),
        ("gemm", PackageResources.gemm_cl),
        ("instance_norm", PackageResources.instance_norm_cl),
        ("batch_norm", PackageResources.batch_norm_cl),
        ("elementwise", PackageResources.elementwise_cl),
        ("reduce", PackageResources.reduce_cl),
        ("loss", PackageResources.loss_cl),
        ("adam", PackageResources.adam_cl),
        ("random", PackageResources.random_cl),
        ("bench", PackageResources.bench_cl),
        ("winograd", PackageResources.winograd_cl),
    ]
    var out: [String: KernelSource] = [:]
    for (name, bytes) in files {
        out[name] = KernelSource(name: name, text: String(decoding: bytes, as: UTF8.self))
    }
    return out
}()
