/// Every kernel of Kernels/*.cl: its file, which kernel shape launches it, how its launcher
/// sizes its work-group, and what a GPU uses it for. One table, read by
/// - `KernelPlan` (the programs a device builds and each kernel's work-group: `cyclegan programs`,
///   which the GPU compilers' check `scripts/gpu-compilers.sh` compiles),
/// - the backend's start-up (the reductions and tiled kernels whose groups it fits) and
///   `OpenCLContext.launch` (the kernels whose groups it never shrinks),
/// - the launch check of debug builds (`OpenCLBackend.run`), so the tests fail when a launcher
///   and this table disagree,
/// - `KernelTableTests`, which compares it with the kernels each built program holds.
public struct KernelInfo: Sendable {
    /// Which backends launch the kernel.
    public enum Shape: String, Sendable {
        /// Both kernel shapes.
        case both
        /// The CPU shape only: the kernel sits inside `#ifdef CPU_SHAPE` and a GPU never builds it.
        case cpu
        /// The GPU shape only (built in both: the CPU shape's programs compile it on PoCL).
        case gpu
    }

    /// How the launcher sizes the kernel's work-group (`KernelPlan.workGroup`).
    public enum Group: Sendable, Equatable {
        /// local size NULL: the driver chooses.
        case driver
        /// At most n work-items (the CPU-shaped kernels' 1, 4 or 8).
        case fixed(Int)
        /// `elementGroup` items (a grid dimension shorter than it may take fewer).
        case element
        /// `reduceGroup` items.
        case reduction
        /// The GEMM tile's wgn × wgm work-items (the program's tile: 64 for the narrow one).
        case tile
        /// The GEMM tile's local size (NULL where it has none), or 8 work-items for a single
        /// block of output channels.
        case gemmLocal
        /// The weight packers' TM × min(16, limit / TM) (TM of the program's tile).
        case pack
        /// The direct kernels' 8 × 8.
        case tile2D
        /// Whatever `cyclegan bench` asks (not checked, no occupancy budget).
        case bench
    }

    /// What the kernel is for, as far as which backends launch it goes.
    public enum Use: String, Sendable {
        /// Every backend of its shape.
        case always
        /// GEMM version 1's kernels: the CPU shape's, the GPU shape's fallback.
        case packedGEMM = "packed GEMM"
        /// GEMM version 2's kernels (the GPU shape's, where the device gives their work-group).
        case tiledGEMM = "tiled GEMM"
        /// `CYCLEGAN_CONV=direct` only.
        case direct
        /// `cyclegan bench` only.
        case bench
    }

    public let file: String
    public let name: String
    public let shape: Shape
    /// The work-group in the GPU and in the CPU shape.
    public let gpuGroup: Group, cpuGroup: Group
    /// A tree reduction over the group or a tile staged by the whole group: the group is
    /// fitted to the kernel's limit at start-up and never shrunk at launch.
    public let indexedByGroup: Bool
    /// Takes `reduceGroup` floats of __local memory as an argument (`tree_sum`'s scratch).
    public let localScratch: Bool
    public let use: Use
    /// Launched from conv2d.cl's second build with `KernelPlan.narrowTile` too.
    public let narrow: Bool
    /// The tiles a kernel is built with (its `#if` in the source).
    public enum Needs: Sendable {
        /// TM and TN OpenCL C vector widths (`GEMMTile.hasVectorPanels`).
        case vectorPanels
        /// TN 16.
        case tn16
    }
    public let needs: Needs?

    init(_ file: String, _ name: String, _ shape: Shape = .both, gpu: Group, cpu: Group? = nil, indexed: Bool = false,
         scratch: Bool = false, use: Use = .always, narrow: Bool = false, needs: Needs? = nil) {
        self.file = file; self.name = name; self.shape = shape
        gpuGroup = gpu; cpuGroup = cpu ?? gpu
        indexedByGroup = indexed; localScratch = scratch; self.use = use; self.narrow = narrow; self.needs = needs
    }

    /// The work-group class in the kernel shape `gpuShaped`.
    public func group(gpuShaped: Bool) -> Group { gpuShaped ? gpuGroup : cpuGroup }
}

/// One kernel file and the build variants it has.
public struct KernelFile: Sendable {
    public let name: String
    /// Has act_t buffers (common.cl): built with -DACT_HALF too under `--precision mixed`.
    public let activations: Bool
    /// Loads convolution operands: built with -DROUND_TF32 under `--precision tf32`.
    public let operands: Bool
    /// Built with the GEMM tile's -D options (TM, TN, WGM, WGN, KS).
    public let tiled: Bool
    /// Holds the GEMM's register tiles (gemm_tiled, conv2d_s1_tiled, conv2d_s1_wgrad_tiled):
    /// built with 256 registers a thread on Intel GPUs (`KernelPlan.options`).
    public let registerTiles: Bool

    init(_ name: String, activations: Bool = false, operands: Bool = false, tiled: Bool = false, registerTiles: Bool = false) {
        self.name = name; self.activations = activations; self.operands = operands; self.tiled = tiled
        self.registerTiles = registerTiles
    }
}

public enum KernelTable {
    /// The kernel files compiled at start-up (common.cl is prepended to each).
    public static let files: [KernelFile] = [
        KernelFile("bench"),
        KernelFile("conv2d", activations: true, operands: true, tiled: true, registerTiles: true),
        KernelFile("gemm", activations: true, operands: true, tiled: true, registerTiles: true),
        KernelFile("winograd", activations: true, operands: true, tiled: true),
        KernelFile("instance_norm", activations: true),
        KernelFile("batch_norm", activations: true),
        KernelFile("elementwise", activations: true),
        KernelFile("reduce"),
        KernelFile("loss"),
        KernelFile("adam"),
        KernelFile("random", activations: true),
    ]

    /// Every kernel, file by file in the order of the sources.
    public static let kernels: [KernelInfo] = {
        var k: [KernelInfo] = []
        // adam.cl, loss.cl, elementwise.cl, random.cl: one work-item per element
        for (file, names) in [("adam", ["adam_step", "unscale_check"]),
                              ("loss", ["mse_backward", "l1_backward", "bce_logits_backward"]),
                              ("elementwise", ["leaky_relu_forward", "leaky_relu_backward", "tanh_forward", "tanh_backward",
                                               "add_scaled", "axpy", "fill", "cast_float_to_half", "cast_half_to_float"]),
                              ("random", ["random_uniform", "random_normal", "dropout_forward", "dropout_backward"])] {
            k += names.map { KernelInfo(file, $0, gpu: .element) }
        }
        // batch_norm.cl: a work-group per channel for the sums
        k += [KernelInfo("batch_norm", "batch_norm_stats", gpu: .reduction, indexed: true, scratch: true),
              KernelInfo("batch_norm", "batch_norm_eval_stats", gpu: .element),
              KernelInfo("batch_norm", "batch_norm_apply", gpu: .element),
              KernelInfo("batch_norm", "batch_norm_backward_sums", gpu: .reduction, indexed: true, scratch: true),
              KernelInfo("batch_norm", "batch_norm_backward_apply", gpu: .element)]
        // bench.cl: the ceilings
        k += ["fma_peak_8", "fma_peak_12", "fma_peak_16", "copy_bandwidth"].map { KernelInfo("bench", $0, gpu: .bench, use: .bench) }
        // conv2d.cl
        k += [KernelInfo("conv2d", "conv2d_forward", gpu: .tile2D, use: .direct),
              KernelInfo("conv2d", "conv2d_backward_data", gpu: .tile2D, use: .direct),
              KernelInfo("conv2d", "conv2d_backward_weight", gpu: .driver, use: .direct),
              KernelInfo("conv2d", "channel_sum", gpu: .reduction, indexed: true, scratch: true),
              KernelInfo("conv2d", "add_channel_bias", gpu: .element),
              KernelInfo("conv2d", "pad_phases_rows", .cpu, gpu: .fixed(4)),
              KernelInfo("conv2d", "pad_phases", .gpu, gpu: .element),
              KernelInfo("conv2d", "zero_tail", gpu: .driver),
              KernelInfo("conv2d", "conv2d_s1", gpu: .gemmLocal, use: .packedGEMM, narrow: true),
              KernelInfo("conv2d", "conv2d_s1_tiled", gpu: .tile, indexed: true, use: .tiledGEMM, narrow: true),
              KernelInfo("conv2d", "pack_flipped_weight", gpu: .pack, narrow: true),
              KernelInfo("conv2d", "unpad_fold", .cpu, gpu: .fixed(4)),
              KernelInfo("conv2d", "unpad_fold_elem", .gpu, gpu: .element),
              KernelInfo("conv2d", "pack_flat_cols", .cpu, gpu: .fixed(4)),
              KernelInfo("conv2d", "conv2d_s1_wgrad", gpu: .gemmLocal, use: .packedGEMM),
              KernelInfo("conv2d", "conv2d_s1_wgrad_tiled", gpu: .tile, indexed: true, use: .tiledGEMM),
              KernelInfo("conv2d", "pack_flat_cols_elem", .gpu, gpu: .element)]
        // gemm.cl
        k += [KernelInfo("gemm", "gemm_packed", gpu: .gemmLocal, use: .packedGEMM),
              KernelInfo("gemm", "gemm_tiled", gpu: .tile, indexed: true, use: .tiledGEMM),
              KernelInfo("gemm", "reduce_partials", gpu: .element),
              KernelInfo("gemm", "pack_rows", gpu: .pack),
              KernelInfo("gemm", "pack_cols", gpu: .bench, use: .bench)]
        // instance_norm.cl: a work-group per plane, or chunks of planes merged in order
        k += ["instance_norm_forward", "instance_norm_backward", "instance_norm_chunk_stats_wg", "instance_norm_chunk_grad_sums_wg"]
            .map { KernelInfo("instance_norm", $0, .gpu, gpu: .reduction, indexed: true, scratch: true) }
        k += [KernelInfo("instance_norm", "instance_norm_apply_elem", .gpu, gpu: .reduction),
              KernelInfo("instance_norm", "instance_norm_merge_grad", .gpu, gpu: .driver),
              KernelInfo("instance_norm", "instance_norm_apply_grad_elem", .gpu, gpu: .reduction),
              KernelInfo("instance_norm", "instance_norm_merge", gpu: .driver, cpu: .fixed(1))]
        k += ["instance_norm_chunk_stats", "instance_norm_apply", "instance_norm_chunk_grad_sums", "instance_norm_apply_grad"]
            .map { KernelInfo("instance_norm", $0, .cpu, gpu: .fixed(1)) }
        // reduce.cl: partial sums per work-group, then one group sums the partials
        k += ["sum_partial", "mse_partial", "l1_partial", "bce_logits_partial", "reduce_final"]
            .map { KernelInfo("reduce", $0, gpu: .reduction, indexed: true, scratch: true) }
        // winograd.cl
        k += [KernelInfo("winograd", "winograd_weight", gpu: .element, cpu: .fixed(1)),
              KernelInfo("winograd", "winograd_input", .cpu, gpu: .fixed(8)),
              KernelInfo("winograd", "winograd_output", .cpu, gpu: .fixed(8)),
              KernelInfo("winograd", "winograd_input_tile", gpu: .element),
              KernelInfo("winograd", "winograd_output_tile", .gpu, gpu: .element),
              KernelInfo("winograd", "winograd_gy_wgrad", gpu: .element),
              KernelInfo("winograd", "winograd_weight_grad", gpu: .element)]
        // built where TM and TN are vector widths; winograd_output_rows16 where TN is 16
        k += ["winograd_input_wgrad_rows", "winograd_gy_wgrad_rows", "winograd_weight_grad_lanes"]
            .map { KernelInfo("winograd", $0, .cpu, gpu: .fixed(1), needs: .vectorPanels) }
        k += [KernelInfo("winograd", "winograd_output_rows16", .cpu, gpu: .fixed(8), needs: .tn16)]
        return k
    }()

    /// The kernel file named `name`.
    public static func file(_ name: String) -> KernelFile? { files.first { $0.name == name } }

    /// The kernels by name (names are unique across files).
    public static let byName: [String: KernelInfo] = Dictionary(uniqueKeysWithValues: kernels.map { ($0.name, $0) })

    /// The kernels of `file`.
    public static func kernels(in file: String) -> [KernelInfo] { kernels.filter { $0.file == file } }

    /// Whether Kernels/<file>.cl built with `tile` and the shape holds `kernel`: the CPU-shaped
    /// kernels only in the CPU shape (`-DCPU_SHAPE`), the vector-lane Winograd kernels where TM
    /// and TN are OpenCL C vector widths, `winograd_output_rows16` where TN is 16.
    public static func isBuilt(_ kernel: KernelInfo, gpuShaped: Bool, tile: GEMMTile) -> Bool {
        if kernel.shape == .cpu && gpuShaped { return false }
        switch kernel.needs {
        case .vectorPanels: return tile.hasVectorPanels
        case .tn16: return tile.tn == 16
        case nil: return true
        }
    }

    /// The kernels whose work-group is part of their indexing (never shrunk at launch).
    static let indexedByGroup: Set<String> = Set(kernels.filter(\.indexedByGroup).map(\.name))
}
