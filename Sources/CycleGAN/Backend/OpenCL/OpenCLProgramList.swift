import Foundation

/// The programs of every plan a device or profile makes over the precisions (and with
/// `candidates`, over `cyclegan tune`'s tilings): each program once, by file and options,
/// named by the first plan that builds it, with each kernel's work-group, __local argument
/// bytes and use. `cyclegan programs --json` prints it; scripts/gpu-compilers.sh compiles it.
public struct ProgramList: Codable, Sendable {
    public struct Kernel: Codable, Sendable {
        public let name: String
        /// Work-items per group the launcher asks (nil: the driver chooses, or bench does).
        public let workGroup: Int?
        /// Bytes of __local memory passed as an argument.
        public let localArgumentBytes: Int
        /// launched, fallback, direct, bench or unused (`KernelPlan.use`).
        public let use: String
    }
    public struct Program: Codable, Sendable {
        /// A file name: "conv2d.mixed.narrow", "gemm.tf32.t4x4-16x16-ks16" (a tune candidate).
        public let id: String
        public let file: String
        public let options: String
        /// "default", "narrow", or the tune candidate's tiling.
        public let variant: String
        public let precision: String
        public let kernels: [Kernel]
        /// The kernels of the file this program leaves out (the other shape's, or its tile's).
        public let notBuilt: [String]
        /// Holds the GEMM's register tiles (`KernelFile.registerTiles`: 256 registers a thread
        /// on Intel GPUs where 128 spill).
        public let registerTiles: Bool
    }

    public let profile: String
    public let target: String
    public let device: String
    public let kernelShape: String
    public let maxWorkGroupSize: Int
    public let localMemory: Int
    public let programs: [Program]
    public let notes: [String]

    /// The programs of `plans` (a variant name and a plan each; the first plan is the default one).
    public init(profile: String, target: String, plans: [(variant: String, plan: KernelPlan)]) {
        var seen = Set<String>(), out: [Program] = [], notes: [String] = []
        for (variant, plan) in plans {
            for p in plan.programs where seen.insert(p.file + "|" + p.options).inserted {
                let built = plan.kernels(in: p)
                let variantName = p.narrow ? (variant == "default" ? "narrow" : variant + ", narrow") : variant
                let t = plan.gemmTile
                let id = [p.file, p.precision] + (p.narrow ? ["narrow"] : [])
                    + (variant == "default" ? [] : ["t\(t.tm)x\(t.tn)-\(t.wgm)x\(t.wgn)-ks\(t.ks)"])
                out.append(Program(
                    id: id.joined(separator: "."), file: p.file, options: p.options, variant: variantName, precision: p.precision,
                    kernels: built.map { Kernel(name: $0.name, workGroup: plan.workGroup($0, tile: p.tile),
                                                localArgumentBytes: plan.localArgumentBytes($0), use: plan.use(of: $0, in: p)) },
                    notBuilt: KernelTable.kernels(in: p.file).map(\.name).filter { n in !built.contains { $0.name == n } },
                    registerTiles: KernelTable.file(p.file)?.registerTiles == true))
            }
            for n in plan.notes where !notes.contains(n) { notes.append(n) }
        }
        let first = plans[0].plan
        self.profile = profile
        self.target = target
        device = first.limits.name
        kernelShape = first.gpuShaped ? "gpu" : "cpu"
        maxWorkGroupSize = first.limits.maxWorkGroupSize
        localMemory = first.limits.localMemory
        programs = out
        self.notes = notes
    }

    /// The plans over `precisions`, and with `candidates` over the tune tilings of the kernel
    /// shape, made by `plan(tile, precision)` (tile nil: the default).
    public static func plans(precisions: [Precision], candidates: [GEMMTile],
                             plan: (GEMMTile?, Precision) throws -> KernelPlan) throws -> [(variant: String, plan: KernelPlan)] {
        var plans: [(variant: String, plan: KernelPlan)] = try precisions.map { ("default", try plan(nil, $0)) }
        for t in candidates {
            for p in precisions {
                plans.append(("tile \(t.tm)x\(t.tn), work-group \(t.wgm)x\(t.wgn), slice \(t.ks)", try plan(t, p)))
            }
        }
        return plans
    }

    /// What a device with a profile's limits builds (the offline list).
    public static func offline(_ profile: DeviceProfile, precisions: [Precision], candidates: Bool) throws -> ProgramList {
        let limits = profile.limits
        let tiles = candidates ? GEMMTile.candidates(gpuShaped: limits.isGPU, limits: limits) : []
        let plans = try plans(precisions: precisions, candidates: tiles) { t, p in
            try KernelPlan(limits: limits, gemmTile: t, precision: p, spills: profile.spillsInDefaultRegisters)
        }
        return ProgramList(profile: profile.name, target: profile.target, plans: plans)
    }

    /// What `device` builds in its kernel shape: the plans the backend makes there with `tile`
    /// (`train`'s: the tuned one, else $CYCLEGAN_GEMM_TILE's, else the device's default; the
    /// programs are built, in one context, to ask the driver each kernel's limit).
    public static func onDevice(_ device: OpenCLDeviceInfo, tile: GEMMTile? = nil, precisions: [Precision],
                                candidates: Bool) throws -> ProgramList {
        let limits = DeviceLimits(device)
        let shaped = try OpenCLTuning().isGPUShaped(on: device)
        let tile = try tile ?? GEMMTile.forDevice(limits, gpuShaped: shaped)
        let tiles = candidates ? GEMMTile.candidates(gpuShaped: shaped, limits: limits) : []
        let cl = try OpenCLContext(device: device, profiling: false)
        let plans = try plans(precisions: precisions, candidates: tiles) { t, p in
            try OpenCLBackend.plan(cl, gpuShaped: shaped, gemmTile: t ?? tile, precision: p)
        }
        return ProgramList(profile: device.spec, target: device.name, plans: plans)
    }

    /// The list as JSON (sorted keys, one program a block).
    public func json() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}
