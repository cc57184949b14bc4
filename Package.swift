// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "CycleGAN",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "cyclegan", targets: ["cyclegan"]),
        .library(name: "CycleGAN", targets: ["CycleGAN"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // <CL/cl.h> and the ICD loader (Debian: ocl-icd-opencl-dev, opencl-headers).
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        // PNG and JPEG decoding/encoding in C over libpng and libjpeg-turbo (their error
        // handling needs setjmp, which Swift cannot call). Debian: libpng-dev, libjpeg62-turbo-dev.
        .target(
            name: "CImageIO",
            path: "Sources/CImageIO",
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]
        ),
        // Kernels/*.cl compiled into the binary as PackageResources.<name>_cl.
        .target(
            name: "CycleGANKernels",
            path: "Kernels",
            exclude: ["README.md", "RESOURCES.md"],
            resources: [
                .embedInCode("common.cl"),
                .embedInCode("conv2d.cl"),
                .embedInCode("gemm.cl"),
                .embedInCode("instance_norm.cl"),
                .embedInCode("batch_norm.cl"),
                .embedInCode("elementwise.cl"),
                .embedInCode("reduce.cl"),
                .embedInCode("loss.cl"),
                .embedInCode("adam.cl"),
                .embedInCode("random.cl"),
                .embedInCode("bench.cl"),
                .embedInCode("winograd.cl"),
            ]
        ),
        .target(
            name: "CycleGAN",
            dependencies: ["COpenCL", "CImageIO", "CycleGANKernels"],
            path: "Sources/CycleGAN"
        ),
        .executableTarget(
            name: "cyclegan",
            dependencies: [
                "CycleGAN",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/cyclegan"
        ),
        .testTarget(
            name: "CycleGANTests",
            dependencies: ["CycleGAN"],
            path: "Tests/CycleGANTests"
        ),
    ]
)
