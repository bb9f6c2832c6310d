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
                    // Scores, four keys per pass over q (four independent sums instead of one
                    // latency-bound chain; each key's sum runs in the one-key order, so the
                    // scores are exactly those of `dot`). Masked slots get −inf so the
                    // exponentials below turn them into 0.
                    var j = 0
                    while j + 4 <= visible {
                        let d4 = dotFour(qv, kBase + j * kvRow, kvRow, D)
                        scores[j] = s.scale * d4.0; scores[j + 1] = s.scale * d4.1
                        scores[j + 2] = s.scale * d4.2; scores[j + 3] = s.scale * d4.3
                        j += 4
                    }
                    while j < visible { scores[j] = s.scale * dot(qv, kBase + j * kvRow, D); j += 1 }
                    var m = -Float.infinity
                    for j in 0..<visible {
                        if let mask, mask[j] == 0 { scores[j] = -.infinity; continue }
                        if scores[j] > m { m = scores[j] }
                    }
                    if m == -.infinity {
                        o.update(repeating: 0, count: D)
                        continue
                    }
                    let weight = exponentiate(scores, visible, subtracting: m)
                    // out = Σ_j p_j v_j, normalised once at the end.
                    weightedSum(scores, visible, vBase, kvRow, D, o)
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

    /// The dot products of `q` with the four keys at k, k + stride, k + 2·stride, k + 3·stride
    /// over `n` floats, each summed exactly as ``dot(_:_:_:)`` sums it.
    @inlinable @inline(__always)
    static func dotFour(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ stride: Int, _ n: Int)
        -> (Float, Float, Float, Float) {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        let k0 = UnsafeRawPointer(k), k1 = UnsafeRawPointer(k + stride), k2 = UnsafeRawPointer(k + 2 * stride)
        let k3 = UnsafeRawPointer(k + 3 * stride), rq = UnsafeRawPointer(q)
        var d = 0
        while d + 8 <= n {
            let o = d * 4
            let qv = rq.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a0 += qv * k0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a1 += qv * k1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a2 += qv * k2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a3 += qv * k3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            d += 8
        }
        var r = (VectorMath.sum(a0), VectorMath.sum(a1), VectorMath.sum(a2), VectorMath.sum(a3))
        while d < n {
            r.0 += q[d] * k[d]; r.1 += q[d] * k[stride + d]; r.2 += q[d] * k[2 * stride + d]; r.3 += q[d] * k[3 * stride + d]
            d += 1
        }
        return r
    }

    /// out = Σ_j p[j]·v_j over the `count` value rows at v, v + stride, … (rows with p[j] = 0
    /// skipped), `n` floats each. Blocks of 64 (or 32, or 8) output floats stay in registers
    /// across all the rows; every element is summed in row order as repeated ``axpy`` would
    /// sum it, so the result is the same to the bit. The two widths are written out on purpose:
    /// one generic block over `SIMD64`/`SIMD32` measured ~10× slower (decode at batch 8 on
    /// SmolLM2's shape 142 → 12 tok/s), the wide vector types not staying in registers.
    @inlinable @inline(__always)
    static func weightedSum(_ p: UnsafePointer<Float>, _ count: Int, _ v: UnsafePointer<Float>, _ stride: Int, _ n: Int,
                            _ out: UnsafeMutablePointer<Float>) {
        var c = 0
        while c + 64 <= n {
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var a4 = SIMD8<Float>(), a5 = SIMD8<Float>(), a6 = SIMD8<Float>(), a7 = SIMD8<Float>()
            for j in 0..<count where p[j] != 0 {
                let w = SIMD8<Float>(repeating: p[j]), r = UnsafeRawPointer(v + j * stride + c)
                a0 = a0 + w * r.loadUnaligned(as: SIMD8<Float>.self)
                a1 = a1 + w * r.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                a2 = a2 + w * r.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                a3 = a3 + w * r.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
                a4 = a4 + w * r.loadUnaligned(fromByteOffset: 128, as: SIMD8<Float>.self)
                a5 = a5 + w * r.loadUnaligned(fromByteOffset: 160, as: SIMD8<Float>.self)
                a6 = a6 + w * r.loadUnaligned(fromByteOffset: 192, as: SIMD8<Float>.self)
                a7 = a7 + w * r.loadUnaligned(fromByteOffset: 224, as: SIMD8<Float>.self)
            }
            let o = UnsafeMutableRawPointer(out + c)
            o.storeBytes(of: a0, as: SIMD8<Float>.self); o.storeBytes(of: a1, toByteOffset: 32, as: SIMD8<Float>.self)
            o.storeBytes(of: a2, toByteOffset: 64, as: SIMD8<Float>.self); o.storeBytes(of: a3, toByteOffset: 96, as: SIMD8<Float>.self)
            o.storeBytes(of: a4, toByteOffset: 128, as: SIMD8<Float>.self); o.storeBytes(of: a5, toByteOffset: 160, as: SIMD8<Float>.self)
            o.storeBytes(of: a6, toByteOffset: 192, as: SIMD8<Float>.self); o.storeBytes(of: a7, toByteOffset: 224, as: SIMD8<Float>.self)
            c += 64
        }
        while c + 32 <= n {
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            for j in 0..<count where p[j] != 0 {
                let w = SIMD8<Float>(repeating: p[j]), r = UnsafeRawPointer(v + j * stride + c)
                a0 = a0 + w * r.loadUnaligned(as: SIMD8<Float>.self)
                a1 = a1 + w * r.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                a2 = a2 + w * r.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                a3 = a3 + w * r.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
            }
            let o = UnsafeMutableRawPointer(out + c)
            o.storeBytes(of: a0, as: SIMD8<Float>.self); o.storeBytes(of: a1, toByteOffset: 32, as: SIMD8<Float>.self)
            o.storeBytes(of: a2, toByteOffset: 64, as: SIMD8<Float>.self); o.storeBytes(of: a3, toByteOffset: 96, as: SIMD8<Float>.self)
            c += 32
        }
        // Narrow heads and tails: the plain in-memory accumulation.
        if c < n {
            (out + c).update(repeating: 0, count: n - c)
            for j in 0..<count where p[j] != 0 { axpy(p[j], v + j * stride + c, out + c, n - c) }
        }
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
