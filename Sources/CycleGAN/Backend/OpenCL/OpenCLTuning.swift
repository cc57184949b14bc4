import Foundation

/// The choices the OpenCL backend makes from its device — the kernels' shape, the GEMM
/// tiling, how far a reduction is split, the instance norm's chunk — and the overrides
/// that make them explicit: for tuning, and for the tests, which run on a 2-core CPU the
/// paths that production takes on larger devices (Tests/CycleGANTests/ForcedPathTests.swift).

/// Overrides of choices the OpenCL backend otherwise derives from the device, passed to
/// `OpenCLBackend.init(device:tuning:)` and read once there. `nil` leaves a choice to the
/// device (and to $CYCLEGAN_KERNEL_SHAPE for the shape).
public struct OpenCLTuning: Sendable, Equatable {
    /// The kernel variants a backend runs.
    public enum KernelShape: String, Sendable {
        /// Barrier-free kernels, long loops per work-item, wide GEMM tiles (what PoCL runs well).
        case cpu
        /// Work-group tree reductions, small GEMM tiles, many work-items.
        case gpu
    }

    /// The kernel shape; nil: $CYCLEGAN_KERNEL_SHAPE (`cpu` or `gpu`), else the device type.
    public var kernelShape: KernelShape?
    /// Into how many slices a weight gradient's reduction over output positions is split
    /// (at most one slice per position); nil: enough slices to give every compute unit work.
    public var reductionSplits: Int?
    /// Elements per chunk of a plane in the CPU-shaped instance norm; nil: 2048.
    public var normChunk: Int?

    /// The GEMM kernels of Kernels/gemm.cl, numbered as llm.c numbers kernel versions.
    public enum GEMMVersion: Int, Sendable {
        /// `gemm_packed`: a register tile per work-item, no local memory (the CPU shape).
        case packed = 1
        /// `gemm_tiled`: work-group tiles staged in local memory (the GPU shape).
        case tiled = 2
    }
    /// The GEMM kernel; nil: `tiled` in the GPU shape where the device allows its
    /// work-group and local memory, else `packed`.
    public var gemmVersion: GEMMVersion?

    /// A lower work-group limit for every kernel than the driver reports (nil: the driver's
    /// CL_KERNEL_WORK_GROUP_SIZE), for the tests of the fallbacks a device's limits cause.
    public var workGroupLimit: Int?
    /// The most floats a convolution's scratch buffer (padded input, phase planes, Winograd
    /// transforms) may hold before the pass runs in bands of output rows; nil: 16M (64 MiB).
    /// Images at training sizes never reach it; large photographs at `test` do.
    public var scratchLimit: Int?
    /// The most bytes of operands derived from weights (`DerivedWeightCache`) kept between
    /// passes; nil: an eighth of the device's memory, at most 512 MiB; 0: none kept.
    public var weightCacheLimit: Int?

    public init(kernelShape: KernelShape? = nil, reductionSplits: Int? = nil, normChunk: Int? = nil,
                gemmVersion: GEMMVersion? = nil, workGroupLimit: Int? = nil, scratchLimit: Int? = nil,
                weightCacheLimit: Int? = nil) {
        self.kernelShape = kernelShape
        self.reductionSplits = reductionSplits
        self.normChunk = normChunk
        self.gemmVersion = gemmVersion
        self.workGroupLimit = workGroupLimit
        self.scratchLimit = scratchLimit
        self.weightCacheLimit = weightCacheLimit
    }

    /// The kernel shape on `device`: the override, else $CYCLEGAN_KERNEL_SHAPE, else the device type.
    public func isGPUShaped(on device: OpenCLDeviceInfo) throws -> Bool {
        if let kernelShape { return kernelShape == .gpu }
        guard let env = ProcessInfo.processInfo.environment["CYCLEGAN_KERNEL_SHAPE"], !env.isEmpty else { return device.isGPU }
        guard let shape = KernelShape(rawValue: env) else {
            throw OptionError("CYCLEGAN_KERNEL_SHAPE: expected cpu or gpu, got \"\(env)\"")
        }
        return shape == .gpu
    }
}

/// Tile sizes of the packed GEMM for one device, passed to gemm.cl as -D defines.
public struct GEMMTile: Sendable {
    public var tm: Int, tn: Int
    /// Local size of the 3-D GEMM grid (n-blocks, m-blocks, splits).
    public var local: [Int]?
    /// gemm_tiled's work-group: `wgn` × `wgm` work-items, each with one TM × TN tile, over
    /// r slices of `ks` staged in local memory (64 × 128 tiles of C with the GPU's 4 × 8;
    /// `gpu` takes slices of 4).
    public var wgm = 16, wgn = 16, ks = 16
    /// Local size of the stride-1 conv grid (ox-blocks, rows, m-blocks).
    var convLocal: [Int]? { local.map { [$0[0], 1, $0[1]] } }
    var buildOptions: String { "-DTM=\(tm) -DTN=\(tn) -DWGM=\(wgm) -DWGN=\(wgn) -DKS=\(ks)" }
    /// Bytes of local memory the tiled kernels need: two slices of each tile (double-buffered).
    var tiledLocalBytes: Int { 2 * 4 * ks * (wgm * tm + tm + wgn * tn + tn) }
    /// Whether a panel's TM and TN lanes are each a vector width of OpenCL C, as the
    /// vector-lane kernels of winograd.cl need (built only then).
    var hasVectorPanels: Bool { [2, 4, 8, 16].contains(tm) && [2, 4, 8, 16].contains(tn) }
    /// "TMxTN, local L0xL1" (the spelling of $CYCLEGAN_GEMM_TILE, "TMxTN:L0xL1").
    public var description: String { "\(tm)x\(tn), local " + (local.map { "\($0[0])x\($0[1])" } ?? "any") }

    public init(tm: Int, tn: Int, local: [Int]?) {
        self.tm = tm; self.tn = tn; self.local = local
    }

    /// The tiling for a CPU whose preferred float vector width is `width`. The TM
    /// accumulators of TN floats must fit the vector register file with room for the
    /// loaded B vector and the broadcasts, or PoCL spills them:
    /// - width 16 (AVX-512, 32 registers): 16×16, 16 registers of accumulators, 8 work-items
    ///   along M sharing an input panel (at the FMA ceiling on Zen 4 and Zen 5);
    /// - narrower (AVX2, SSE, NEON: 16 registers on x86): 6 rows of two vectors, 12
    ///   registers, 16 work-items along M (Zen 3, AVX2: 16×16 spilled and ran at 40
    ///   GFLOP/s on the residual conv, 6×16 at 150, with an FMA ceiling of 200).
    static func cpu(width: Int) -> GEMMTile {
        width >= 16 ? GEMMTile(tm: 16, tn: 16, local: [1, 8, 1])
            : GEMMTile(tm: 6, tn: min(16, 2 * max(1, width)), local: [1, 16, 1])
    }

    /// The default tiling: on GPUs small register tiles, many work-items (`gpu`); on CPUs
    /// `cpu(width:)`.
    public static func defaultTile(for d: DeviceLimits, gpuShaped: Bool) -> GEMMTile {
        gpuShaped ? gpu : cpu(width: d.preferredFloatWidth)
    }

    /// The GPU shape's tiling: 4 × 8 outputs a work-item, 16 × 16 work-items (64 × 128 tiles
    /// of C, 42.7 multiply-adds per float loaded), slices of 4 rows. The slice sets the
    /// registers (ptxas, sm_90: 80–96 at 4, 118–132 at 8, 163–178 at 16) and so the resident
    /// work-groups: 2–3 per SM at 4, where 8 and 16 leave gemm_tiled one (Kernels/RESOURCES.md).
    static let gpu: GEMMTile = {
        var t = GEMMTile(tm: 4, tn: 8, local: [16, 4, 1])
        t.ks = 4
        return t
    }()

    /// The tilings `cyclegan tune` tries: around the defaults of the kernel shape, each within
    /// the device's work-group limit.
    public static func candidates(gpuShaped: Bool, limits: DeviceLimits) -> [GEMMTile] {
        func tile(_ tm: Int, _ tn: Int, _ local: [Int]?, _ wgm: Int = 16, _ wgn: Int = 16, _ ks: Int = 16) -> GEMMTile {
            var t = GEMMTile(tm: tm, tn: tn, local: local)
            t.wgm = wgm; t.wgn = wgn; t.ks = ks
            return t
        }
        // GPUs: the default, longer slices (fewer barriers, more registers), 4 × 4 tiles (fewer
        // registers, reuse 32), and wider tiles in smaller groups.
        let all: [GEMMTile] = gpuShaped
            ? [gpu, tile(4, 8, [16, 4, 1], 16, 16, 8), tile(4, 8, [16, 4, 1]), tile(4, 4, [16, 4, 1], 16, 16, 4),
               tile(4, 4, [16, 4, 1], 16, 16, 8), tile(4, 4, [16, 4, 1]), tile(4, 4, [16, 4, 1], 8, 8, 16),
               tile(8, 8, [8, 8, 1]), tile(8, 8, [8, 8, 1], 8, 8, 16), tile(8, 4, [16, 4, 1])]
            : [cpu(width: limits.preferredFloatWidth), tile(16, 16, [1, 8, 1]), tile(16, 16, [1, 16, 1]),
               tile(6, 16, [1, 16, 1]), tile(8, 16, [1, 8, 1]), tile(16, 8, [1, 8, 1])]
        var seen = Set<String>()
        return all.filter { t in
            (t.local?.reduce(1, *) ?? 1) <= limits.maxWorkGroupSize && seen.insert(t.buildOptions + " \(t.description)").inserted
        }
    }

    /// `defaultTile`, unless $CYCLEGAN_GEMM_TILE ("TMxTN" or "TMxTN:L0xL1", for tuning)
    /// overrides it; a malformed one is an error, and a local size past the device's limit is
    /// dropped with a note.
    static func forDevice(_ d: DeviceLimits, gpuShaped: Bool) throws -> GEMMTile {
        var tile = defaultTile(for: d, gpuShaped: gpuShaped)
        if let s = ProcessInfo.processInfo.environment["CYCLEGAN_GEMM_TILE"], !s.isEmpty {
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            let mn = parts[0].split(separator: "x").map { Int($0) }
            let l = parts.count == 2 ? parts[1].split(separator: "x").map { Int($0) } : []
            guard parts.count <= 2, mn.count == 2, let tm = mn[0], let tn = mn[1], (1...32).contains(tm),
                  [1, 2, 4, 8, 16].contains(tn), parts.count == 1 || (l.count == 2 && l.allSatisfy { ($0 ?? 0) >= 1 }) else {
                throw OptionError("CYCLEGAN_GEMM_TILE: expected TMxTN or TMxTN:L0xL1 with TM 1 to 32, TN 1, 2, 4, 8 or 16 "
                    + "and positive local sizes, got \"\(s)\"")
            }
            tile.tm = tm; tile.tn = tn
            if parts.count == 2 { tile.local = [l[0]!, l[1]!, 1] }
        }
        if let l = tile.local, l.reduce(1, *) > d.maxWorkGroupSize {
            FileHandle.standardError.write(Data(("note: GEMM work-groups of \(l[0])x\(l[1]) exceed \(d.name)'s limit of "
                + "\(d.maxWorkGroupSize) work-items; the driver chooses the local size instead\n").utf8))
            tile.local = nil
        }
        return tile
    }
}
