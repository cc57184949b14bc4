import XCTest
@testable import CycleGAN

/// `DerivedWeightCache`: the Winograd transforms and packed panels a convolution derives from
/// its weight are made once while the weight is unchanged, and made again after anything
/// writes it (an upload, a copy, a fill, any kernel that takes it), so a pass never reads a
/// stale operand. Every pass is checked against the CPU reference, run on the weight's values
/// as the device holds them at that moment.
final class WeightCacheTests: XCTestCase {
    /// Winograd (3×3 stride 1, reflect), the polyphase stride-2 path (pack_rows, and
    /// pack_flipped_weight over 4 phases), and a 4×4 stride-2 conv with awkward channel counts.
    static let geometries = [
        Conv2dGeometry(n: 1, c: 5, h: 9, w: 11, k: 18, kh: 3, kw: 3, stride: 1, pad: 1, padding: .reflect),
        Conv2dGeometry(n: 2, c: 6, h: 10, w: 9, k: 7, kh: 3, kw: 3, stride: 2, pad: 1),
        Conv2dGeometry(n: 1, c: 3, h: 12, w: 12, k: 17, kh: 4, kw: 4, stride: 2, pad: 1),
    ]

    func backend(cacheLimit: Int? = nil, shape: OpenCLTuning.KernelShape? = nil) throws -> OpenCLBackend {
        let shared = try TestDevices.requireOpenCL()
        return try OpenCLBackend(device: shared.device, tuning: OpenCLTuning(kernelShape: shape, weightCacheLimit: cacheLimit))
    }

    /// The forward and input gradient of `g` on `ocl` against the CPU reference on the
    /// weight's current device values.
    func checkPasses(_ ocl: OpenCLBackend, _ g: Conv2dGeometry, x: Buffer, weight: Buffer, gy: Buffer,
                     _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let cpu = TestDevices.cpu
        let w = ocl.download(weight), xs = ocl.download(x), gys = ocl.download(gy)
        let y = ocl.makeBuffer(count: g.outputCount), gx = ocl.makeBuffer(count: g.inputCount)
        ocl.conv2dForward(x: x, weight: weight, bias: nil, y: y, g)
        ocl.conv2dBackwardData(gy: gy, weight: weight, gx: gx, g)
        let yRef = cpu.makeBuffer(count: g.outputCount), gxRef = cpu.makeBuffer(count: g.inputCount)
        cpu.conv2dForward(x: cpu.buffer(xs), weight: cpu.buffer(w), bias: nil, y: yRef, g)
        cpu.conv2dBackwardData(gy: cpu.buffer(gys), weight: cpu.buffer(w), gx: gxRef, g)
        for (name, got, want) in [("y", ocl.download(y), cpu.download(yRef)), ("gx", ocl.download(gx), cpu.download(gxRef))] {
            let norm = want.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            let err = zip(got, want).reduce(0) { $0 + pow(Double($1.0) - Double($1.1), 2) }.squareRoot() / max(norm, 1e-30)
            XCTAssertLessThanOrEqual(err, 1e-4, "\(g) \(label): \(name) relative error \(err)", file: file, line: line)
        }
    }

    func testEveryWriteOfTheWeightIsSeen() throws {
        for shape in [OpenCLTuning.KernelShape.cpu, .gpu] {
            for (i, g) in Self.geometries.enumerated() {
                let ocl = try backend(shape: shape)
                var rng = TestRNG(UInt64(40 + i))
                let x = ocl.buffer(rng.array(g.inputCount)), gy = ocl.buffer(rng.array(g.outputCount))
                let weight = ocl.buffer(rng.array(g.weightCount, -0.3, 0.3))
                let label = "\(shape)"
                checkPasses(ocl, g, x: x, weight: weight, gy: gy, "\(label) first")
                XCTAssertEqual(ocl.derived.misses, 2, "\(g): the forward's and the input gradient's operands are made")
                checkPasses(ocl, g, x: x, weight: weight, gy: gy, "\(label) unchanged")
                // the same weight: the forward's operand made again after the input gradient's replaced it, then reused
                ocl.conv2dForward(x: x, weight: weight, bias: nil, y: ocl.makeBuffer(count: g.outputCount), g)
                let hits = ocl.derived.hits
                ocl.conv2dForward(x: x, weight: weight, bias: nil, y: ocl.makeBuffer(count: g.outputCount), g)
                XCTAssertEqual(ocl.derived.hits, hits + 1, "\(g) \(label): an unchanged weight's operand is reused")

                // each way of writing the weight makes the next pass derive it again
                let other = ocl.buffer(rng.array(g.weightCount, -0.3, 0.3))
                let writes: [(String, () -> Void)] = [
                    ("upload", { ocl.upload(rng.array(g.weightCount, -0.3, 0.3), to: weight) }),
                    ("copy", { ocl.copy(other, srcOffset: 0, to: weight, dstOffset: 0, count: g.weightCount) }),
                    ("kernel (axpy)", { ocl.axpy(other, weight, alpha: -0.5, count: g.weightCount) }),
                    ("fill", { ocl.fill(weight, value: 0.01) }),
                ]
                for (name, write) in writes {
                    ocl.conv2dForward(x: x, weight: weight, bias: nil, y: ocl.makeBuffer(count: g.outputCount), g)  // cached
                    write()
                    let misses = ocl.derived.misses
                    checkPasses(ocl, g, x: x, weight: weight, gy: gy, "\(label) after \(name)")
                    XCTAssertEqual(ocl.derived.misses, misses + 2, "\(g) \(label): \(name) of the weight is seen")
                }
            }
        }
    }

    /// A weight holds one operand at a time; a freed weight's operand goes at the next miss;
    /// past the limit the least recently used go; a limit of 0 keeps nothing.
    func testWhatTheCacheHolds() throws {
        let g = Conv2dGeometry(n: 1, c: 16, h: 9, w: 11, k: 16, kh: 3, kw: 3, stride: 1, pad: 1, padding: .reflect)
        let ocl = try backend()
        var rng = TestRNG(7)
        let x = ocl.buffer(rng.array(g.inputCount))
        let y = ocl.makeBuffer(count: g.outputCount), gx = ocl.makeBuffer(count: g.inputCount)
        var weight: Buffer? = ocl.buffer(rng.array(g.weightCount))
        ocl.conv2dForward(x: x, weight: weight!, bias: nil, y: y, g)
        let one = ocl.derived.heldBytes
        XCTAssertGreaterThan(one, 0)
        ocl.conv2dBackwardData(gy: y, weight: weight!, gx: gx, g)
        XCTAssertEqual(ocl.derived.heldBytes, one, "the flipped transform replaces the forward's (same size here)")
        weight = nil
        let second = ocl.buffer(rng.array(g.weightCount))
        ocl.conv2dForward(x: x, weight: second, bias: nil, y: y, g)
        XCTAssertEqual(ocl.derived.heldBytes, one, "the freed weight's operand was dropped")
        ocl.releaseCachedMemory()
        XCTAssertEqual(ocl.derived.heldBytes, 0)

        let small = try backend(cacheLimit: one)
        let w1 = small.buffer(rng.array(g.weightCount)), w2 = small.buffer(rng.array(g.weightCount))
        let x1 = small.buffer(rng.array(g.inputCount)), y1 = small.makeBuffer(count: g.outputCount)
        small.conv2dForward(x: x1, weight: w1, bias: nil, y: y1, g)
        small.conv2dForward(x: x1, weight: w2, bias: nil, y: y1, g)
        XCTAssertEqual(small.derived.heldBytes, one, "one operand fits the limit")
        small.conv2dForward(x: x1, weight: w1, bias: nil, y: y1, g)
        XCTAssertEqual(small.derived.hits, 0, "w1's operand was evicted for w2's")

        // a translation within --max_memory keeps at most an eighth of it: of two residual-sized
        // transforms (4.2 MB each), one within --max_memory 64M
        let translating = try backend()
        let big = Conv2dGeometry(n: 1, c: 256, h: 4, w: 4, k: 256, kh: 3, kw: 3, stride: 1, pad: 1, padding: .reflect)
        let xb = translating.buffer(rng.array(big.inputCount))
        let weights = (0..<2).map { _ in translating.buffer(rng.array(big.weightCount, -0.1, 0.1)) }
        for w in weights { translating.conv2dForward(x: xb, weight: w, bias: nil, y: translating.makeBuffer(count: big.outputCount), big) }
        let two = translating.derived.heldBytes
        XCTAssertGreaterThan(two, 8 << 20)
        var o = TestOptions()
        o.maxMemory = 64 << 20
        _ = try Translator(options: o, backend: translating)
        XCTAssertEqual(translating.derived.limitBytes, 8 << 20)
        XCTAssertEqual(translating.derived.heldBytes, two / 2, "lowering the limit drops the least recently used past it")
        let hits = translating.derived.hits
        translating.conv2dForward(x: xb, weight: weights[1], bias: nil, y: translating.makeBuffer(count: big.outputCount), big)
        XCTAssertEqual(translating.derived.hits, hits + 1, "the most recent one stays")

        let none = try backend(cacheLimit: 0)
        let w = none.buffer(rng.array(g.weightCount)), xn = none.buffer(rng.array(g.inputCount))
        for _ in 0..<2 { none.conv2dForward(x: xn, weight: w, bias: nil, y: none.makeBuffer(count: g.outputCount), g) }
        XCTAssertEqual(none.derived.heldBytes, 0)
        XCTAssertEqual(none.derived.hits, 0)
    }
}
