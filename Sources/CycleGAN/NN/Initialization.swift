import Foundation

/// The official `init_weights`: every conv and transposed-conv weight drawn by `type`
/// with `gain`, every batch-norm weight from N(1, gain) (whatever the type), every bias zero. Seeded: parameter j of the network draws from stream
/// (seed, j), so the numbers do not depend on the backend.
public enum InitType: String, CaseIterable, Sendable {
    case normal, xavier, kaiming, orthogonal
}

public func initWeights(_ module: Module, type: InitType = .normal, gain: Float = 0.02, seed: UInt64) {
    for (j, (key, p)) in module.namedParameters().enumerated() {
        let b = p.backend
        let s = CPUBackend.mix64(seed, UInt64(j))
        if p.shape.count < 2 {
            // a one-dimensional weight is a batch norm's; the rest are biases
            if key.hasSuffix("weight") { b.randomNormal(p.buffer, count: p.count, seed: s, mean: 1, std: gain) } else { b.fill(p.buffer, value: 0) }
            continue
        }
        // PyTorch's fans: dim 1 is fan-in, dim 0 fan-out (also for [in, out, k, k] transposed weights).
        let receptive = p.shape.dropFirst(2).reduce(1, *)
        let fanIn = p.shape[1] * receptive, fanOut = p.shape[0] * receptive
        switch type {
        case .normal:
            b.randomNormal(p.buffer, count: p.count, seed: s, mean: 0, std: gain)
        case .xavier:
            b.randomNormal(p.buffer, count: p.count, seed: s, mean: 0, std: gain * (2 / Float(fanIn + fanOut)).squareRoot())
        case .kaiming:
            b.randomNormal(p.buffer, count: p.count, seed: s, mean: 0, std: (2 / Float(fanIn)).squareRoot())
        case .orthogonal:
            b.upload(orthogonalMatrix(rows: p.shape[0], cols: p.count / p.shape[0], gain: gain, seed: s), to: p.buffer)
        }
    }
}

/// torch.nn.init.orthogonal_: a (rows × cols) matrix with orthonormal rows (or columns,
/// whichever is fewer), from the QR decomposition of a Gaussian matrix with the signs of
/// R's diagonal folded in, times `gain`. Computed on the host in Double.
func orthogonalMatrix(rows: Int, cols: Int, gain: Float, seed: UInt64) -> [Float] {
    // Work on the tall orientation (m ≥ n), transpose back at the end.
    let transpose = rows < cols
    let m = max(rows, cols), n = min(rows, cols)
    var a = [Double](repeating: 0, count: m * n)  // column-major: a[j*m + i]
    for i in 0..<(m * n) {
        let u1 = Double(CPUBackend.uniform01(seed, 2 * UInt64(i))), u2 = Double(CPUBackend.uniform01(seed, 2 * UInt64(i) + 1))
        a[i] = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
    // Modified Gram-Schmidt: Q (m × n) with R's diagonal made positive.
    for j in 0..<n {
        for k in 0..<j {
            var dot = 0.0
            for i in 0..<m { dot += a[k * m + i] * a[j * m + i] }
            for i in 0..<m { a[j * m + i] -= dot * a[k * m + i] }
        }
        var norm = 0.0
        for i in 0..<m { norm += a[j * m + i] * a[j * m + i] }
        norm = norm.squareRoot()
        for i in 0..<m { a[j * m + i] /= norm }
    }
    var out = [Float](repeating: 0, count: rows * cols)
    for r in 0..<rows {
        for c in 0..<cols {
            // Q is m × n; the result is rows × cols = (transpose ? Qᵀ : Q)
            let v = transpose ? a[r * m + c] : a[c * m + r]
            out[r * cols + c] = Float(v) * gain
        }
    }
    return out
}
