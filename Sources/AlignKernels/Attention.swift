import Foundation

/// Shapes of one causal attention call. Queries are (batch, seq, heads, headDim) and keys/values
/// (batch, seq, kvHeads, headDim): the layout a projection's (batch·seq, heads·headDim) output has,
/// so no transposes are needed. `heads` must be a multiple of `kvHeads` (grouped-query attention).
public struct AttentionShape: Sendable, Hashable {
    public var batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim: Int
    /// Score scale, usually 1/√headDim.
    public var scale: Float

    public init(batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim: Int, scale: Float? = nil) {
        precondition(heads % kvHeads == 0, "\(heads) query heads cannot share \(kvHeads) key/value heads")
        self.batch = batch; self.seq = seq; self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
    }

    var qRow: Int { heads * headDim }
    var kvRow: Int { kvHeads * headDim }
    var group: Int { heads / kvHeads }
}

/// Query-row blocks [i0, i1) for causal attention over `seq` tokens: block k only sees keys
/// [0, i1), so blocking skips most of the masked upper triangle (4 blocks: 62.5 % of the work).
/// Short sequences stay one block, where extra GEMM calls would cost more than they save.
@inlinable
func causalBlocks(_ seq: Int) -> [(Int, Int)] {
    let blocks = seq >= 256 ? 4 : seq >= 96 ? 2 : 1
    return (0..<blocks).map { (seq * $0 / blocks, seq * ($0 + 1) / blocks) }
}

extension Kernels {
    /// (batch·head) pairs processed per pass, chosen so a pass's (T, T) score blocks stay under
    /// about 16 MB whatever the sequence length.
    static func attentionChunk(_ s: AttentionShape) -> Int {
        max(1, Swift.min(s.batch * s.heads, (4 << 20) / max(s.seq * s.seq, 1)))
    }

    /// Fills rows of P (count, T, T) for pairs [bh0, bh0+count) with softmax(scale·QKᵀ + mask),
    /// masking future keys (causal) and padded keys (`keyMask[b, j] == 0`). Rows with no visible
    /// key are all zero. Writes each row's log Σ exp into `lse` (batch·heads·T) when given.
    static func attentionProbabilities(
        _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, keyMask: UnsafePointer<Float>?,
        shape s: AttentionShape, bh0: Int, count: Int, _ p: UnsafeMutablePointer<Float>,
        lse: UnsafeMutablePointer<Float>?, storedLSE: UnsafePointer<Float>?
    ) {
        let T = s.seq, D = s.headDim
        // Scores S = scale · Q_bh K_bhᵀ, strided straight out of the inputs. Causal: query block
        // [i0, i1) needs keys [0, i1) only, so blocks skip most of the masked upper triangle.
        for i in 0..<count {
            let bh = bh0 + i
            let b = bh / s.heads, h = bh % s.heads
            let kvh = h / s.group
            for (i0, i1) in causalBlocks(T) {
                BLAS.gemm(transA: false, transB: true, m: i1 - i0, n: i1, k: D, alpha: s.scale,
                          a: q + (b * T + i0) * s.qRow + h * D, lda: s.qRow,
                          b: k + b * T * s.kvRow + kvh * D, ldb: s.kvRow,
                          c: p + i * T * T + i0 * T, ldc: T)
            }
        }
        // Masked softmax per row, in parallel (no BLAS inside).
        parallelFor(count * T, minimumChunk: max(1, elementwiseGrain / max(T, 1))) { start, end in
            for row in start..<end {
                let i = row / T, t = row % T
                let bh = bh0 + i
                let b = bh / s.heads
                let r = p + row * T
                // Padded keys become −∞ so the vector paths below need no mask.
                if let mask = keyMask.map({ $0 + b * T }) {
                    for j in 0...t where mask[j] == 0 { r[j] = -.infinity }
                }
                let n = t + 1
                let m = rowMax(r, n)
                if m == -Float.infinity {
                    r.update(repeating: 0, count: T)
                    lse?[bh * T + t] = -.infinity
                    continue
                }
                let l: Float
                if let storedLSE {
                    l = storedLSE[bh * T + t]
                } else {
                    l = m + Foundation.log(rowSumExp(r, n, shift: m))
                    lse?[bh * T + t] = l
                }
                exponentiate(r, n, minus: l)
                if n < T { (r + n).update(repeating: 0, count: T - n) }
            }
        }
    }

    /// Causal scaled-dot-product attention with grouped-query heads and an optional key padding
    /// mask (batch, seq; 1 = attend, 0 = padding). out is (batch, seq, heads, headDim); `lse`
    /// (batch·heads·seq) keeps each row's log Σ exp so the backward pass can rebuild the
    /// probabilities without storing the (batch, heads, seq, seq) tensor.
    public static func attention(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        keyMask: UnsafePointer<Float>?, shape s: AttentionShape,
        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>
    ) {
        let T = s.seq, D = s.headDim
        let chunk = attentionChunk(s)
        let p = TensorStorage(count: chunk * T * T)
        var bh0 = 0
        while bh0 < s.batch * s.heads {
            let count = Swift.min(chunk, s.batch * s.heads - bh0)
            attentionProbabilities(q, k, keyMask: keyMask, shape: s, bh0: bh0, count: count, p.pointer,
                                   lse: lse, storedLSE: nil)
            for i in 0..<count {
                let bh = bh0 + i
                let b = bh / s.heads, h = bh % s.heads
                for (i0, i1) in causalBlocks(T) {
                    BLAS.gemm(transA: false, transB: false, m: i1 - i0, n: D, k: i1,
                              a: p.pointer + i * T * T + i0 * T, lda: T,
                              b: v + b * T * s.kvRow + (h / s.group) * D, ldb: s.kvRow,
                              c: out + (b * T + i0) * s.qRow + h * D, ldc: s.qRow)
                }
            }
            bh0 += count
        }
    }

    /// Backward of ``attention``: gradients of q, k and v (overwritten) given dOut, recomputing the
    /// probabilities from the saved `lse` one chunk of heads at a time.
    public static func attentionBackward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafePointer<Float>, lse: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
        keyMask: UnsafePointer<Float>?, shape s: AttentionShape,
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>
    ) {
        let T = s.seq, D = s.headDim
        let chunk = attentionChunk(s)
        let p = TensorStorage(count: chunk * T * T)
        let dp = TensorStorage(count: chunk * T * T)
        // delta[b, t, h] = Σ_d dOut ⊙ out: the softmax backward's row term.
        let delta = TensorStorage(count: s.batch * T * s.heads)
        parallelFor(s.batch * T * s.heads, minimumChunk: max(1, elementwiseGrain / max(D, 1))) { start, end in
            for i in start..<end {
                var acc: Float = 0
                let o = out + i * D, g = dOut + i * D
                for d in 0..<D { acc += o[d] * g[d] }
                delta.pointer[i] = acc
            }
        }
        dk.update(repeating: 0, count: s.batch * T * s.kvRow)
        dv.update(repeating: 0, count: s.batch * T * s.kvRow)
        var bh0 = 0
        while bh0 < s.batch * s.heads {
            let count = Swift.min(chunk, s.batch * s.heads - bh0)
            attentionProbabilities(q, k, keyMask: keyMask, shape: s, bh0: bh0, count: count, p.pointer,
                                   lse: nil, storedLSE: lse)
            for i in 0..<count {
                let bh = bh0 + i
                let b = bh / s.heads, h = bh % s.heads, kvh = h / s.group
                let pi = p.pointer + i * T * T
                for (i0, i1) in causalBlocks(T) {
                    // dV_kvh[0..<i1] += P[i0..<i1, 0..<i1]ᵀ dO_bh[i0..<i1]
                    BLAS.gemm(transA: true, transB: false, m: i1, n: D, k: i1 - i0,
                              a: pi + i0 * T, lda: T, b: dOut + (b * T + i0) * s.qRow + h * D, ldb: s.qRow,
                              beta: 1, c: dv + b * T * s.kvRow + kvh * D, ldc: s.kvRow)
                    // dP[i0..<i1, 0..<i1] = dO_bh[i0..<i1] V_kvh[0..<i1]ᵀ
                    BLAS.gemm(transA: false, transB: true, m: i1 - i0, n: i1, k: D,
                              a: dOut + (b * T + i0) * s.qRow + h * D, lda: s.qRow,
                              b: v + b * T * s.kvRow + kvh * D, ldb: s.kvRow,
                              c: dp.pointer + i * T * T + i0 * T, ldc: T)
                }
            }
            // dS = P ⊙ (dP − delta), in place in dp.
            parallelFor(count * T, minimumChunk: max(1, elementwiseGrain / max(T, 1))) { start, end in
                for row in start..<end {
                    let i = row / T, t = row % T
                    let bh = bh0 + i
                    let b = bh / s.heads, h = bh % s.heads
                    let dl = delta.pointer[(b * T + t) * s.heads + h]
                    let pr = p.pointer + row * T, dr = dp.pointer + row * T
                    for j in 0...t { dr[j] = pr[j] * (dr[j] - dl) }
                    if t + 1 < T { (dr + t + 1).update(repeating: 0, count: T - t - 1) }
                }
            }
            for i in 0..<count {
                let bh = bh0 + i
                let b = bh / s.heads, h = bh % s.heads, kvh = h / s.group
                let ds = dp.pointer + i * T * T
                for (i0, i1) in causalBlocks(T) {
                    // dQ_bh[i0..<i1] = scale · dS[i0..<i1, 0..<i1] K_kvh[0..<i1]
                    BLAS.gemm(transA: false, transB: false, m: i1 - i0, n: D, k: i1, alpha: s.scale,
                              a: ds + i0 * T, lda: T, b: k + b * T * s.kvRow + kvh * D, ldb: s.kvRow,
                              c: dq + (b * T + i0) * s.qRow + h * D, ldc: s.qRow)
                    // dK_kvh[0..<i1] += scale · dS[i0..<i1, 0..<i1]ᵀ Q_bh[i0..<i1]
                    BLAS.gemm(transA: true, transB: false, m: i1, n: D, k: i1 - i0, alpha: s.scale,
                              a: ds + i0 * T, lda: T, b: q + (b * T + i0) * s.qRow + h * D, ldb: s.qRow,
                              beta: 1, c: dk + b * T * s.kvRow + kvh * D, ldc: s.kvRow)
                }
            }
            bh0 += count
        }
    }
}
