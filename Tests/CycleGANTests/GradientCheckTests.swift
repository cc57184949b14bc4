import XCTest
@testable import CycleGAN

/// Finite-difference check of every backward of the CPU reference: the gradient of
/// L = Σ gy·op(inputs) with respect to each input, at sampled coordinates, against
/// central differences.
final class GradientCheckTests: XCTestCase {
    /// (output gradient name, input name)
    let pairs = [("grad_x", "x"), ("grad_weight", "weight"), ("grad_bias", "bias"), ("grad_target", "target"), ("grad_skip", "skip")]

    func testEveryBackwardAgreesWithFiniteDifferences() {
        let cpu = TestDevices.cpu
        var checked = 0
        for var c in OpCases.parity {
            let base = c.outputs(on: cpu)
            guard base["grad_x"] != nil else { continue }
            // Keep inputs away from kinks (relu at 0, |x − t| at 0) by more than h.
            if c.op.contains("relu") {
                c.inputs["x"]!.values = c.inputs["x"]!.values.map { $0 + ($0 < 0 ? -0.05 : 0.05) }
            }
            if c.op == "l1" {
                let t = c.inputs["target"]!.values
                c.inputs["x"]!.values = zip(c.inputs["x"]!.values, t).map { x, t in x + (x < t ? -0.05 : 0.05) }
            }
            let analytic = c.outputs(on: cpu)
            let gy = c.inputs["gy"]!.values
            func loss(_ inputs: [String: HostTensor]) -> Double {
                let y = c.run(cpu, inputs)["y"]!
                if y.count == 1 { return Double(gy[0]) * Double(y[0]) }
                return zip(gy, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            for (gradName, inputName) in pairs {
                guard let grad = analytic[gradName], let input = c.inputs[inputName] else { continue }
                var rng = TestRNG(UInt64(input.values.count))
                var numeric: [Float] = [], picked: [Float] = []
                // A loss is one fp32 value: a larger step keeps its rounding small against
                // the per-element gradient (exact for mse, kink-free for l1 after the shift).
                let h: Float = base["y"]!.count == 1 ? 0.04 : 1e-3
                for _ in 0..<min(24, input.values.count) {
                    let i = Int(rng.next() % UInt64(input.values.count))
                    var plus = c.inputs, minus = c.inputs
                    plus[inputName]!.values[i] += h
                    minus[inputName]!.values[i] -= h
                    let d = (loss(plus) - loss(minus)) / Double(2 * h)
                    numeric.append(Float(d))
                    picked.append(grad[i])
                }
                let err = relativeError(picked, numeric)
                XCTAssertLessThan(err, 2e-3, "\(c.op) \(c.shape) \(gradName): FD relative error \(err)")
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 25)
    }
}
