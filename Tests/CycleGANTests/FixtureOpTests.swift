import XCTest
@testable import CycleGAN

/// The `op/*` cases of the PyTorch fixture: outputs and every gradient match PyTorch on
/// the CPU reference (≤ 1e-5) and on OpenCL (≤ 1e-4).
final class FixtureOpTests: XCTestCase {
    /// The fixture's cases as OpCases with the fixture's own inputs.
    static func fixtureCases() -> [(name: String, case: OpCase, expected: [String: [Float]])] {
        let cases = Fixture.json["cases"] as! [String: [String: Any]]
        var out: [(String, OpCase, [String: [Float]])] = []
        for (name, settings) in cases.sorted(by: { $0.key < $1.key }) {
            let prefix = "op/\(name)/"
            var inputs: [String: HostTensor] = [:], expected: [String: [Float]] = [:]
            for (key, t) in Fixture.tensors.tensors where key.hasPrefix(prefix) {
                let field = String(key.dropFirst(prefix.count))
                if field == "y" || field.hasPrefix("grad_") { expected[field] = t.values } else { inputs[field] = t }
            }
            let x = inputs["x"]!.shape
            let run: (Backend, [String: HostTensor]) -> [String: [Float]]
            switch settings["op"] as! String {
            case "conv2d":
                let w = inputs["weight"]!.shape
                let g = Conv2dGeometry(n: x[0], c: x[1], h: x[2], w: x[3], k: w[0], kh: w[2], kw: w[3],
                                       stride: settings["stride"] as! Int, pad: settings["padding"] as! Int,
                                       padding: settings["padding_mode"] as! String == "reflect" ? .reflect : .zeros)
                run = OpRunner.conv2d(g)
            case "conv_transpose2d":
                let w = inputs["weight"]!.shape
                let g = Conv2dGeometry.transposed(n: x[0], cin: x[1], h: x[2], w: x[3], cout: w[1], kernel: w[2],
                                                  stride: settings["stride"] as! Int, pad: settings["padding"] as! Int,
                                                  outputPadding: settings["output_padding"] as! Int)
                run = OpRunner.convTranspose2d(g)
            case "instance_norm2d":
                run = OpRunner.instanceNorm(planes: x[0] * x[1], hw: x[2] * x[3], eps: Float(settings["eps"] as! Double))
            case "leaky_relu": run = OpRunner.leakyReLU(slope: Float(settings["slope"] as! Double))
            case "tanh": run = OpRunner.tanh()
            case "mse": run = OpRunner.mse(target: Float(settings["target"] as! Double))
            case "l1_mean": run = OpRunner.l1()
            default: fatalError("unknown fixture op \(settings["op"]!)")
            }
            out.append((name, OpCase(op: name, shape: "\(x)", inputs: inputs, run: run), expected))
        }
        return out
    }

    func check(_ backend: Backend, tolerance: Double) {
        let cases = Self.fixtureCases()
        XCTAssertEqual(cases.count, 11)
        var compared = 0
        for (name, c, expected) in cases {
            let got = c.outputs(on: backend)
            for (field, ref) in expected.sorted(by: { $0.key < $1.key }) {
                guard let ours = got[field] else { XCTFail("\(name): no output \(field)"); continue }
                let err = relativeError(ours, ref)
                XCTAssertLessThanOrEqual(err, tolerance, "\(backend.name) \(name) \(field): relative error \(err)")
                print("fixture \(backend.name) \(name)/\(field): relative error \(err)")
                compared += 1
            }
        }
        XCTAssertEqual(compared, 35)
    }

    func testCPUReferenceMatchesPyTorch() { check(TestDevices.cpu, tolerance: 1e-5) }

    func testOpenCLMatchesPyTorch() throws { check(try TestDevices.requireOpenCL(), tolerance: 1e-4) }
}
