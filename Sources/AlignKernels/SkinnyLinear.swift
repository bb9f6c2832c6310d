extension Kernels {
    /// y = x · Wᵀ (+ bias) for few rows of x: x (rows, k), W (n, k), y (rows, n). The product a
    /// decoding step makes, one token per sequence.
    ///
    /// With a handful of rows the product is bound by reading W once, and OpenBLAS 0.3.21's sgemm
    /// still packs W for every call: measured 3× slower than sgemv for one row and no faster for
    /// eight than for one. Here each row of W is streamed once and dotted with every row of x
    /// (which stays in L1), eight lanes at a time, the output rows split over threads.
    public static func skinnyLinear(
        _ x: UnsafePointer<Float>, rows: Int, k: Int, weight w: UnsafePointer<Float>, n: Int,
        bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>
    ) {
        // ~16K multiply-adds per chunk keeps thread hand-off cost small against the work.
        parallelFor(n, minimumChunk: max(1, elementwiseGrain / max(k * rows, 1))) { start, end in
            skinnyRows(x, rows, k, w, n, bias, y, start, end)
        }
    }

    /// Output features `start ..< end` of ``skinnyLinear(_:rows:k:weight:n:bias:_:)``.
    @inlinable
    static func skinnyRows(_ x: UnsafePointer<Float>, _ rows: Int, _ k: Int, _ w: UnsafePointer<Float>, _ n: Int,
                           _ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, _ start: Int, _ end: Int) {
        for j in start..<end {
            let wj = w + j * k
            let b = bias?[j] ?? 0
            var i = 0
            // Four rows of x per pass over the weight row: one weight load feeds four
            // multiply-adds, where row-by-row dots would be bound by loads at batch 8.
            while i + 4 <= rows {
                let r = dotFourRows(x + i * k, k, wj)
                y[i * n + j] = b + r.0
                y[(i + 1) * n + j] = b + r.1
                y[(i + 2) * n + j] = b + r.2
                y[(i + 3) * n + j] = b + r.3
                i += 4
            }
            while i < rows {
                y[i * n + j] = b + dot4(x + i * k, wj, k)
                i += 1
            }
        }
    }

    /// The dot products of rows 0...3 of x (row stride k) with w, over k floats.
    @inlinable @inline(__always)
    static func dotFourRows(_ x: UnsafePointer<Float>, _ k: Int, _ w: UnsafePointer<Float>) -> (Float, Float, Float, Float) {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        let rw = UnsafeRawPointer(w)
        let r0 = UnsafeRawPointer(x), r1 = UnsafeRawPointer(x + k), r2 = UnsafeRawPointer(x + 2 * k), r3 = UnsafeRawPointer(x + 3 * k)
        var d = 0
        while d + 8 <= k {
            let o = d * 4
            let wv = rw.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            s0 = s0.addingProduct(r0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s1 = s1.addingProduct(r1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s2 = s2.addingProduct(r2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s3 = s3.addingProduct(r3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            d += 8
        }
        var t0 = VectorMath.sum(s0), t1 = VectorMath.sum(s1), t2 = VectorMath.sum(s2), t3 = VectorMath.sum(s3)
        while d < k {
            let wv = w[d]
            t0 += x[d] * wv; t1 += x[k + d] * wv; t2 += x[2 * k + d] * wv; t3 += x[3 * k + d] * wv
            d += 1
        }
        return (t0, t1, t2, t3)
    }

    /// Σ a[d]·b[d] with four independent SIMD8 accumulators, so consecutive multiply-adds do not
    /// wait on each other.
    @inlinable @inline(__always)
    static func dot4(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var d = 0
        while d + 32 <= n {
            let o = d * 4
            s0 = s0.addingProduct(ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
            s1 = s1.addingProduct(ra.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self))
            s2 = s2.addingProduct(ra.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self))
            s3 = s3.addingProduct(ra.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self))
            d += 32
        }
        while d + 8 <= n {
            s0 = s0.addingProduct(ra.loadUnaligned(fromByteOffset: d * 4, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: d * 4, as: SIMD8<Float>.self))
            d += 8
        }
        var r = VectorMath.sum((s0 + s1) + (s2 + s3))
        while d < n { r += a[d] * b[d]; d += 1 }
        return r
    }
}
