extension Kernels {
    /// Sums axis 1 of x viewed as (outer, n, inner) into y (outer, inner).
    public static func sumAxis(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, n: Int, inner: Int
    ) {
        if inner == 1 {
            parallelFor(outer, minimumChunk: max(1, elementwiseGrain / max(n, 1))) { start, end in
                for o in start..<end { y[o] = Float(sum(x + o * n, count: n)) }
            }
            return
        }
        parallelFor(outer, minimumChunk: max(1, elementwiseGrain / max(n * inner, 1))) { start, end in
            for o in start..<end {
                let dst = y + o * inner
                dst.update(from: x + o * n * inner, count: inner)
                for k in 1..<max(n, 1) {
                    let src = x + (o * n + k) * inner
                    for i in 0..<inner { dst[i] += src[i] }
                }
                if n == 0 { dst.update(repeating: 0, count: inner) }
            }
        }
    }

    /// Maximum over axis 1 of x viewed as (outer, n, inner): values into y and the winning index
    /// along the axis (first on ties) into `argmax`, both (outer, inner).
    public static func maxAxis(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
        outer: Int, n: Int, inner: Int
    ) {
        parallelFor(outer * inner, minimumChunk: max(1, elementwiseGrain / max(n, 1))) { start, end in
            for idx in start..<end {
                let o = idx / inner, i = idx % inner
                var best = -Float.infinity, where_: Int32 = 0
                for k in 0..<n {
                    let v = x[(o * n + k) * inner + i]
                    if v > best || (k == 0) || v.isNaN { best = v; where_ = Int32(k); if v.isNaN { break } }
                }
                y[idx] = best
                argmax[idx] = where_
            }
        }
    }

    /// Repeats y (outer, inner) along a new axis of length n: x (outer, n, inner) = y, scaled by
    /// `scale` (the backward of sum and mean).
    public static func expandAxis(
        _ y: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>, outer: Int, n: Int, inner: Int,
        scale: Float = 1
    ) {
        parallelFor(outer, minimumChunk: max(1, elementwiseGrain / max(n * inner, 1))) { start, end in
            for o in start..<end {
                for k in 0..<n {
                    let dst = x + (o * n + k) * inner
                    let src = y + o * inner
                    if scale == 1 { dst.update(from: src, count: inner) } else {
                        for i in 0..<inner { dst[i] = src[i] * scale }
                    }
                }
            }
        }
    }

    /// Copies x with its axes permuted: y's axis d is x's axis `perm[d]`.
    public static func permute(_ x: UnsafePointer<Float>, shape: [Int], perm: [Int], _ y: UnsafeMutablePointer<Float>) {
        let rank = shape.count
        var inStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * shape[d + 1] }
        let outShape = perm.map { shape[$0] }
        let strides = perm.map { inStrides[$0] }   // input stride of each output axis
        let inner = outShape.last ?? 1
        let innerStride = strides.last ?? 1
        let rows = outShape.dropLast().reduce(1, *)
        parallelFor(rows, minimumChunk: max(1, elementwiseGrain / max(inner, 1))) { start, end in
            for row in start..<end {
                var rem = row, off = 0
                for d in stride(from: rank - 2, through: 0, by: -1) {
                    off += (rem % outShape[d]) * strides[d]
                    rem /= outShape[d]
                }
                let dst = y + row * inner
                if innerStride == 1 { dst.update(from: x + off, count: inner) } else {
                    for i in 0..<inner { dst[i] = x[off + i * innerStride] }
                }
            }
        }
    }

    /// Copies the block [start, start+length) of axis 1 of x (outer, n, inner) into
    /// y (outer, length, inner), or, with `reverse`, adds y back into that block of x.
    public static func sliceAxis(
        _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
        outer: Int, n: Int, inner: Int, start: Int, length: Int, reverse: Bool = false
    ) {
        let block = length * inner
        parallelFor(outer, minimumChunk: max(1, elementwiseGrain / max(block, 1))) { s, e in
            for o in s..<e {
                let src = x + (o * n + start) * inner
                let dst = y + o * block
                if reverse {
                    for i in 0..<block { src[i] += dst[i] }
                } else {
                    dst.update(from: src, count: block)
                }
            }
        }
    }
}
