extension Kernels {
    /// C (m, r) = alpha · X (m, k) · P (k, r) for a narrow P (r a multiple of 8, e.g. a LoRA rank):
    /// h = x·Aᵀ (with P = Aᵀ) and g·B of an adapter. OpenBLAS runs these products on one thread at
    /// ~45 GFLOP/s (measured at m = 2000, k = 576, r = 16: 2 threads no faster than 1); here the rows
    /// of X are split over threads and each block runs ``tileProduct(m:n:k:alpha:a:aRow:aColumn:b:ldb:c:ldc:accumulate:)``'s
    /// 6 × 16 register tiles, P staying in cache.
    public static func narrowProduct(
        m: Int, k: Int, r: Int, alpha: Float = 1,
        x: UnsafePointer<Float>, p: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>
    ) {
        precondition(r % 8 == 0, "narrowProduct needs r a multiple of 8, got \(r)")
        // Chunks of whole 6-row tiles, each at least ~64K multiply-adds.
        let tiles = (m + 5) / 6
        parallelFor(tiles, minimumChunk: max(1, 65_536 / max(1, 6 * k * r))) { start, end in
            let i0 = start * 6, rows = Swift.min(m, end * 6) - i0
            tileProduct(m: rows, n: r, k: k, alpha: alpha, a: x + i0 * k, aRow: k, aColumn: 1,
                        b: p, ldb: r, c: c + i0 * r, ldc: r)
        }
    }

    /// C (r, n) = alpha · Hᵀ (r, m) · X (m, n) for a narrow H (m, r), X with leading dimension `ldx`:
    /// the weight gradients of an adapter, dA = s·(g·B)ᵀ·x and dBᵀ = s·hᵀ·g, both sums over all m
    /// rows into a small (r, n) result.
    ///
    /// The rows are split over threads, each summing its share into a private (r, n) partial that
    /// the caller's thread adds up at the end. Within a share, X is read in blocks of whole rows
    /// (~256 KB, contiguous, so prefetching works) that stay in L2 while every 6-row tile of Hᵀ
    /// passes over them; splitting the columns instead made every pass stride through X one cache
    /// line per row and ran at half cblas's rate for n = 1536. A tail of fewer than 8 columns is
    /// summed directly.
    public static func transposedNarrowProduct(
        m: Int, r: Int, n: Int, alpha: Float = 1,
        h: UnsafePointer<Float>, x: UnsafePointer<Float>, ldx: Int, c: UnsafeMutablePointer<Float>
    ) {
        let vectorColumns = n / 8 * 8
        let blockRows = Swift.max(8, 65_536 / Swift.max(1, n))
        let pieces = Swift.max(1, Swift.min(Threads.count, m / Swift.max(1, blockRows)))
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: pieces * r * n)
        defer { partials.deallocate() }
        if vectorColumns > 0 {
            parallelFor(pieces) { start, end in
                for piece in start..<end {
                    let rowStart = piece * m / pieces, rowEnd = (piece + 1) * m / pieces
                    let partial = partials + piece * r * n
                    var p0 = rowStart
                    while p0 < rowEnd {
                        let rows = Swift.min(blockRows, rowEnd - p0)
                        tileProduct(m: r, n: vectorColumns, k: rows, alpha: alpha, a: h + p0 * r, aRow: 1, aColumn: r,
                                    b: x + p0 * ldx, ldb: ldx, c: partial, ldc: n, accumulate: p0 > rowStart)
                        p0 += rows
                    }
                }
            }
            // C = the sum of the partials (pieces is at most the thread count).
            for i in 0..<r {
                let row = c + i * n
                row.update(from: partials + i * n, count: vectorColumns)
                for piece in 1..<pieces {
                    let other = partials + piece * r * n + i * n
                    for j in 0..<vectorColumns { row[j] += other[j] }
                }
            }
        }
        if vectorColumns < n {
            for i in 0..<r {
                for j in vectorColumns..<n {
                    var s: Float = 0
                    for p in 0..<m { s += h[p * r + i] * x[p * ldx + j] }
                    c[i * n + j] = alpha * s
                }
            }
        }
    }
}
