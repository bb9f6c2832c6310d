extension Kernels {
    /// C (m, n) = alpha · A (m, k) · B (k, n), or C += that with `accumulate`: a register-tiled
    /// product for the small blocks inside attention, where each `parallelFor` task owns its own
    /// matrices and BLAS (which must never run inside `parallelFor`) is not an option.
    ///
    /// A's element (i, p) is `a[i * aRow + p * aColumn]`, so A can be read transposed for free;
    /// B is row-major with leading dimension `ldb` and `n` must be a multiple of 8 (callers pad).
    /// Tiles of 6 rows × 16 columns keep 12 accumulators in AVX2 registers: per step of p, two
    /// loads of B and six broadcasts of A feed twelve fused multiply-adds.
    @inlinable
    public static func tileProduct(
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, aRow: Int, aColumn: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false
    ) {
        precondition(n % 8 == 0, "tileProduct needs n a multiple of 8, got \(n)")
        if m <= 0 || n <= 0 { return }
        var i0 = 0
        while i0 < m {
            let rows = Swift.min(6, m - i0)
            // Rows past the end repeat the last valid row (computed, never stored), so the
            // tile body has no branches.
            let r0 = a + i0 * aRow
            let r1 = a + (i0 + Swift.min(1, rows - 1)) * aRow
            let r2 = a + (i0 + Swift.min(2, rows - 1)) * aRow
            let r3 = a + (i0 + Swift.min(3, rows - 1)) * aRow
            let r4 = a + (i0 + Swift.min(4, rows - 1)) * aRow
            let r5 = a + (i0 + Swift.min(5, rows - 1)) * aRow
            var j = 0
            while j + 16 <= n {
                var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
                var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
                var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
                var bp = b + j
                var off = 0
                for _ in 0..<k {
                    let b0 = UnsafeRawPointer(bp).loadUnaligned(as: SIMD8<Float>.self)
                    let b1 = UnsafeRawPointer(bp + 8).loadUnaligned(as: SIMD8<Float>.self)
                    var s = SIMD8<Float>(repeating: r0[off])
                    c00.addProduct(s, b0); c01.addProduct(s, b1)
                    s = SIMD8<Float>(repeating: r1[off])
                    c10.addProduct(s, b0); c11.addProduct(s, b1)
                    s = SIMD8<Float>(repeating: r2[off])
                    c20.addProduct(s, b0); c21.addProduct(s, b1)
                    s = SIMD8<Float>(repeating: r3[off])
                    c30.addProduct(s, b0); c31.addProduct(s, b1)
                    s = SIMD8<Float>(repeating: r4[off])
                    c40.addProduct(s, b0); c41.addProduct(s, b1)
                    s = SIMD8<Float>(repeating: r5[off])
                    c50.addProduct(s, b0); c51.addProduct(s, b1)
                    bp += ldb
                    off += aColumn
                }
                let cp = c + i0 * ldc + j
                storeTile(cp, ldc, 0, rows, c00, c01, alpha, accumulate)
                storeTile(cp, ldc, 1, rows, c10, c11, alpha, accumulate)
                storeTile(cp, ldc, 2, rows, c20, c21, alpha, accumulate)
                storeTile(cp, ldc, 3, rows, c30, c31, alpha, accumulate)
                storeTile(cp, ldc, 4, rows, c40, c41, alpha, accumulate)
                storeTile(cp, ldc, 5, rows, c50, c51, alpha, accumulate)
                j += 16
            }
            if j < n {
                // One 8-wide column strip left.
                var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>()
                var c3 = SIMD8<Float>(), c4 = SIMD8<Float>(), c5 = SIMD8<Float>()
                var bp = b + j
                var off = 0
                for _ in 0..<k {
                    let b0 = UnsafeRawPointer(bp).loadUnaligned(as: SIMD8<Float>.self)
                    c0.addProduct(SIMD8<Float>(repeating: r0[off]), b0)
                    c1.addProduct(SIMD8<Float>(repeating: r1[off]), b0)
                    c2.addProduct(SIMD8<Float>(repeating: r2[off]), b0)
                    c3.addProduct(SIMD8<Float>(repeating: r3[off]), b0)
                    c4.addProduct(SIMD8<Float>(repeating: r4[off]), b0)
                    c5.addProduct(SIMD8<Float>(repeating: r5[off]), b0)
                    bp += ldb
                    off += aColumn
                }
                let cp = c + i0 * ldc + j
                storeHalfTile(cp, ldc, 0, rows, c0, alpha, accumulate)
                storeHalfTile(cp, ldc, 1, rows, c1, alpha, accumulate)
                storeHalfTile(cp, ldc, 2, rows, c2, alpha, accumulate)
                storeHalfTile(cp, ldc, 3, rows, c3, alpha, accumulate)
                storeHalfTile(cp, ldc, 4, rows, c4, alpha, accumulate)
                storeHalfTile(cp, ldc, 5, rows, c5, alpha, accumulate)
            }
            i0 += 6
        }
    }

    @inlinable @inline(__always)
    static func storeTile(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ row: Int, _ rows: Int,
                          _ v0: SIMD8<Float>, _ v1: SIMD8<Float>, _ alpha: Float, _ accumulate: Bool) {
        guard row < rows else { return }
        storeHalfTile(c, ldc, row, rows, v0, alpha, accumulate)
        storeHalfTile(c + 8, ldc, row, rows, v1, alpha, accumulate)
    }

    @inlinable @inline(__always)
    static func storeHalfTile(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ row: Int, _ rows: Int,
                              _ v: SIMD8<Float>, _ alpha: Float, _ accumulate: Bool) {
        guard row < rows else { return }
        let p = UnsafeMutableRawPointer(c + row * ldc)
        var out = v * alpha
        if accumulate { out += p.loadUnaligned(as: SIMD8<Float>.self) }
        p.storeBytes(of: out, as: SIMD8<Float>.self)
    }
}
