import AlignKernels
import Foundation

/// The gradient rule of every op, in one place. Each case receives the gradient of the objective
/// with respect to the op's output (`grad`, same shape as the output) and returns one gradient per
/// input (nil where `needs` says that input requires none). Runs with recording disabled.
enum Backward {
    /// One gradient per input of `op` (nil where `needs` says none), given the output's gradient `g`.
    /// `accumulator`, for `linear` and `lowRankLinear` only: an existing gradient of the input x,
    /// owned by the backward pass, that the input gradient is added into (and returned as).
    static func vectorJacobianProducts(_ op: Operation, grad g: Tensor, needs: [Bool],
                                       accumulatingInputGradientInto accumulator: Tensor? = nil) -> [Tensor?] {
        switch op {
        case .leaf, .released:
            return []

        // d(a ± b): the gradient, summed over broadcast axes.
        case let .add(aShape, bShape):
            return [needs[0] ? g.summed(toShape: aShape) : nil, needs[1] ? g.summed(toShape: bShape) : nil]
        case let .subtract(aShape, bShape):
            return [needs[0] ? g.summed(toShape: aShape) : nil, needs[1] ? (-g).summed(toShape: bShape) : nil]
        case let .multiply(a, b):
            return [needs[0] ? (g * b).summed(toShape: a.shape) : nil,
                    needs[1] ? (g * a).summed(toShape: b.shape) : nil]
        case let .divide(a, b):
            // d(a/b)/da = 1/b; d(a/b)/db = −a/b².
            return [needs[0] ? (g / b).summed(toShape: a.shape) : nil,
                    needs[1] ? (-(g * a) / (b * b)).summed(toShape: b.shape) : nil]
        case let .scale(c):
            return [g * c]
        case .addScalar:
            return [g]

        case let .exp(y):
            return [g * y]
        case let .log(x):
            return [g / x]
        case let .sqrt(y):
            // d√x = 1 / (2√x)
            return [Tensor.map3(g, y, g) { g, y, _ in g / (2 * y) }]
        case let .rsqrt(y):
            // d x^(−1/2) = −½ x^(−3/2) = −½ y³
            return [Tensor.map3(g, y, g) { g, y, _ in -0.5 * g * y * y * y }]
        case let .tanh(y):
            return [Tensor.map3(g, y, g) { g, y, _ in g * (1 - y * y) }]
        case let .sigmoid(y):
            return [Tensor.map3(g, y, g) { g, y, _ in g * y * (1 - y) }]
        case let .logSigmoid(x):
            // d log σ(x) = σ(−x)
            return [Tensor.map3(g, x, g) { g, x, _ in g * VectorMath.sigmoid(-x) }]
        case let .silu(x):
            // d[x σ(x)] = σ(x) (1 + x (1 − σ(x)))
            return [Tensor.map3(g, x, g) { g, x, _ in
                let s = VectorMath.sigmoid(x)
                return g * s * (1 + x * (1 - s))
            }]
        case let .swiGLU(gate, up):
            let dGate = Tensor.empty(gate.shape), dUp = Tensor.empty(up.shape)
            Kernels.swiGLUBackward(gate: gate.pointer, up: up.pointer, grad: g.pointer,
                                   dGate: dGate.pointer, dUp: dUp.pointer, count: g.count)
            return [dGate, dUp]
        case let .gelu(x, tanhApproximation):
            return [x.geluGradient(tanhApproximation: tanhApproximation) * g]
        case let .relu(x):
            return [Tensor.map3(g, x, g) { g, x, _ in g.replacing(with: 0, where: x .<= 0) }]
        case let .square(x):
            return [Tensor.map3(g, x, g) { g, x, _ in 2 * g * x }]

        case let .sum(shape, axis):
            return [g.expanded(alongAxis: axis, to: shape, scale: 1)]
        case let .mean(shape, axis):
            return [g.expanded(alongAxis: axis, to: shape, scale: 1 / Float(shape[axis]))]
        case let .max(shape, axis, argmax):
            let dx = Tensor.zeros(shape)
            let outer = shape[..<axis].reduce(1, *), n = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
            let gp = g.pointer, dp = dx.pointer
            for o in 0..<outer { for i in 0..<inner {
                dp[(o * n + Int(argmax[o * inner + i])) * inner + i] = gp[o * inner + i]
            } }
            return [dx]

        case let .reshape(shape):
            return [g.reshaped(shape)]
        case let .permute(_, permutation):
            var inverse = [Int](repeating: 0, count: permutation.count)
            for (i, p) in permutation.enumerated() { inverse[p] = i }
            return [g.permuted(inverse)]
        case let .slice(shape, axis, start, length):
            let dx = Tensor.zeros(shape)
            let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
            Kernels.sliceAxis(dx.pointer, g.pointer, outer: outer, n: shape[axis], inner: inner,
                              start: start, length: length, reverse: true)
            return [dx]
        case let .concat(axis, shapes):
            var start = 0
            return shapes.enumerated().map { i, s in
                defer { start += s[axis] }
                return needs[i] ? g.slice(axis: axis, start: start, length: s[axis]) : nil
            }
        case let .maskedFill(mask):
            return [Tensor.map3(g, mask, g) { g, m, _ in g.replacing(with: 0, where: m .!= 0) }]
        case let .select(condition):
            let zero = Tensor.zeros(g.shape)
            return [needs[0] ? Tensor.select(condition, g, zero).detached() : nil,
                    needs[1] ? Tensor.select(condition, zero, g).detached() : nil,
                    nil]

        case let .softmax(y):
            let rows = y.count / max(y.shape.last ?? 1, 1), n = y.shape.last ?? 1
            let dx = Tensor.empty(y.shape)
            Kernels.softmaxRowsBackward(y.pointer, g.pointer, dx.pointer, rows: rows, n: n, log: false)
            return [dx]
        case let .logSoftmax(y):
            let rows = y.count / max(y.shape.last ?? 1, 1), n = y.shape.last ?? 1
            let dx = Tensor.empty(y.shape)
            Kernels.softmaxRowsBackward(y.pointer, g.pointer, dx.pointer, rows: rows, n: n, log: true)
            return [dx]
        case let .logSoftmaxGather(logits, targets, lse, ignoreIndex):
            let n = logits.shape.last!, rows = logits.count / n
            let dx = Tensor.empty(logits.shape)
            targets.withUnsafeBufferPointer { t in
                Kernels.logSoftmaxGatherBackward(logits.pointer, targets: t.baseAddress!, lse: lse.pointer, g.pointer,
                                                 rows: rows, n: n, ignoreIndex: ignoreIndex, dx.pointer)
            }
            return [dx]

        case let .rmsNorm(x, weight, rstd):
            let n = x.shape.last!, rows = x.count / n
            let dx = needs[0] ? Tensor.empty(x.shape) : nil
            let dw = needs[1] ? Tensor.zeros(weight.shape) : nil
            Kernels.rmsNormBackward(g.pointer, x.pointer, weight: weight.pointer, rstd: rstd.pointer, rows: rows, n: n,
                                    dx?.pointer, dw: dw?.pointer)
            return [dx, dw]
        case let .layerNorm(x, weight, mean, rstd, hasBias):
            let n = x.shape.last!, rows = x.count / n
            let dx = needs[0] ? Tensor.empty(x.shape) : nil
            let dw = needs[1] ? Tensor.zeros(weight.shape) : nil
            let db = hasBias && needs[2] ? Tensor.zeros(weight.shape) : nil
            Kernels.layerNormBackward(g.pointer, x.pointer, weight: weight.pointer, mean: mean.pointer, rstd: rstd.pointer,
                                      rows: rows, n: n, dx?.pointer, dw: dw?.pointer, db: db?.pointer)
            return hasBias ? [dx, dw, db] : [dx, dw]
        case let .groupNorm(x, weight, mean, rstd, groups):
            let dx = needs[0] ? Tensor.empty(x.shape) : nil
            let dw = needs[1] ? Tensor.zeros(weight.shape) : nil
            let db = needs[2] ? Tensor.zeros(weight.shape) : nil
            Kernels.groupNormBackward(g.pointer, x.pointer, weight: weight.pointer, mean: mean.pointer, rstd: rstd.pointer,
                                      batch: x.shape[0], channels: x.shape[1], spatial: x.count / (x.shape[0] * x.shape[1]),
                                      groups: groups, dx?.pointer, dw: dw?.pointer, db: db?.pointer)
            return [dx, dw, db]

        case let .rotary(table, positions, heads, convention):
            // The rotation is orthogonal: its adjoint is the rotation by −θ.
            let dx = g.copy()
            table.apply(to: dx, positions: positions, heads: heads, convention: convention, inverse: true)
            return [dx]
        case let .attention(q, k, v, output, lse, keyMask, shape):
            let dq = Tensor.empty(q.shape), dk = Tensor.empty(k.shape), dv = Tensor.empty(v.shape)
            Kernels.attentionBackward(q: q.pointer, k: k.pointer, v: v.pointer, out: output.pointer, lse: lse.pointer,
                                      dOut: g.pointer, keyMask: keyMask.map { UnsafePointer($0.pointer) }, shape: shape,
                                      dq: dq.pointer, dk: dk.pointer, dv: dv.pointer)
            return [dq, dk, dv]
        case let .packedAttention(q, k, v, output, lse, segments):
            let dq = Tensor.empty(q.shape), dk = Tensor.empty(k.shape), dv = Tensor.empty(v.shape)
            Kernels.attentionBackward(q: q.pointer, k: k.pointer, v: v.pointer, out: output.pointer, lse: lse.pointer,
                                      dOut: g.pointer, segments: segments, dq: dq.pointer, dk: dk.pointer, dv: dv.pointer)
            return [dq, dk, dv]
        case let .matmul(a, b):
            return Backward.matmul(a: a, b: b, g: g, needs: needs)
        case let .linear(x, weight, hasBias):
            // y (M, out) = x (M, in) · Wᵀ + b
            let outF = weight.shape[0], inF = weight.shape[1], m = x.count / inF
            var dx: Tensor?, dw: Tensor?, db: Tensor?
            if needs[0] { dx = linearInputGradient(g, weight: weight, xShape: x.shape, into: accumulator) }
            if needs[1] { dw = linearWeightGradient(g, x: x, weightShape: weight.shape) }
            if hasBias && needs[2] {
                let t = Tensor.zeros([outF])
                Kernels.sumAxis(g.pointer, t.pointer, outer: 1, n: m, inner: outF)
                db = t
            }
            return hasBias ? [dx, dw, db] : [dx, dw]
        case let .lowRankLinear(x, weight, a, b, h, scaling, hasBias):
            return Backward.lowRankLinear(x: x, weight: weight, a: a, b: b, h: h, scaling: scaling, hasBias: hasBias,
                                          g: g, needs: needs, accumulator: accumulator)
        case let .embedding(ids, vocabulary):
            let dim = g.shape.last!
            let dTable = Tensor.zeros([vocabulary, dim])
            ids.withUnsafeBufferPointer { p in
                Kernels.embeddingBackward(g.pointer, ids: p.baseAddress!, count: ids.count, dim: dim, dTable.pointer)
            }
            return [dTable]
        case let .dropout(mask):
            return [g * mask]

        case let .conv2d(x, weight, hasBias, shape):
            let dx = needs[0] ? Tensor.empty(x.shape) : nil
            let dw = needs[1] ? Tensor.zeros(weight.shape) : nil
            let db = hasBias && needs[2] ? Tensor.zeros([shape.outChannels]) : nil
            Kernels.conv2dBackward(g.pointer, x.pointer, weight: weight.pointer, shape: shape,
                                   dx: dx?.pointer, dw: dw?.pointer, db: db?.pointer)
            return hasBias ? [dx, dw, db] : [dx, dw]
        case let .upsampleNearest(shape, factor):
            let dx = Tensor.empty(shape)
            let planes = shape.dropLast(2).reduce(1, *)
            Kernels.upsampleNearest(dx.pointer, g.pointer, planes: planes, height: shape[shape.count - 2],
                                    width: shape[shape.count - 1], factor: factor, reverse: true)
            return [dx]
        }
    }

    /// Gradients of C = A·B for A (..., m, k) with B (k, n) shared, or batched B (..., k, n).
    static func matmul(a: Tensor, b: Tensor, g: Tensor, needs: [Bool]) -> [Tensor?] {
        let k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
        var da: Tensor?, db: Tensor?
        if b.rank == 2 {
            let m = a.count / k
            if needs[0] {
                let t = Tensor.empty(a.shape)
                BLAS.gemm(transB: true, m: m, n: k, k: n, a: g.pointer, b: b.pointer, c: t.pointer)
                da = t
            }
            if needs[1] {
                let t = Tensor.empty(b.shape)
                BLAS.gemm(transA: true, m: k, n: n, k: m, a: a.pointer, b: g.pointer, c: t.pointer)
                db = t
            }
        } else {
            let m = a.shape[a.rank - 2], batches = a.count / (m * k)
            let ta = needs[0] ? Tensor.empty(a.shape) : nil
            let tb = needs[1] ? Tensor.empty(b.shape) : nil
            for i in 0..<batches {
                if let ta {
                    BLAS.gemm(transB: true, m: m, n: k, k: n, a: g.pointer + i * m * n, b: b.pointer + i * k * n,
                              c: ta.pointer + i * m * k)
                }
                if let tb {
                    BLAS.gemm(transA: true, m: k, n: n, k: m, a: a.pointer + i * m * k, b: g.pointer + i * m * n,
                              c: tb.pointer + i * k * n)
                }
            }
            da = ta; db = tb
        }
        return [da, db]
    }
}

extension Backward {
    /// dx (xShape) = g (m, out) · W (out, in): the input gradient of x · Wᵀ, for `linear` and for
    /// `lowRankLinear` (with the merged weight). With `into` (a contiguous gradient of x's shape)
    /// the product is added into it and `into` is returned.
    static func linearInputGradient(_ g: Tensor, weight: Tensor, xShape: [Int], into: Tensor? = nil) -> Tensor {
        let outF = weight.shape[0], inF = weight.shape[1], m = g.count / outF
        let t = into ?? Tensor.empty(xShape)
        precondition(t.count == m * inF, "accumulated input gradient \(t.shape) does not fit \(xShape)")
        BLAS.gemm(m: m, n: inF, k: outF, a: g.pointer, b: weight.pointer, beta: into == nil ? 0 : 1, c: t.pointer)
        return t
    }

    /// dW (out, in) = gᵀ (out, m) · x (m, in): the weight gradient of x · Wᵀ.
    static func linearWeightGradient(_ g: Tensor, x: Tensor, weightShape: [Int]) -> Tensor {
        let outF = weightShape[0], inF = weightShape[1], m = x.count / inF
        let t = Tensor.empty(weightShape)
        BLAS.gemm(transA: true, m: outF, n: inF, k: m, a: g.pointer, b: x.pointer, c: t.pointer)
        return t
    }
}
