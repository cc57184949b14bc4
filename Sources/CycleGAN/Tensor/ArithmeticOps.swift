/// Elementwise arithmetic as differentiable ops: the residual sum and the weighted sums
/// of losses.
extension Tensor {
    /// alpha·self + beta·other.
    public func addScaled(_ other: Tensor, alpha: Float = 1, beta: Float = 1) -> Tensor {
        if dtype != other.dtype {
            let p = Tensor.promoted([self, other])
            return p[0].addScaled(p[1], alpha: alpha, beta: beta)
        }
        return LayerScope.run("add_scaled \(shapeText)") {
            precondition(shape == other.shape, "add: shapes \(shape) and \(other.shape) differ")
            let y = Tensor(empty: shape, on: backend, dtype: dtype)
            backend.addScaled(buffer, other.buffer, out: y.buffer, alpha: alpha, beta: beta, count: count)
            return Tensor.record(y, inputs: [self, other]) {
                let be = backend, shape = shape
                let scaled: (Tensor, Float) -> Tensor = { g, s in
                    if s == 1 { return g }
                    let out = Tensor(empty: shape, on: be, dtype: g.dtype)
                    be.addScaled(g.buffer, g.buffer, out: out.buffer, alpha: s, beta: 0, count: g.count)
                    return out
                }
                return { gy in [scaled(gy, alpha), scaled(gy, beta)] }
            }
        }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { a.addScaled(b) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.addScaled(b, beta: -1) }

    /// self · s.
    public static func * (a: Tensor, s: Float) -> Tensor {
        LayerScope.run("scale \(a.shapeText)") {
            let y = Tensor(empty: a.shape, on: a.backend, dtype: a.dtype)
            a.backend.addScaled(a.buffer, a.buffer, out: y.buffer, alpha: s, beta: 0, count: a.count)
            return Tensor.record(y, inputs: [a]) {
                let be = a.backend, shape = a.shape
                return { gy in
                    let gx = Tensor(empty: shape, on: be, dtype: gy.dtype)
                    be.addScaled(gy.buffer, gy.buffer, out: gx.buffer, alpha: s, beta: 0, count: gy.count)
                    return [gx]
                }
            }
        }
    }
}
