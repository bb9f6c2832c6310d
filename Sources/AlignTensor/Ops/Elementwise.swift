import AlignKernels
import Foundation

extension Tensor {
    /// Applies a broadcasting binary kernel: same-shape inputs take the flat vector path, others
    /// run row by row over the broadcast plan.
    static func broadcast(_ a: Tensor, _ b: Tensor, _ f: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) -> Tensor {
        if a.shape == b.shape {
            let out = Tensor.empty(a.shape)
            Kernels.zip(a.pointer, b.pointer, out.pointer, count: out.count, f)
            return out
        }
        let plan = BroadcastPlan(a.shape, b.shape)
        let out = Tensor.empty(plan.shape)
        let ap = a.pointer, bp = b.pointer, op = out.pointer
        plan.forEachRow { o, oa, ob, sa, sb, n in
            var i = 0
            if sa == 1 && sb == 1 {
                while i + 8 <= n {
                    let x = UnsafeRawPointer(ap + oa + i).loadUnaligned(as: SIMD8<Float>.self)
                    let y = UnsafeRawPointer(bp + ob + i).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(op + o + i).storeBytes(of: f(x, y), as: SIMD8<Float>.self)
                    i += 8
                }
            }
            while i < n {
                op[o + i] = f(SIMD8(repeating: ap[oa + i * sa]), SIMD8(repeating: bp[ob + i * sb]))[0]
                i += 1
            }
        }
        return out
    }

    /// Elementwise map over three same-shaped tensors (no graph): for gradient rules.
    static func map3(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) -> Tensor {
        precondition(a.count == b.count && b.count == c.count, "map3 over shapes \(a.shape), \(b.shape), \(c.shape)")
        let out = Tensor.empty(a.shape)
        Kernels.zip3(a.pointer, b.pointer, c.pointer, out.pointer, count: out.count, f)
        return out
    }

    /// Elementwise unary map (no graph).
    func map(_ f: (SIMD8<Float>) -> SIMD8<Float>) -> Tensor {
        let out = Tensor.empty(shape)
        Kernels.map(pointer, out.pointer, count: count, f)
        return out
    }

    /// Sum with NumPy broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        record(broadcast(a, b, +), .add(aShape: a.shape, bShape: b.shape), inputs: [a, b])
    }
    /// Difference with NumPy broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        record(broadcast(a, b, -), .subtract(aShape: a.shape, bShape: b.shape), inputs: [a, b])
    }
    /// Product with NumPy broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        record(broadcast(a, b, *), .multiply(a: a.detached(), b: b.detached()), inputs: [a, b])
    }
    /// Quotient with NumPy broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        record(broadcast(a, b, /), .divide(a: a.detached(), b: b.detached()), inputs: [a, b])
    }
    /// x · c.
    public static func * (a: Tensor, c: Float) -> Tensor { record(a.map { $0 * c }, .scale(c), inputs: [a]) }
    /// c · x.
    public static func * (c: Float, a: Tensor) -> Tensor { a * c }
    /// x / c.
    public static func / (a: Tensor, c: Float) -> Tensor { a * (1 / c) }
    /// x + c.
    public static func + (a: Tensor, c: Float) -> Tensor { record(a.map { $0 + c }, .addScalar, inputs: [a]) }
    /// c + x.
    public static func + (c: Float, a: Tensor) -> Tensor { a + c }
    /// x − c.
    public static func - (a: Tensor, c: Float) -> Tensor { a + (-c) }
    /// c − x.
    public static func - (c: Float, a: Tensor) -> Tensor { (-a) + c }
    /// −x.
    public static prefix func - (a: Tensor) -> Tensor { a * -1 }

    /// eˣ.
    public func exp() -> Tensor {
        let y = map(VectorMath.exp)
        return Tensor.record(y, .exp(output: y), inputs: [self])
    }
    /// Natural logarithm.
    public func log() -> Tensor {
        let y = Tensor.empty(shape)
        Kernels.mapScalar(pointer, y.pointer, count: count) { Foundation.log($0) }
        return Tensor.record(y, .log(input: detached()), inputs: [self])
    }
    /// √x.
    public func sqrt() -> Tensor {
        let y = map { $0.squareRoot() }
        return Tensor.record(y, .sqrt(output: y), inputs: [self])
    }
    /// 1/√x.
    public func rsqrt() -> Tensor {
        let y = map { 1 / $0.squareRoot() }
        return Tensor.record(y, .rsqrt(output: y), inputs: [self])
    }
    /// Hyperbolic tangent.
    public func tanh() -> Tensor {
        let y = map(VectorMath.tanh)
        return Tensor.record(y, .tanh(output: y), inputs: [self])
    }
    /// The logistic function σ(x) = 1/(1 + e⁻ˣ).
    public func sigmoid() -> Tensor {
        let y = map(VectorMath.sigmoid)
        return Tensor.record(y, .sigmoid(output: y), inputs: [self])
    }
    /// log σ(x), computed stably as min(x, 0) − log(1 + e^−|x|).
    public func logSigmoid() -> Tensor {
        let y = Tensor.empty(shape)
        Kernels.mapScalar(pointer, y.pointer, count: count) { x in Swift.min(x, 0) - Foundation.log1p(Foundation.exp(-Swift.abs(x))) }
        return Tensor.record(y, .logSigmoid(input: detached()), inputs: [self])
    }
    /// SiLU (swish): x · σ(x).
    public func silu() -> Tensor {
        let y = map { $0 * VectorMath.sigmoid($0) }
        return Tensor.record(y, .silu(input: detached()), inputs: [self])
    }
    /// SwiGLU's gate, silu(gate) ⊙ up (same shapes), as one op: one output buffer instead of
    /// two and a single fused pass backward.
    public static func swiGLU(gate: Tensor, up: Tensor) -> Tensor {
        precondition(gate.shape == up.shape, "swiGLU over shapes \(gate.shape) and \(up.shape)")
        let y = Tensor.empty(gate.shape)
        Kernels.zip(gate.pointer, up.pointer, y.pointer, count: y.count) { x, u in x * VectorMath.sigmoid(x) * u }
        return record(y, .swiGLU(gate: gate.detached(), up: up.detached()), inputs: [gate, up])
    }
    /// GELU: exact erf form, or the tanh approximation (GPT-2's `gelu_new`).
    public func gelu(tanhApproximation: Bool = false) -> Tensor {
        let y: Tensor
        if tanhApproximation {
            y = map { x in
                let inner: SIMD8<Float> = x + 0.044715 * x * x * x
                return 0.5 * x * (1 + VectorMath.tanh(0.7978845608028654 * inner))
            }
        } else {
            y = Tensor.empty(shape)
            Kernels.mapScalar(pointer, y.pointer, count: count, Kernels.geluErf)
        }
        return Tensor.record(y, .gelu(input: detached(), tanhApproximation: tanhApproximation), inputs: [self])
    }
    /// d GELU / dx at each element (no graph).
    func geluGradient(tanhApproximation: Bool) -> Tensor {
        if tanhApproximation {
            return map { x in
                let c: Float = 0.7978845608028654
                let x2: SIMD8<Float> = x * x
                let inner: SIMD8<Float> = x + 0.044715 * x2 * x
                let t = VectorMath.tanh(c * inner)
                let dInner: SIMD8<Float> = c * (1 + 0.134145 * x2)
                let sech2: SIMD8<Float> = 1 - t * t
                return 0.5 * (1 + t) + 0.5 * x * sech2 * dInner
            }
        }
        let y = Tensor.empty(shape)
        Kernels.mapScalar(pointer, y.pointer, count: count, Kernels.geluErfDerivative)
        return y
    }
    /// max(x, 0).
    public func relu() -> Tensor {
        let y = map { $0.replacing(with: 0, where: $0 .< 0) }
        return Tensor.record(y, .relu(input: detached()), inputs: [self])
    }
    /// x².
    public func square() -> Tensor {
        let y = map { $0 * $0 }
        return Tensor.record(y, .square(input: detached()), inputs: [self])
    }
}
