import Foundation

extension Kernels {
    /// Sums rows of x (rows, n) into acc (n), adding to what acc holds. Parallel over column
    /// blocks so threads never write the same element; each block walks rows contiguously.
    public static func accumulateColumnSums(
        rows: Int, n: Int, into acc: UnsafeMutablePointer<Float>, _ value: (Int, Int) -> Float
    ) {
        let block = 64
        let blocks = (n + block - 1) / block
        parallelFor(blocks, minimumChunk: max(1, elementwiseGrain / max(rows * block, 1))) { start, end in
            for b in start..<end {
                let c0 = b * block, c1 = Swift.min(n, c0 + block)
                var local = [Float](repeating: 0, count: c1 - c0)
                local.withUnsafeMutableBufferPointer { l in
                    for r in 0..<rows { for c in c0..<c1 { l[c - c0] += value(r, c) } }
                    for c in c0..<c1 { acc[c] += l[c - c0] }
                }
            }
        }
    }

    /// RMSNorm over the last axis (Llama): y = x / √(mean(x²) + eps) · w, for x (rows, n).
    /// Stores 1/√(mean(x²)+eps) per row in `rstd` for the backward pass.
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, rows: Int, n: Int, eps: Float,
        _ y: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>
    ) {
        parallelFor(rows, minimumChunk: max(1, elementwiseGrain / max(n, 1))) { start, end in
            for r in start..<end {
                let xr = x + r * n, yr = y + r * n
                let ms = Float(dot(xr, xr, count: n) / Double(n))
                let s = 1 / (ms + eps).squareRoot()
                rstd[r] = s
                for i in 0..<n { yr[i] = w[i] * (xr[i] * s) }
            }
        }
    }

    /// Backward of ``rmsNorm``: dx = rstd·(g − x̂·mean(g⊙x̂)) with g = dy⊙w, x̂ = x·rstd;
    /// dw += Σ_rows dy⊙x̂ (when `dw` is given).
    public static func rmsNormBackward(
        _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
        rstd: UnsafePointer<Float>, rows: Int, n: Int,
        _ dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?
    ) {
        if let dx {
            parallelFor(rows, minimumChunk: max(1, elementwiseGrain / max(n, 1))) { start, end in
                for r in start..<end {
                    let xr = x + r * n, gr = dy + r * n, d = dx + r * n
                    let s = rstd[r]
                    var acc: Float = 0
                    for i in 0..<n { acc += gr[i] * w[i] * xr[i] }
                    let k = acc * s * s / Float(n)
                    for i in 0..<n { d[i] = s * (gr[i] * w[i] - xr[i] * k) }
                }
            }
        }
        if let dw {
            accumulateColumnSums(rows: rows, n: n, into: dw) { r, c in dy[r * n + c] * x[r * n + c] * rstd[r] }
        }
    }

    /// LayerNorm over the last axis: y = (x − mean)·rstd·w + b for x (rows, n); stores mean and
    /// rstd per row. `bias` may be absent.
    public static func layerNorm(
        _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, bias b: UnsafePointer<Float>?,
        rows: Int, n: Int, eps: Float,
        _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>
    ) {
        parallelFor(rows, minimumChunk: max(1, elementwiseGrain / max(n, 1))) { start, end in
            for r in start..<end {
                let xr = x + r * n, yr = y + r * n
                let mu = Float(sum(xr, count: n) / Double(n))
                var v: Double = 0
                for i in 0..<n { let d = Double(xr[i] - mu); v += d * d }
                let s = 1 / (Float(v / Double(n)) + eps).squareRoot()
                mean[r] = mu
                rstd[r] = s
                for i in 0..<n { yr[i] = (xr[i] - mu) * s * w[i] + (b?[i] ?? 0) }
            }
        }
    }

    /// Backward of ``layerNorm``: dx = rstd·(g − mean(g) − x̂·mean(g⊙x̂)), g = dy⊙w;
    /// dw += Σ dy⊙x̂, db += Σ dy.
    public static func layerNormBackward(
        _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, n: Int,
        _ dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?
    ) {
        if let dx {
            parallelFor(rows, minimumChunk: max(1, elementwiseGrain / max(n, 1))) { start, end in
                for r in start..<end {
                    let xr = x + r * n, gr = dy + r * n, d = dx + r * n
                    let s = rstd[r], mu = mean[r]
                    var sg: Float = 0, sgx: Float = 0
                    for i in 0..<n {
                        let g = gr[i] * w[i]
                        sg += g
                        sgx += g * (xr[i] - mu) * s
                    }
                    sg /= Float(n); sgx /= Float(n)
                    for i in 0..<n { d[i] = s * (gr[i] * w[i] - sg - (xr[i] - mu) * s * sgx) }
                }
            }
        }
        if let dw {
            accumulateColumnSums(rows: rows, n: n, into: dw) { r, c in dy[r * n + c] * (x[r * n + c] - mean[r]) * rstd[r] }
        }
        if let db {
            accumulateColumnSums(rows: rows, n: n, into: db) { r, c in dy[r * n + c] }
        }
    }

    /// GroupNorm for x (batch, channels, spatial): each of `groups` channel groups is normalised
    /// over its channels and spatial positions, then scaled and shifted per channel.
    /// Stores mean and rstd per (batch, group).
    public static func groupNorm(
        _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, bias b: UnsafePointer<Float>,
        batch: Int, channels: Int, spatial: Int, groups: Int, eps: Float,
        _ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>
    ) {
        let cpg = channels / groups
        let size = cpg * spatial
        parallelFor(batch * groups) { start, end in
            for bg in start..<end {
                let g = bg % groups
                let xr = x + bg * size, yr = y + bg * size
                let mu = Float(sum(xr, count: size) / Double(size))
                var v: Double = 0
                for i in 0..<size { let d = Double(xr[i] - mu); v += d * d }
                let s = 1 / (Float(v / Double(size)) + eps).squareRoot()
                mean[bg] = mu; rstd[bg] = s
                for c in 0..<cpg {
                    let ch = g * cpg + c
                    for p in 0..<spatial {
                        let i = c * spatial + p
                        yr[i] = (xr[i] - mu) * s * w[ch] + b[ch]
                    }
                }
            }
        }
    }

    /// Backward of ``groupNorm``.
    public static func groupNormBackward(
        _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        batch: Int, channels: Int, spatial: Int, groups: Int,
        _ dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?
    ) {
        let cpg = channels / groups
        let size = cpg * spatial
        if let dx {
            parallelFor(batch * groups) { start, end in
                for bg in start..<end {
                    let g = bg % groups
                    let xr = x + bg * size, gr = dy + bg * size, d = dx + bg * size
                    let s = rstd[bg], mu = mean[bg]
                    var sg: Float = 0, sgx: Float = 0
                    for c in 0..<cpg {
                        let wc = w[g * cpg + c]
                        for p in 0..<spatial {
                            let i = c * spatial + p
                            let gi = gr[i] * wc
                            sg += gi; sgx += gi * (xr[i] - mu) * s
                        }
                    }
                    sg /= Float(size); sgx /= Float(size)
                    for c in 0..<cpg {
                        let wc = w[g * cpg + c]
                        for p in 0..<spatial {
                            let i = c * spatial + p
                            d[i] = s * (gr[i] * wc - sg - (xr[i] - mu) * s * sgx)
                        }
                    }
                }
            }
        }
        // Per-channel parameter gradients, serial over batch (small).
        for bi in 0..<batch {
            for ch in 0..<channels {
                let bg = bi * groups + ch / cpg
                let base = (bi * channels + ch) * spatial
                var sw: Float = 0, sb: Float = 0
                for p in 0..<spatial {
                    sw += dy[base + p] * (x[base + p] - mean[bg]) * rstd[bg]
                    sb += dy[base + p]
                }
                dw?[ch] += sw
                db?[ch] += sb
            }
        }
    }
}
