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
        // Scores, one GEMM per (b, h): S = scale · Q_bh K_bhᵀ, strided straight out of the inputs.
        for i in 0..<count {
            let bh = bh0 + i
            let b = bh / s.heads, h = bh % s.heads
            let kvh = h / s.group
            BLAS.gemm(transA: false, transB: true, m: T, n: T, k: D, alpha: s.scale,
                      a: q + b * T * s.qRow + h * D, lda: s.qRow,
                      b: k + b * T * s.kvRow + kvh * D, ldb: s.kvRow,
                      c: p + i * T * T, ldc: T)
        }
        // Masked softmax per row, in parallel (no BLAS inside).
        parallelFor(count * T, minimumChunk: max(1, elementwiseGrain / max(T, 1))) { start, end in
            for row in start..<end {
                let i = row / T, t = row % T
                let bh = bh0 + i
                let b = bh / s.heads
                let r = p + row * T
                let mask = keyMask.map { $0 + b * T }
                var m = -Float.infinity
                for j in 0...t where mask == nil || mask![j] != 0 { m = Swift.max(m, r[j]) }
                if m == -Float.infinity {
                    r.update(repeating: 0, count: T)
                    lse?[bh * T + t] = -.infinity
                    continue
                }
                let l: Float
                if let storedLSE {
                    l = storedLSE[bh * T + t]
                } else {
                    var total: Float = 0
                    for j in 0...t where mask == nil || mask![j] != 0 { total += Foundation.exp(r[j] - m) }
                    l = m + Foundation.log(total)
                    lse?[bh * T + t] = l
                }
                for j in 0...t { r[j] = (mask == nil || mask![j] != 0) ? Foundation.exp(r[j] - l) : 0 }
                if t + 1 < T { (r + t + 1).update(repeating: 0, count: T - t - 1) }
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
                BLAS.gemm(transA: false, transB: false, m: T, n: D, k: T,
                          a: p.pointer + i * T * T, lda: T,
                          b: v + b * T * s.kvRow + (h / s.group) * D, ldb: s.kvRow,
                          c: out + b * T * s.qRow + h * D, ldc: s.qRow)
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
                // dV_kvh += Pᵀ dO_bh
                BLAS.gemm(transA: true, transB: false, m: T, n: D, k: T,
                          a: pi, lda: T, b: dOut + b * T * s.qRow + h * D, ldb: s.qRow,
                          beta: 1, c: dv + b * T * s.kvRow + kvh * D, ldc: s.kvRow)
                // dP = dO_bh V_kvhᵀ
                BLAS.gemm(transA: false, transB: true, m: T, n: T, k: D,
                          a: dOut + b * T * s.qRow + h * D, lda: s.qRow,
                          b: v + b * T * s.kvRow + kvh * D, ldb: s.kvRow,
                          c: dp.pointer + i * T * T, ldc: T)
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
                // dQ_bh = scale · dS K_kvh
                BLAS.gemm(transA: false, transB: false, m: T, n: D, k: T, alpha: s.scale,
                          a: ds, lda: T, b: k + b * T * s.kvRow + kvh * D, ldb: s.kvRow,
                          c: dq + b * T * s.qRow + h * D, ldc: s.qRow)
                // dK_kvh += scale · dSᵀ Q_bh
                BLAS.gemm(transA: true, transB: false, m: T, n: D, k: T, alpha: s.scale,
                          a: ds, lda: T, b: q + b * T * s.qRow + h * D, ldb: s.qRow,
                          beta: 1, c: dk + b * T * s.kvRow + kvh * D, ldc: s.kvRow)
            }
            bh0 += count
        }
    }
}
