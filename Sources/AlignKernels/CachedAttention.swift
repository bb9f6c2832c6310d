/// Shapes of one attention call against a key/value cache (decoding).
///
/// Queries are (batch, queries, heads, headDim): the new tokens only. Keys and values live in a
/// cache laid out (batch, capacity, kvHeads, headDim) whose first `past + queries` slots per row are
/// filled, the new tokens' keys already appended at slots `past ..< past + queries`.
public struct CachedAttentionShape: Sendable, Hashable {
    /// Rows, new tokens per row, query heads, key/value heads and features per head.
    public var batch: Int, queries: Int, heads: Int, kvHeads: Int, headDim: Int
    /// Slots per batch row in the cache (its row stride, in tokens).
    public var capacity: Int
    /// Score scale, usually 1/√headDim.
    public var scale: Float

    /// Describes one call; `heads` must be a multiple of `kvHeads` (grouped-query attention).
    public init(batch: Int, queries: Int, heads: Int, kvHeads: Int, headDim: Int, capacity: Int, scale: Float? = nil) {
        precondition(heads % kvHeads == 0, "\(heads) query heads cannot share \(kvHeads) key/value heads")
        self.batch = batch; self.queries = queries; self.heads = heads; self.kvHeads = kvHeads
        self.headDim = headDim; self.capacity = capacity
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
    }
}

extension Kernels {
    /// Causal attention of new queries over a key/value cache, with grouped-query heads and a key
    /// padding mask, for incremental decoding.
    ///
    /// Query i of row b sits at cache slot `past + i` and attends slots j ≤ past + i with
    /// `keyMask[b·capacity + j] != 0` (left padding of batched prompts is masked this way). Rows
    /// with no visible key get zeros, as in ``attention(q:k:v:keyMask:shape:out:lse:)``.
    ///
    /// Work is split over (batch, head) pairs with ``parallelFor(_:minimumChunk:_:)``; inside a
    /// pair everything is SIMD8 dot products and axpys in Swift. BLAS would be the wrong tool here:
    /// one query row is a matrix–vector product too small to amortise a BLAS call, and BLAS must
    /// not be called from inside a parallel body (its own pool would oversubscribe the cores).
    ///
    /// - Parameters:
    ///   - q: (batch, queries, heads, headDim).
    ///   - keys, values: (batch, capacity, kvHeads, headDim), slots `0 ..< past + queries` valid.
    ///   - keyMask: (batch, capacity), 1 = real token, 0 = padding; nil attends every slot.
    ///   - past: cached slots before the new queries.
    ///   - out: (batch, queries, heads, headDim).
    public static func cachedAttention(
        q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
        keyMask: UnsafePointer<Float>?, past: Int, shape s: CachedAttentionShape,
        out: UnsafeMutablePointer<Float>
    ) {
        let total = past + s.queries
        precondition(total <= s.capacity, "\(total) tokens exceed the cache's \(s.capacity) slots")
        let D = s.headDim, group = s.heads / s.kvHeads
        let qRow = s.heads * D, kvRow = s.kvHeads * D
        // Roughly the multiply-adds per pair, so short caches stay on one thread.
        let work = max(1, s.queries * total * D * 2)
        parallelFor(s.batch * s.heads, minimumChunk: max(1, elementwiseGrain / work)) { start, end in
            // One score row per chunk, reused by every pair and query in it.
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: total + 8)
            defer { scores.deallocate() }
            for pair in start..<end {
                let b = pair / s.heads, h = pair % s.heads
                let kvh = h / group
                let kBase = keys + b * s.capacity * kvRow + kvh * D
                let vBase = values + b * s.capacity * kvRow + kvh * D
                let mask = keyMask.map { $0 + b * s.capacity }
                for i in 0..<s.queries {
                    let visible = past + i + 1
                    let qv = q + (b * s.queries + i) * qRow + h * D
                    let o = out + (b * s.queries + i) * qRow + h * D
                    // Scores; masked slots get −inf so the exponentials below turn them into 0.
                    var m = -Float.infinity
                    for j in 0..<visible {
                        if let mask, mask[j] == 0 { scores[j] = -.infinity; continue }
                        let score = s.scale * dot(qv, kBase + j * kvRow, D)
                        scores[j] = score
                        if score > m { m = score }
                    }
                    if m == -.infinity {
                        o.update(repeating: 0, count: D)
                        continue
                    }
                    let weight = exponentiate(scores, visible, subtracting: m)
                    // out = Σ_j p_j v_j, accumulated in place, normalised once at the end.
                    o.update(repeating: 0, count: D)
                    for j in 0..<visible where scores[j] != 0 {
                        axpy(scores[j], vBase + j * kvRow, o, D)
                    }
                    scale(o, D, by: 1 / weight)
                }
            }
        }
    }

    /// Σ a[d]·b[d] over `n` floats, eight lanes at a time.
    @inlinable @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var d = 0
        while d + 8 <= n {
            acc += UnsafeRawPointer(a + d).loadUnaligned(as: SIMD8<Float>.self)
                * UnsafeRawPointer(b + d).loadUnaligned(as: SIMD8<Float>.self)
            d += 8
        }
        var r = VectorMath.sum(acc)
        while d < n { r += a[d] * b[d]; d += 1 }
        return r
    }

    /// y += alpha·x over `n` floats.
    @inlinable @inline(__always)
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let a = SIMD8<Float>(repeating: alpha)
        var d = 0
        while d + 8 <= n {
            let yv = UnsafeMutableRawPointer(y + d)
            let sum = yv.loadUnaligned(as: SIMD8<Float>.self) + a * UnsafeRawPointer(x + d).loadUnaligned(as: SIMD8<Float>.self)
            yv.storeBytes(of: sum, as: SIMD8<Float>.self)
            d += 8
        }
        while d < n { y[d] += alpha * x[d]; d += 1 }
    }

    /// x *= factor over `n` floats.
    @inlinable @inline(__always)
    static func scale(_ x: UnsafeMutablePointer<Float>, _ n: Int, by factor: Float) {
        var d = 0
        while d + 8 <= n {
            let p = UnsafeMutableRawPointer(x + d)
            p.storeBytes(of: p.loadUnaligned(as: SIMD8<Float>.self) * factor, as: SIMD8<Float>.self)
            d += 8
        }
        while d < n { x[d] *= factor; d += 1 }
    }

    /// Replaces x[j] by exp(x[j] − m) for j < n and returns their sum (−inf becomes 0).
    @inlinable @inline(__always)
    static func exponentiate(_ x: UnsafeMutablePointer<Float>, _ n: Int, subtracting m: Float) -> Float {
        var acc = SIMD8<Float>()
        var j = 0
        while j + 8 <= n {
            let p = UnsafeMutableRawPointer(x + j)
            let e = VectorMath.exp(p.loadUnaligned(as: SIMD8<Float>.self) - m)
            p.storeBytes(of: e, as: SIMD8<Float>.self)
            acc += e
            j += 8
        }
        var total = VectorMath.sum(acc)
        if j < n {
            // The tail through the same vector exp (padded with −inf), so every element of a row
            // is rounded alike whatever its index.
            var tail = SIMD8<Float>(repeating: -.infinity)
            for l in 0..<(n - j) { tail[l] = x[j + l] }
            let e = VectorMath.exp(tail - m)
            for l in 0..<(n - j) { x[j + l] = e[l]; total += e[l] }
        }
        return total
    }
}
