extension Kernels {
    @inlinable @inline(__always)
    static func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m8 = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= n {
            m8 = VectorMath.max(m8, UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
            i += 8
        }
        var m = m8.max()
        while i < n { m = Swift.max(m, x[i]); i += 1 }
        return m
    }

    /// Σ exp(x − shift) over a row, vectorised.
    ///
    /// Blocks of 4 vectors (32 terms) are summed in fp32 and the block sums in fp64. One fp32
    /// accumulator per lane over a whole vocabulary row is biased: with shift = max the largest
    /// term is 1, and once a lane's sum is near 1 every later term below half its ulp (~6e-8) is
    /// rounded away. Over SmolLM2's 49,152 logits that lost tail made the sum ~1.7e-5 too small, so
    /// each token's log-prob (``logSoftmaxGather``) came out ~1.7e-5 too high, a bias that adds up
    /// over a sequence. With short blocks at most 3 terms per lane can be lost next to a large one;
    /// the loop runs as fast as before (measured). ``rowStatistics`` blocks its sums the same way.
    /// Tests/AlignTensorTests/SoftmaxAccuracyTests.swift holds a row that exposes the old bias.
    @inlinable @inline(__always)
    static func rowSumExp(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        var total = SIMD8<Double>(repeating: 0)
        let sh = SIMD8<Float>(repeating: shift)
        var i = 0
        while i + 8 <= n {
            var block = SIMD8<Float>(repeating: 0)
            let end = Swift.min(n - 7, i + 32)   // 4 vectors, or up to the last full one
            while i < end {
                block += VectorMath.exp(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - sh)
                i += 8
            }
            total += SIMD8<Double>(block)
        }
        var s = total.sum()
        if i < n {
            var v = SIMD8<Float>(repeating: -.infinity)
            for j in 0..<(n - i) { v[j] = x[i + j] }
            s += Double(VectorMath.exp(v - sh).sum())
        }
        return Float(s)
    }

    /// Softmax of r[0..<n] in place, returning the row's log Σ exp: one exp per entry (the
    /// exponentials are stored while summed, then scaled), where computing log Σ exp first and
    /// exponentiating against it takes two. Sums in 32-term fp32 blocks like ``rowSumExp``.
    @inlinable @inline(__always)
    static func softmaxInPlace(_ r: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        let m = rowMax(r, n)
        let sh = SIMD8<Float>(repeating: m)
        var total = SIMD8<Double>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            var block = SIMD8<Float>(repeating: 0)
            let end = Swift.min(n - 7, i + 32)
            while i < end {
                let e = VectorMath.exp(UnsafeRawPointer(r + i).loadUnaligned(as: SIMD8<Float>.self) - sh)
                UnsafeMutableRawPointer(r + i).storeBytes(of: e, as: SIMD8<Float>.self)
                block += e
                i += 8
            }
            total += SIMD8<Double>(block)
        }
        var s = total.sum()
        while i < n { r[i] = Foundation.exp(r[i] - m); s += Double(r[i]); i += 1 }
        let inverse = SIMD8<Float>(repeating: Float(1 / s))
        i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(r + i).loadUnaligned(as: SIMD8<Float>.self) * inverse
            UnsafeMutableRawPointer(r + i).storeBytes(of: v, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { r[i] *= inverse[0]; i += 1 }
        return m + Float(Foundation.log(s))
    }

    /// r[j] = exp(r[j] − shift) for j < n, in place, vectorised (−∞ entries become 0).
    @inlinable @inline(__always)
    static func exponentiate(_ r: UnsafeMutablePointer<Float>, _ n: Int, minus shift: Float) {
        let s = SIMD8<Float>(repeating: shift)
        var j = 0
        while j + 8 <= n {
            let v = VectorMath.exp(UnsafeRawPointer(r + j).loadUnaligned(as: SIMD8<Float>.self) - s)
            UnsafeMutableRawPointer(r + j).storeBytes(of: v, as: SIMD8<Float>.self)
            j += 8
        }
        while j < n { r[j] = Foundation.exp(r[j] - shift); j += 1 }
    }

    /// log Σ exp of a host array (a sampler's logits row): ``logSumExpRows(_:rows:n:_:)`` for the
    /// code above the engine, which works on arrays and tensors rather than raw memory.
    public static func logSumExp(_ values: [Float]) -> Float {
        var lse: Float = 0
        values.withUnsafeBufferPointer { logSumExpRows($0.baseAddress!, rows: 1, n: $0.count, &lse) }
        return lse
    }

    /// Row-wise log Σ exp of x (rows, n) into lse (rows), stable.
    public static func logSumExpRows(_ x: UnsafePointer<Float>, rows: Int, n: Int, _ lse: UnsafeMutablePointer<Float>) {
        parallelFor(rows, minimumChunk: max(1, elementwiseGrain / max(n, 1))) { start, end in
            for r in start..<end {
                let row = x + r * n
                let m = rowMax(row, n)
                lse[r] = m == -.infinity ? -.infinity : m + Foundation.log(rowSumExp(row, n, shift: m))
            }
        }
    }

    /// Softmax (or log-softmax with `log: true`) over the last axis of x (rows, n) into y.
    public static func softmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, n: Int, log: Bool) {
        parallelFor(rows, minimumChunk: max(1, elementwiseGrain / max(n, 1))) { start, end in
            for r in start..<end {
                let src = x + r * n, dst = y + r * n
                let m = rowMax(src, n)
                let s = rowSumExp(src, n, shift: m)
                if log {
                    let lse = m + Foundation.log(s)
                    for i in 0..<n { dst[i] = src[i] - lse }
                } else {
                    let inv = 1 / s
                    var i = 0
                    let sh = SIMD8<Float>(repeating: m)
                    while i + 8 <= n {
                        let v = VectorMath.exp(UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self) - sh) * inv
                        UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: SIMD8<Float>.self)
                        i += 8
                    }
                    while i < n { dst[i] = Foundation.exp(src[i] - m) * inv; i += 1 }
                }
            }
        }
    }

    /// Backward of softmax: dx = y ⊙ (dy − Σ dy⊙y); of log-softmax: dx = dy − softmax ⊙ Σ dy.
    public static func softmaxRowsBackward(
        _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
        rows: Int, n: Int, log: Bool
    ) {
        parallelFor(rows, minimumChunk: max(1, elementwiseGrain / max(n, 1))) { start, end in
            for r in start..<end {
                let yr = y + r * n, g = dy + r * n, d = dx + r * n
                if log {
                    let total = Float(sum(g, count: n))
                    for i in 0..<n { d[i] = g[i] - Foundation.exp(yr[i]) * total }
                } else {
                    let inner = Float(dot(g, yr, count: n))
                    for i in 0..<n { d[i] = yr[i] * (g[i] - inner) }
                }
            }
        }
    }

    /// Fused log-softmax and gather: out[r] = log softmax(x[r])[target[r]] for x (rows, n), and the
    /// row's log Σ exp in `lse` for the backward pass. Rows whose target equals `ignoreIndex` give 0.
    /// Never writes an (rows, n) buffer.
    public static func logSoftmaxGather(
        _ x: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, n: Int, ignoreIndex: Int32,
        _ out: UnsafeMutablePointer<Float>, _ lse: UnsafeMutablePointer<Float>
    ) {
        parallelFor(rows, minimumChunk: max(1, elementwiseGrain / max(n, 1))) { start, end in
            for r in start..<end {
                let row = x + r * n
                let m = rowMax(row, n)
                let l = m + Foundation.log(rowSumExp(row, n, shift: m))
                lse[r] = l
                let t = targets[r]
                if t == ignoreIndex {
                    out[r] = 0
                } else {
                    precondition(t >= 0 && Int(t) < n, "target id \(t) outside the vocabulary of \(n)")
                    out[r] = row[Int(t)] - l
                }
            }
        }
    }

    /// Backward of ``logSoftmaxGather``: dx[r, :] = g[r] · (onehot(target) − softmax(x[r])), or 0
    /// for ignored rows. With `accumulate`, adds into dx instead of overwriting.
    public static func logSoftmaxGatherBackward(
        _ x: UnsafePointer<Float>, targets: UnsafePointer<Int32>, lse: UnsafePointer<Float>,
        _ g: UnsafePointer<Float>, rows: Int, n: Int, ignoreIndex: Int32, _ dx: UnsafeMutablePointer<Float>
    ) {
        parallelFor(rows, minimumChunk: max(1, elementwiseGrain / max(n, 1))) { start, end in
            for r in start..<end {
                let row = x + r * n, d = dx + r * n
                let t = targets[r]
                if t == ignoreIndex || g[r] == 0 {
                    d.update(repeating: 0, count: n)
                    continue
                }
                let scale = SIMD8<Float>(repeating: -g[r])
                let sh = SIMD8<Float>(repeating: lse[r])
                var i = 0
                while i + 8 <= n {
                    let p = VectorMath.exp(UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self) - sh)
                    UnsafeMutableRawPointer(d + i).storeBytes(of: p * scale, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < n { d[i] = -g[r] * Foundation.exp(row[i] - lse[r]); i += 1 }
                d[Int(t)] += g[r]
            }
        }
    }
}
import Foundation

extension Kernels {
    /// Per-row statistics of logits x (rows, n) for training metrics, in one pass per row: the
    /// mean logit, the predictive entropy (log Σ eˣ − Σ softmax(x)·x) and whether the first
    /// maximal entry is the target.
    public static func rowStatistics(
        _ x: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, n: Int,
        meanLogit: UnsafeMutablePointer<Float>, entropy: UnsafeMutablePointer<Float>, isTop1: UnsafeMutablePointer<Float>
    ) {
        parallelFor(rows, minimumChunk: max(1, elementwiseGrain / max(n, 1))) { start, end in
            for r in start..<end {
                let row = x + r * n
                let m = rowMax(row, n)
                // One vectorised pass for Σ eˣ⁻ᵐ, Σ eˣ⁻ᵐ·x and Σ x. Blocks of 32 terms are summed
                // in fp32 and the block sums in fp64: one fp32 lane over a 49k-entry vocabulary
                // row rounds away the small terms once its sum nears 1, biasing the entropy.
                let shift = SIMD8<Float>(repeating: m)
                var total8 = SIMD8<Double>(), weighted8 = SIMD8<Double>(), sum8 = SIMD8<Double>()
                var i = 0
                while i + 8 <= n {
                    var t = SIMD8<Float>(), w = SIMD8<Float>(), p = SIMD8<Float>()
                    let end = Swift.min(n - 7, i + 32)   // as rowSumExp: 4 vectors per fp32 block
                    while i < end {
                        let v = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
                        let e = VectorMath.exp(v - shift)
                        t += e
                        w.addProduct(e, v)
                        p += v
                        i += 8
                    }
                    total8 += SIMD8<Double>(t); weighted8 += SIMD8<Double>(w); sum8 += SIMD8<Double>(p)
                }
                var total = total8.sum(), weighted = weighted8.sum(), plain = sum8.sum()
                while i < n {
                    let e = Double(Foundation.exp(row[i] - m))
                    total += e; weighted += e * Double(row[i]); plain += Double(row[i])
                    i += 1
                }
                // The first maximal entry, as torch.argmax picks it.
                var argmax = 0
                while argmax < n - 1 && row[argmax] != m { argmax += 1 }
                meanLogit[r] = Float(plain / Double(n))
                entropy[r] = Float(Double(m) + Foundation.log(total) - weighted / total)
                isTop1[r] = Int32(argmax) == targets[r] ? 1 : 0
            }
        }
    }
}
