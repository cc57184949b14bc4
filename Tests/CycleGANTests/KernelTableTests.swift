import XCTest
@testable import CycleGAN
import CycleGANKernels

/// `KernelTable` (OpenCLKernels.swift) against the sources and the launchers: every program
/// a plan builds holds exactly the kernels the table says (CL_PROGRAM_KERNEL_NAMES on the
/// test device, both kernel shapes, every precision, the narrow build and a tune candidate);
/// every kernel of the sources is in the table; the GPU profiles' lists name every file; and
/// the launch check of debug builds refuses what the table does not say. (Debug builds check
/// every launch of every other test against the table, so a launcher that drifts from it
/// fails there.)
final class KernelTableTests: XCTestCase {
    /// Every kernel named in Kernels/*.cl (reduce.cl's macro-made ones by their macro calls).
    static func sourceKernels() throws -> [String: String] {
        var out: [String: String] = [:]
        for f in KernelTable.files {
            let text = try OpenCLContext.source(named: f.name)
            let pattern = #/__kernel\s+(?:__attribute__\s*\(\(.*?\)\)\s*)?void\s+(\w+)\s*\(|PARTIAL_KERNEL\((\w+),/#
            for m in text.matches(of: pattern) {
                let name = String(m.output.1 ?? m.output.2 ?? "")
                if name != "name" && !name.isEmpty { out[name] = f.name }
            }
        }
        return out
    }

    func testTheTableNamesEveryKernelOfTheSourcesOnce() throws {
        let source = try Self.sourceKernels()
        XCTAssertEqual(Set(source.keys), Set(KernelTable.kernels.map(\.name)), "KernelTable against Kernels/*.cl")
        for k in KernelTable.kernels { XCTAssertEqual(source[k.name], k.file, "\(k.name)'s file") }
        XCTAssertEqual(KernelTable.kernels.count, KernelTable.byName.count, "kernel names are unique")
        XCTAssertEqual(Set(KernelTable.files.map(\.name) + ["common"]), Set(embeddedKernelSources.keys), "KernelTable.files against Kernels.swift")
    }

    /// Package.swift's resource list (SwiftPM needs its own) and Kernels/README.md's table of
    /// kernels against `KernelTable`.
    func testPackageSwiftAndTheKernelsReadmeNameWhatTheTableHolds() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let package = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let embedded = package.matches(of: #/\.embedInCode\("(\w+)\.cl"\)/#).map { String($0.output.1) }
        XCTAssertEqual(Set(embedded), Set(KernelTable.files.map(\.name) + ["common"]), "Package.swift's .embedInCode list")
        let readme = try String(contentsOf: root.appendingPathComponent("Kernels/README.md"), encoding: .utf8)
        for k in KernelTable.kernels where k.use != .bench {
            XCTAssertTrue(readme.contains("`\(k.name)`"), "Kernels/README.md does not name \(k.name)")
        }
    }

    func testEveryBuiltProgramHoldsTheKernelsTheTableSays() throws {
        let ocl = try TestDevices.requireOpenCL()
        let cl = try OpenCLContext(device: ocl.device, profiling: false)
        let limits = DeviceLimits(ocl.device)
        var checked = 0
        for gpuShaped in [false, true] {
            var tiles: [GEMMTile?] = [nil]
            if gpuShaped, let other = GEMMTile.candidates(gpuShaped: true, limits: limits).first(where: { $0.tm != 4 || $0.tn != 8 }) {
                tiles.append(other)
            }
            for tile in tiles {
                for precision in Precision.allCases {
                    let plan = try KernelPlan(limits: limits, gpuShaped: gpuShaped, gemmTile: tile, precision: precision)
                    XCTAssertTrue(plan.programs.contains { $0.narrow }, "the plan has a narrow build")
                    for p in plan.programs {
                        let program = try cl.program(p.file, options: p.options)
                        XCTAssertEqual(Set(cl.kernelNames(program)), Set(plan.kernels(in: p).map(\.name)),
                                       "\(p.label) [\(p.options)]: its kernels against KernelTable")
                        checked += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 40)
    }

    func testTheGPUProfilesListEveryFileAndOnlyGPUShapedKernels() throws {
        let source = try Self.sourceKernels()
        for profile in DeviceProfile.all {
            let list = try ProgramList.offline(profile, precisions: Precision.allCases, candidates: true)
            XCTAssertEqual(list.kernelShape, "gpu", profile.name)
            XCTAssertEqual(Set(list.programs.map(\.file)), Set(KernelTable.files.map(\.name)), "\(profile.name): every file")
            let named = Set(list.programs.flatMap { $0.kernels.map(\.name) + $0.notBuilt })
            XCTAssertEqual(named, Set(source.keys), "\(profile.name): every kernel built or said not built")
            for p in list.programs {
                XCTAssertFalse(p.options.contains("CPU_SHAPE"), "\(profile.name) \(p.id)")
                for k in p.kernels { XCTAssertNotEqual(KernelTable.byName[k.name]?.shape, .cpu, "\(profile.name) \(p.id) builds \(k.name)") }
                if p.variant == "default", p.file == "gemm", p.precision == "fp32" {
                    XCTAssertEqual(p.kernels.first { $0.name == "gemm_tiled" }?.workGroup, 256, profile.name)
                    XCTAssertEqual(p.kernels.first { $0.name == "gemm_tiled" }?.use, "launched", profile.name)
                    XCTAssertEqual(p.kernels.first { $0.name == "gemm_packed" }?.use, "fallback", profile.name)
                }
            }
            XCTAssertEqual(Set(list.programs.map(\.id)).count, list.programs.count, "\(profile.name): program ids are unique")
            // 256 registers a thread for a register-tile file exactly where a kernel it launches by default
            // spills in the default (pvc: gemm_tiled; conv2d_s1_wgrad spills too, but is the fallback)
            let large = list.programs.filter { $0.options.contains("-cl-intel-256-GRF-per-thread") }.map(\.file)
            XCTAssertEqual(Set(large), profile.name == "pvc" ? ["gemm"] : [], "\(profile.name): only where a kernel launched by default spills")
        }
    }

    func testTheLaunchCheckRefusesWhatTheTableDoesNotSay() throws {
        let limits = DeviceProfile.named("h100")!.limits
        let gpu = try KernelPlan(limits: limits, precision: .fp32)
        let cpu = try KernelPlan(limits: limits, gpuShaped: false, precision: .fp32)
        let t = gpu.gemmTile
        XCTAssertNil(gpu.launchProblem("gemm_tiled", tile: t, local: [t.wgn, t.wgm, 1]))
        XCTAssertNotNil(gpu.launchProblem("gemm_tiled", tile: t, local: [t.wgn, t.wgm / 2, 1]), "a tiled kernel in a smaller group")
        XCTAssertNil(gpu.launchProblem("fill", tile: t, local: [gpu.elementGroup]))
        XCTAssertNil(gpu.launchProblem("winograd_gy_wgrad", tile: t, local: [16, 1]), "fewer items than the element group")
        XCTAssertNotNil(gpu.launchProblem("fill", tile: t, local: [2 * gpu.elementGroup]), "more items than the element group")
        XCTAssertNotNil(gpu.launchProblem("fill", tile: t, local: nil), "the driver's choice for a sized kernel")
        XCTAssertNotNil(gpu.launchProblem("zero_tail", tile: t, local: [64]), "a size for a kernel the driver sizes")
        XCTAssertNotNil(gpu.launchProblem("winograd_input", tile: t, local: [1, 8]), "a CPU-shaped kernel in the GPU shape")
        XCTAssertNotNil(cpu.launchProblem("pad_phases", tile: cpu.gemmTile, local: [64, 1, 1]), "a GPU-shaped kernel in the CPU shape")
        XCTAssertNil(cpu.launchProblem("pad_phases_rows", tile: cpu.gemmTile, local: [4, 1]))
        XCTAssertNotNil(gpu.launchProblem("no_such_kernel", tile: t, local: nil))
    }

    func testEveryKernelsArgumentsAreItsSignatureOnThePoCLCompiler() throws {
        let ocl = try TestDevices.requireOpenCL()
        let cl = try OpenCLContext(device: ocl.device, profiling: false)
        XCTAssertEqual(Set(KernelTable.signatures.keys), Set(KernelTable.kernels.map(\.name)), "a signature for every kernel, no other")
        var checked = 0
        for gpuShaped in [false, true] {
            let plan = try KernelPlan(limits: DeviceLimits(ocl.device), gpuShaped: gpuShaped, precision: .mixed)
            for p in plan.programs {
                let options = p.options + " -cl-kernel-arg-info"
                for k in plan.kernels(in: p) {
                    let kernel = try cl.kernel(p.file, k.name, options: options)
                    XCTAssertNil(cl.argumentCountProblem(kernel, k.name, declared: k.arguments), p.label)
                    for (i, d) in k.arguments.enumerated() {
                        guard let info = cl.argumentInfo(kernel, i) else { XCTFail("\(k.name): no argument information"); continue }
                        let expected = d.expectedInfo(half: p.half)
                        let what = "\(p.label) \(k.name) argument \(i) (\(d))"
                        XCTAssertEqual(info.address, expected.address, what)
                        XCTAssertEqual(info.typeName, expected.typeName, what)
                        XCTAssertEqual(info.name, d.name, what)
                        if case .global(_, let const_) = d.kind { XCTAssertEqual(info.const, const_, "\(what): const") }
                        checked += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 1000)
    }

    func testADeclarationThatDisagreesWithItsKernelFails() throws {
        let ocl = try TestDevices.requireOpenCL()
        let cl = try OpenCLContext(device: ocl.device, profiling: false)
        let k = KernelTable.byName["gemm_tiled"]!
        let kernel = try cl.kernel("gemm", k.name, options: ocl.plan.options(for: "gemm"))
        XCTAssertNil(cl.argumentCountProblem(kernel, k.name, declared: k.arguments))
        XCTAssertNotNil(cl.argumentCountProblem(kernel, k.name, declared: Array(k.arguments.dropLast())), "one argument short")
        // a launch whose arguments are not the signature's: one short, a float for an int, an FP16 buffer for a float one
        let f = ocl.makeBuffer(count: 4, dtype: .float32), h = ocl.makeBuffer(count: 4, dtype: .float16)
        XCTAssertNil(KernelTable.argumentProblem("fill", half: false, [.buffer(f), .float(0), .int(4)]))
        XCTAssertNil(KernelTable.argumentProblem("fill", half: true, [.buffer(h), .float(0), .int(4)]))
        XCTAssertNotNil(KernelTable.argumentProblem("fill", half: false, [.buffer(f), .float(0)]))
        XCTAssertNotNil(KernelTable.argumentProblem("fill", half: false, [.buffer(f), .float(0), .float(4)]))
        XCTAssertNotNil(KernelTable.argumentProblem("zero_tail", half: true, [.buffer(h), .int(0), .int(4)]))
    }

    /// A kernel whose work-group is part of its indexing (`indexedByGroup`) is one whose body
    /// reads its group or local id, holds a barrier or local memory, or calls tree_sum; a
    /// declaration that says otherwise fails here.
    func testTheGroupShapeFlagIsWhatTheSourceSays() throws {
        for f in KernelTable.files {
            let text = try OpenCLContext.source(named: f.name)
            for k in KernelTable.kernels(in: f.name) {
                let body = try XCTUnwrap(Self.body(of: k.name, in: text), k.name)
                let shaped = ["get_local_id", "get_group_id", "get_local_size", "barrier(", "__local", "tree_sum(", "TILE_DOUBLE_BUFFERED"]
                    .contains { body.contains($0) }
                XCTAssertEqual(k.indexedByGroup, shaped, "\(f.name).cl \(k.name): indexedByGroup against its source")
            }
        }
    }

    /// The text of kernel `name`'s body in `source` (a PARTIAL_KERNEL's: the macro's, which reads its group).
    static func body(of name: String, in source: String) -> String? {
        if source.contains("PARTIAL_KERNEL(\(name),"), let r = source.range(of: "#define PARTIAL_KERNEL") {
            return String(source[r.lowerBound...].prefix(600))
        }
        guard let start = source.range(of: #"void\s+"# + name + #"\s*\("#, options: .regularExpression) else { return nil }
        guard let open = source.range(of: "{", range: start.upperBound..<source.endIndex) else { return nil }
        var depth = 0, i = open.lowerBound
        while i < source.endIndex {
            if source[i] == "{" { depth += 1 } else if source[i] == "}" { depth -= 1; if depth == 0 { return String(source[open.lowerBound...i]) } }
            i = source.index(after: i)
        }
        return nil
    }
}
