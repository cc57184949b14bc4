/// What the OpenCL backend builds and how it launches, derived from a device's limits: the
/// programs (a kernel file and its build options) and each kernel's work-group. The backend
/// makes its `KernelPlan` from the real device at start-up; `cyclegan programs --profile`
/// makes the same plan from a named GPU's limits, which is what the GPU compilers' check
/// (scripts/gpu-compilers.sh) compiles with NVIDIA's, AMD's and Intel's compilers.

/// The properties of a device that the kernels' build and launch choices depend on.
public struct DeviceLimits: Sendable {
    public enum Vendor: String, Sendable { case nvidia, amd, intel, other }
    public var name: String
    public var isGPU: Bool
    public var vendor: Vendor
    public var computeUnits: Int
    /// CL_DEVICE_MAX_WORK_GROUP_SIZE (offline: what the vendor's driver reports).
    public var maxWorkGroupSize: Int
    /// CL_DEVICE_LOCAL_MEM_SIZE in bytes.
    public var localMemory: Int
    /// CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT.
    public var preferredFloatWidth: Int
    /// The warp or wavefront (CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE) where no kernel
    /// can be asked.
    public var groupMultiple: Int

    public init(name: String, isGPU: Bool, vendor: Vendor, computeUnits: Int, maxWorkGroupSize: Int, localMemory: Int,
                preferredFloatWidth: Int, groupMultiple: Int) {
        self.name = name; self.isGPU = isGPU; self.vendor = vendor; self.computeUnits = computeUnits
        self.maxWorkGroupSize = maxWorkGroupSize; self.localMemory = localMemory
        self.preferredFloatWidth = preferredFloatWidth; self.groupMultiple = groupMultiple
    }

    /// A real device's limits.
    public init(_ d: OpenCLDeviceInfo) {
        let v = d.vendor.lowercased()
        let vendor: Vendor = v.contains("nvidia") ? .nvidia : v.contains("advanced micro devices") || v.hasPrefix("amd") ? .amd
            : v.hasPrefix("intel") ? .intel : .other
        self.init(name: d.name, isGPU: d.isGPU, vendor: vendor, computeUnits: d.computeUnits, maxWorkGroupSize: d.maxWorkGroupSize,
                  localMemory: d.localMemory, preferredFloatWidth: d.preferredFloatWidth, groupMultiple: 1)
    }
}

/// A GPU by name, with the limits its vendor's OpenCL driver reports and the compiler target
/// the GPU compilers' check builds for.
public struct DeviceProfile: Sendable {
    public let name: String
    /// sm_80, sm_90 (ptxas), gfx90a, gfx1100 (clang's amdgcn), acm-g10, pvc (ocloc).
    public let target: String
    public let limits: DeviceLimits
    /// The kernels the vendor's compiler spills in its default registers (what a real device's
    /// build log says; ocloc 22.43 on pvc: gemm_tiled and conv2d_s1_wgrad in 128 a thread).
    public var spillsInDefaultRegisters: [String] = []

    /// The profiles of `cyclegan programs --profile`: NVIDIA reports 1024 work-items and 48 KiB
    /// of local memory per group; ROCm 256 work-items (its default) and 64 KiB; Intel's NEO
    /// 1024 and 64 KiB (Arc) or 128 KiB (Max).
    public static let all: [DeviceProfile] = [
        gpu("h100", "sm_90", "NVIDIA H100", .nvidia, units: 132, group: 1024, local: 49152, warp: 32),
        gpu("a100", "sm_80", "NVIDIA A100", .nvidia, units: 108, group: 1024, local: 49152, warp: 32),
        gpu("mi250", "gfx90a", "AMD Instinct MI250", .amd, units: 104, group: 256, local: 65536, warp: 64),
        gpu("rdna3", "gfx1100", "AMD Radeon RX 7900 XTX", .amd, units: 48, group: 256, local: 65536, warp: 32),
        gpu("arc", "acm-g10", "Intel Arc A770", .intel, units: 512, group: 1024, local: 65536, warp: 32),
        gpu("pvc", "pvc", "Intel Data Center GPU Max", .intel, units: 448, group: 1024, local: 131072, warp: 32,
            spills: ["gemm_tiled", "conv2d_s1_wgrad"]),
    ]

    private static func gpu(_ name: String, _ target: String, _ device: String, _ vendor: DeviceLimits.Vendor, units: Int, group: Int,
                            local: Int, warp: Int, spills: [String] = []) -> DeviceProfile {
        DeviceProfile(name: name, target: target, limits: DeviceLimits(
            name: device + " (profile)", isGPU: true, vendor: vendor, computeUnits: units, maxWorkGroupSize: group,
            localMemory: local, preferredFloatWidth: 1, groupMultiple: warp), spillsInDefaultRegisters: spills)
    }

    public static func named(_ name: String) -> DeviceProfile? { all.first { $0.name == name } }
}

/// The programs a backend builds on a device and the work-group of every kernel launch.
public struct KernelPlan: Sendable {
    /// One program: a kernel file built with `options`.
    public struct Program: Sendable {
        public let file: String
        /// The FP16 program (-DACT_HALF) of `--precision mixed`.
        public let half: Bool
        /// conv2d.cl's second build with `narrowTile`.
        public let narrow: Bool
        /// The GEMM tile its -D options carry (tiled files), else the plan's.
        public let tile: GEMMTile
        public let options: String
        /// How its kernels compute: "fp32", "tf32" (operand files under tf32) or "mixed" (FP16 storage).
        public let precision: String
        /// "conv2d mixed narrow", "gemm fp32".
        public var label: String { "\(file) \(precision)\(narrow ? " narrow" : "")" }
    }

    public let limits: DeviceLimits
    public let precision: Precision
    public let gpuShaped: Bool
    public let gemmTile: GEMMTile
    /// The GEMM kernel the products run on: `tiled` in the GPU shape where the device gives its
    /// kernels their work-group and local memory, else `packed` (or `tuning.gemmVersion`).
    public private(set) var gemmVersion: OpenCLTuning.GEMMVersion = .packed
    /// The 4-row tile of the convolutions with at most 4 output channels (conv2d.cl built a
    /// second time), where `gemmTile` is wider and the device allows it.
    public private(set) var narrowTile: GEMMTile? = nil
    /// Work-items of the reductions: a power of two within every reduction kernel's limit.
    public private(set) var reduceGroup = 1
    /// Work-items of the element-wise kernels.
    public private(set) var elementGroup = 1
    /// On Intel GPUs, the register-tile files (`KernelFile.registerTiles`) where the compiler
    /// spills a kernel the GPU shape launches by default in its default 128 registers a thread:
    /// built with 256 (`-cl-intel-256-GRF-per-thread`, half the threads per EU), said once.
    public private(set) var largeRegisterFiles: Set<String> = []
    /// What the plan fell back from, to be said once (a smaller reduction group, the packed GEMM,
    /// the large register file).
    public private(set) var notes: [String] = []

    /// Local size of the 2-D/3-D direct kernels.
    public var tile2D: [Int] { limits.maxWorkGroupSize >= 64 ? [8, 8, 1] : [1, 1, 1] }

    /// The vector width of the FMA ceiling kernels: the preferred float width, as a width
    /// OpenCL C has (1, 2, 4, 8 or 16).
    public var fmaWidth: Int { [16, 8, 4, 2].first { $0 <= limits.preferredFloatWidth } ?? 1 }

    /// `groupLimit(program, kernel)`: CL_KERNEL_WORK_GROUP_SIZE of a kernel in a program (the
    /// backend builds the program to ask); `groupMultiple` likewise its preferred multiple;
    /// `spills(program)`: the kernels its build log says spill (asked on Intel GPUs).
    public init(limits: DeviceLimits, gpuShaped: Bool, gemmTile: GEMMTile, tuning: OpenCLTuning = OpenCLTuning(),
                precision: Precision, groupLimit: (Program, String) throws -> Int,
                groupMultiple: (Program, String) throws -> Int, spills: (Program) throws -> [String]) throws {
        self.limits = limits
        self.precision = precision
        self.gpuShaped = gpuShaped
        self.gemmTile = gemmTile
        if limits.isGPU && limits.vendor == .intel {
            for p in baseProgram(half: false) where KernelTable.file(p.file)?.registerTiles == true {
                // the kernels launched by default (the packed fallback, the direct and bench kernels are not)
                let launched = Set(kernels(in: p).filter { [.always, .tiledGEMM].contains($0.use) }.map(\.name))
                let spilled = try spills(p).filter(launched.contains)
                guard !spilled.isEmpty else { continue }
                largeRegisterFiles.insert(p.file)
                notes.append("note: \(spilled.joined(separator: " and ")) spill in \(limits.name)'s default registers: "
                    + "\(p.file).cl is built with -cl-intel-256-GRF-per-thread")
            }
        }
        try fitGroupSizes(groupLimit, groupMultiple)
        gemmVersion = try chooseGEMMVersion(tuning, groupLimit)
        narrowTile = try chooseNarrowTile(groupLimit)
    }

    /// The plan a device with `limits` would make, every kernel allowed the device's
    /// largest work-group and the register-tile programs spilling where `spills` says (what
    /// `cyclegan programs --profile` lists).
    public init(limits: DeviceLimits, gpuShaped: Bool? = nil, gemmTile: GEMMTile? = nil, precision: Precision,
                spills: [String] = []) throws {
        let shaped = gpuShaped ?? limits.isGPU
        try self.init(limits: limits, gpuShaped: shaped, gemmTile: gemmTile ?? GEMMTile.defaultTile(for: limits, gpuShaped: shaped),
                      precision: precision, groupLimit: { _, _ in limits.maxWorkGroupSize },
                      groupMultiple: { _, _ in limits.groupMultiple }, spills: { _ in spills })
    }

    // MARK: programs

    /// Every program the backend builds: each kernel file, the FP16 programs under `mixed`,
    /// conv2d.cl with the narrow tile.
    public var programs: [Program] {
        var out = baseProgram(half: false)
        if precision == .mixed { out += baseProgram(half: true) }
        if let t = narrowTile {
            out += (precision == .mixed ? [false, true] : [false]).map { program("conv2d", half: $0, tile: t, narrow: true) }
        }
        return out
    }

    private func baseProgram(half: Bool) -> [Program] {
        KernelTable.files.filter { !half || $0.activations }.map { program($0.name, half: half) }
    }

    /// The program of `file` (FP16 when `half`, with `tile` or the plan's).
    public func program(_ file: String, half: Bool = false, tile: GEMMTile? = nil, narrow: Bool = false) -> Program {
        let t = tile ?? gemmTile
        let p = half ? "mixed" : precision == .tf32 && KernelTable.file(file)?.operands == true ? "tf32" : "fp32"
        return Program(file: file, half: half, narrow: narrow, tile: t, options: options(for: file, half: half, tile: t), precision: p)
    }

    /// Build options of a kernel file: the GEMM tile (tiled files), the ceiling's width, the
    /// CPU-shaped kernels where the kernel shape is the CPU's (`-DCPU_SHAPE`), FP16
    /// activations when `half`, the precision's rounding; 256 registers a thread for the
    /// `largeRegisterFiles`.
    public func options(for file: String, half: Bool = false, tile: GEMMTile? = nil) -> String {
        let f = KernelTable.file(file)
        var o: [String] = []
        if f?.tiled == true { o.append((tile ?? gemmTile).buildOptions) }
        if file == "bench" { o.append("-DFMA_WIDTH=\(fmaWidth)") }
        if !gpuShaped { o.append("-DCPU_SHAPE") }
        if half { o.append("-DACT_HALF") }
        if precision == .tf32 && f?.operands == true { o.append("-DROUND_TF32") }
        if largeRegisterFiles.contains(file) { o.append("-cl-intel-256-GRF-per-thread") }
        return o.joined(separator: " ")
    }

    /// The kernels `program` holds (the table's, less those its shape or tile leaves out).
    public func kernels(in program: Program) -> [KernelInfo] {
        KernelTable.kernels(in: program.file).filter { KernelTable.isBuilt($0, gpuShaped: gpuShaped, tile: program.tile) }
    }

    // MARK: launches

    /// Work-items per group of `kernel` launched from a program built with `tile` (nil: the
    /// driver chooses, or `cyclegan bench` does); an upper bound where a short grid takes fewer.
    public func workGroup(_ kernel: KernelInfo, tile: GEMMTile? = nil) -> Int? {
        let t = tile ?? gemmTile
        switch kernel.group(gpuShaped: gpuShaped) {
        case .driver, .bench: return nil
        case .fixed(let n): return min(n, limits.maxWorkGroupSize)
        case .element: return elementGroup
        case .reduction: return reduceGroup
        case .tile: return t.wgn * t.wgm
        case .gemmLocal: return t.local.map { max($0.reduce(1, *), min(8, limits.maxWorkGroupSize)) }
        case .pack: return t.tm * max(1, min(16, limits.maxWorkGroupSize / t.tm))
        case .tile2D: return tile2D.reduce(1, *)
        }
    }

    /// Bytes of __local memory the launcher passes as an argument.
    public func localArgumentBytes(_ kernel: KernelInfo) -> Int { kernel.localScratch ? 4 * reduceGroup : 0 }

    /// What a GPU does with `kernel` of `program`: "launched", "fallback" (the packed GEMM's
    /// kernels where the tiled ones run), "direct" (`CYCLEGAN_CONV=direct`), "bench", or
    /// "unused" (built, never launched with this plan).
    public func use(of kernel: KernelInfo, in program: Program) -> String {
        switch kernel.use {
        case .bench: return "bench"
        case .direct: return program.narrow ? "unused" : "direct"
        default: break
        }
        // the narrow build's packed kernels are not the fallback's: a packed plan builds another narrow tile
        if program.narrow && (!kernel.narrow || (kernel.use == .packedGEMM && gemmVersion == .tiled)) { return "unused" }
        if kernel.shape == .gpu && !gpuShaped { return "unused" }
        switch (kernel.use, gemmVersion) {
        case (.packedGEMM, .tiled): return "fallback"
        case (.tiledGEMM, .packed): return "unused"
        default: return "launched"
        }
    }

    /// Why a launch of `name` from a program built with `tile`, with local size `local`,
    /// disagrees with this plan and `KernelTable`; nil where it agrees. Debug builds check every
    /// launch (`OpenCLBackend.run`), so the tests fail when a launcher and the table differ.
    func launchProblem(_ name: String, tile: GEMMTile, local: [Int]?) -> String? {
        guard let k = KernelTable.byName[name] else { return "launching \(name): not in KernelTable (OpenCLKernels.swift)" }
        let shape = gpuShaped ? "GPU" : "CPU"
        if (k.shape == .cpu && gpuShaped) || (k.shape == .gpu && !gpuShaped) {
            return "launching \(name) in the \(shape) shape: KernelTable says only the \(k.shape.rawValue.uppercased()) shape launches it"
        }
        if k.group(gpuShaped: gpuShaped) == .bench { return nil }
        let items = local.map { $0.reduce(1, *) }
        let expected = workGroup(k, tile: tile)
        let fits: Bool
        switch (expected, items) {
        case (nil, nil): fits = true
        case (let e?, let n?): fits = k.indexedByGroup ? n == e : n <= e
        default: fits = false
        }
        if fits { return nil }
        return "launching \(name) in the \(shape) shape with \(items.map { "\($0) work-items" } ?? "no local size"): "
            + "KernelTable and the plan say \(expected.map { k.indexedByGroup ? "\($0)" : "at most \($0)" } ?? "the driver chooses")"
    }

    // MARK: choices

    /// The reductions' and the element-wise kernels' work-groups, fitted to what each kernel allows.
    private mutating func fitGroupSizes(_ groupLimit: (Program, String) throws -> Int,
                                        _ groupMultiple: (Program, String) throws -> Int) throws {
        // GPUs: 256 work-items per reduction; CPUs (PoCL turns a work-group into a loop and
        // splits it at every barrier): 16, each summing a long strided slice.
        let wanted = gpuShaped ? 256 : 16
        var limit = limits.maxWorkGroupSize
        for k in KernelTable.kernels where k.indexedByGroup && k.gpuGroup == .reduction {
            limit = min(limit, try self.groupLimit(k, groupLimit))
        }
        var g = 1
        while g * 2 <= min(wanted, limit) { g *= 2 }
        reduceGroup = g
        if g < wanted && g < limits.maxWorkGroupSize {
            notes.append("note: reductions run in work-groups of \(g) work-items, not \(wanted): the most \(limits.name) allows them")
        }
        var elementLimit = limits.maxWorkGroupSize
        for name in ["add_scaled", "fill", "leaky_relu_forward"] {
            elementLimit = min(elementLimit, try self.groupLimit(KernelTable.byName[name]!, groupLimit))
        }
        let multiple = max(1, try groupMultiple(program("elementwise"), "add_scaled"))
        var e = gpuShaped ? 128 : 64
        if e % multiple != 0 { e = (e + multiple - 1) / multiple * multiple }
        if e > elementLimit { e = elementLimit >= multiple ? elementLimit / multiple * multiple : elementLimit }
        elementGroup = max(1, e)
    }

    /// The smallest limit of `kernel` over its programs (FP16 too under `mixed`).
    private func groupLimit(_ kernel: KernelInfo, _ groupLimit: (Program, String) throws -> Int, tile: GEMMTile? = nil) throws -> Int {
        let halves = precision == .mixed && KernelTable.file(kernel.file)?.activations == true ? [false, true] : [false]
        return try halves.map { try groupLimit(program(kernel.file, half: $0, tile: tile), kernel.name) }.min() ?? limits.maxWorkGroupSize
    }

    /// The tiled GEMM in the GPU shape, unless the device cannot give its kernels their
    /// work-group or local memory: then the packed one, said once (an error where `tuning`
    /// demanded it).
    private mutating func chooseGEMMVersion(_ tuning: OpenCLTuning, _ groupLimit: (Program, String) throws -> Int) throws
        -> OpenCLTuning.GEMMVersion {
        let wanted = tuning.gemmVersion ?? (gpuShaped ? .tiled : .packed)
        guard wanted == .tiled else { return wanted }
        let items = gemmTile.wgm * gemmTile.wgn
        var limit = limits.maxWorkGroupSize
        for k in KernelTable.kernels where k.gpuGroup == .tile { limit = min(limit, try self.groupLimit(k, groupLimit)) }
        guard items > limit || gemmTile.tiledLocalBytes > limits.localMemory else { return .tiled }
        let why = "the tiled GEMM kernels need \(items) work-items and \(gemmTile.tiledLocalBytes) bytes of local memory; "
            + "\(limits.name) allows \(limit) and has \(limits.localMemory)"
        if tuning.gemmVersion == .tiled { throw OptionError(why) }
        notes.append("note: \(why): using gemm_packed")
        return .packed
    }

    /// 4 × TN register tiles, in version 2 work-groups of 64 × 1 with slices of 4 (a quarter
    /// of the wide tile's local memory), where the device allows its work-group.
    private func chooseNarrowTile(_ groupLimit: (Program, String) throws -> Int) throws -> GEMMTile? {
        guard gemmTile.tm > 4 || (gemmVersion == .tiled && gemmTile.wgm > 1) else { return nil }
        var t = GEMMTile(tm: 4, tn: gemmTile.tn, local: gemmTile.local)
        if gemmVersion == .tiled {
            t.wgm = 1; t.wgn = 64; t.ks = 4
            let limit = try self.groupLimit(KernelTable.byName["conv2d_s1_tiled"]!, groupLimit, tile: t)
            guard t.wgn <= limit, t.tiledLocalBytes <= limits.localMemory else { return nil }
        }
        return t
    }
}
