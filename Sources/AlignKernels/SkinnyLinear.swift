import CIntrinsics

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
        var j = start
        // Eight rows (batch-8 decoding): one weight row against all eight per pass, so every pass
        // streams W from memory (no pass runs on an L1-resident pair while the memory idles).
        if rows == 8 {
            while j < end {
                let wj = w + j * k
                let b = bias?[j] ?? 0
                let r = dotEightRows(x, k, wj)
                for i in 0..<8 { y[i * n + j] = b + r[i] }
                j += 1
            }
            return
        }
        // Two weight rows by four rows of x per pass: six loads feed eight multiply-adds (one
        // weight row by four x rows needs five loads for four), so batch 8 stops being load-bound.
        if rows >= 4 {
            while j + 2 <= end {
                let w0 = w + j * k, w1 = w0 + k
                let b0 = bias?[j] ?? 0, b1 = bias?[j + 1] ?? 0
                var i = 0
                while i + 4 <= rows {
                    let r = dotFourRowsTwoWeights(x + i * k, k, w0, w1)
                    y[i * n + j] = b0 + r.0[0]; y[i * n + j + 1] = b1 + r.1[0]
                    y[(i + 1) * n + j] = b0 + r.0[1]; y[(i + 1) * n + j + 1] = b1 + r.1[1]
                    y[(i + 2) * n + j] = b0 + r.0[2]; y[(i + 2) * n + j + 1] = b1 + r.1[2]
                    y[(i + 3) * n + j] = b0 + r.0[3]; y[(i + 3) * n + j + 1] = b1 + r.1[3]
                    i += 4
                }
                while i < rows {
                    y[i * n + j] = b0 + dot4(x + i * k, w0, k)
                    y[i * n + j + 1] = b1 + dot4(x + i * k, w1, k)
                    i += 1
                }
                j += 2
            }
        }
        while j < end {
            defer { j += 1 }
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

    /// The dot products of rows 0...3 of x (row stride k) with w0 and with w1, over k floats:
    /// (x0·w0, x1·w0, x2·w0, x3·w0) and the same for w1.
    @inlinable @inline(__always)
    static func dotFourRowsTwoWeights(_ x: UnsafePointer<Float>, _ k: Int, _ w0: UnsafePointer<Float>,
                                      _ w1: UnsafePointer<Float>) -> (SIMD4<Float>, SIMD4<Float>) {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
        let rw0 = UnsafeRawPointer(w0), rw1 = UnsafeRawPointer(w1)
        let r0 = UnsafeRawPointer(x), r1 = UnsafeRawPointer(x + k), r2 = UnsafeRawPointer(x + 2 * k), r3 = UnsafeRawPointer(x + 3 * k)
        var d = 0
        // The next pair of weight rows (2k floats on) is requested while this pair is dotted, so
        // the memory stream keeps running through the passes that find this pair in L1: without
        // it a pass stalled on every new line and batch 8 read W at ~40 % of the bandwidth.
        let ahead0 = rw0 + 8 * k, ahead1 = rw1 + 8 * k
        while d + 8 <= k {
            let o = d * 4
            align_prefetch(ahead0 + o); align_prefetch(ahead1 + o)
            let v0 = rw0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let v1 = rw1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let x0 = r0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a0 = a0.addingProduct(x0, v0); b0 = b0.addingProduct(x0, v1)
            let x1 = r1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a1 = a1.addingProduct(x1, v0); b1 = b1.addingProduct(x1, v1)
            let x2 = r2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a2 = a2.addingProduct(x2, v0); b2 = b2.addingProduct(x2, v1)
            let x3 = r3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a3 = a3.addingProduct(x3, v0); b3 = b3.addingProduct(x3, v1)
            d += 8
        }
        var s0 = SIMD4<Float>(VectorMath.sum(a0), VectorMath.sum(a1), VectorMath.sum(a2), VectorMath.sum(a3))
        var s1 = SIMD4<Float>(VectorMath.sum(b0), VectorMath.sum(b1), VectorMath.sum(b2), VectorMath.sum(b3))
        while d < k {
            let xs = SIMD4<Float>(x[d], x[k + d], x[2 * k + d], x[3 * k + d])
            s0 += xs * w0[d]; s1 += xs * w1[d]
            d += 1
        }
        return (s0, s1)
    }

    /// The dot products of rows 0...7 of x (row stride k) with w, over k floats; the weight row
    /// four rows on is prefetched meanwhile.
    @inlinable @inline(__always)
    static func dotEightRows(_ x: UnsafePointer<Float>, _ k: Int, _ w: UnsafePointer<Float>) -> SIMD8<Float> {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        var s4 = SIMD8<Float>(), s5 = SIMD8<Float>(), s6 = SIMD8<Float>(), s7 = SIMD8<Float>()
        let rw = UnsafeRawPointer(w), ahead = rw + 16 * k
        let r0 = UnsafeRawPointer(x), r1 = UnsafeRawPointer(x + k), r2 = UnsafeRawPointer(x + 2 * k), r3 = UnsafeRawPointer(x + 3 * k)
        let r4 = UnsafeRawPointer(x + 4 * k), r5 = UnsafeRawPointer(x + 5 * k), r6 = UnsafeRawPointer(x + 6 * k), r7 = UnsafeRawPointer(x + 7 * k)
        var d = 0
        while d + 8 <= k {
            let o = d * 4
            align_prefetch(ahead + o)
            let wv = rw.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            s0 = s0.addingProduct(r0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s1 = s1.addingProduct(r1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s2 = s2.addingProduct(r2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s3 = s3.addingProduct(r3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s4 = s4.addingProduct(r4.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s5 = s5.addingProduct(r5.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s6 = s6.addingProduct(r6.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s7 = s7.addingProduct(r7.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            d += 8
        }
        var t = SIMD8<Float>(VectorMath.sum(s0), VectorMath.sum(s1), VectorMath.sum(s2), VectorMath.sum(s3),
                             VectorMath.sum(s4), VectorMath.sum(s5), VectorMath.sum(s6), VectorMath.sum(s7))
        while d < k {
            let wv = w[d]
            for i in 0..<8 { t[i] += x[i * k + d] * wv }
            d += 1
        }
        return t
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
