// Kernels over the storage formats of frozen inference weights (f16, bf16, Q8_0; see
// ElementFormat): conversions, the decoding product and the embedding lookup. Every product
// accumulates in fp32; only the weights are narrow, so a decoding step streams 1/2 (16-bit) or
// 34/128 (Q8_0) of the bytes of an fp32 one.
//
// Multiply-adds are written as `addingProduct` (one vfmadd): `s += a * b` compiles to a separate
// multiply and add.
//
// f16 goes through Swift's `Float16` SIMD conversions, which compile to F16C's vcvtph2ps /
// vcvtps2ph under `-target-cpu haswell`; bf16 is the top half of an fp32 (a zero-extend and a
// shift). Intel Macs have no `Float16`: there the f16 paths convert element by element.

/// Loads and stores eight 16-bit elements of one format as fp32 lanes.
public protocol HalfLanes {
    /// Elements `i ..< i + 8` of `p`, widened to fp32 (exactly: both formats embed in fp32).
    static func load8(_ p: UnsafePointer<UInt16>, _ i: Int) -> SIMD8<Float>
    /// Element `i` of `p` widened to fp32.
    static func load1(_ p: UnsafePointer<UInt16>, _ i: Int) -> Float
    /// Stores `v` rounded to nearest (ties to even) into elements `i ..< i + 8` of `p`.
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<UInt16>, _ i: Int)
    /// Element `v` rounded to nearest (ties to even).
    static func round1(_ v: Float) -> UInt16
}

/// IEEE binary16 lanes.
public enum F16Lanes: HalfLanes {
    @inlinable @inline(__always)
    public static func load8(_ p: UnsafePointer<UInt16>, _ i: Int) -> SIMD8<Float> {
        #if os(macOS) && arch(x86_64)
        return SIMD8<Float>((0..<8).map { load1(p, i + $0) })
        #else
        return SIMD8<Float>(UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float16>.self))
        #endif
    }

    @inlinable @inline(__always)
    public static func load1(_ p: UnsafePointer<UInt16>, _ i: Int) -> Float {
        #if os(macOS) && arch(x86_64)
        return Kernels.halfBitsToFloat(p[i])
        #else
        return Float(Float16(bitPattern: p[i]))
        #endif
    }

    @inlinable @inline(__always)
    public static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<UInt16>, _ i: Int) {
        #if os(macOS) && arch(x86_64)
        for l in 0..<8 { p[i + l] = round1(v[l]) }
        #else
        UnsafeMutableRawPointer(p + i).storeBytes(of: SIMD8<Float16>(v), as: SIMD8<Float16>.self)
        #endif
    }

    @inlinable @inline(__always)
    public static func round1(_ v: Float) -> UInt16 {
        #if os(macOS) && arch(x86_64)
        return Kernels.floatToHalfBits(v)
        #else
        return Float16(v).bitPattern
        #endif
    }
}

/// bfloat16 lanes: the high 16 bits of an fp32.
public enum BF16Lanes: HalfLanes {
    @inlinable @inline(__always)
    public static func load8(_ p: UnsafePointer<UInt16>, _ i: Int) -> SIMD8<Float> {
        let h = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<UInt16>.self)
        return unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: h) &<< 16, to: SIMD8<Float>.self)
    }

    @inlinable @inline(__always)
    public static func load1(_ p: UnsafePointer<UInt16>, _ i: Int) -> Float {
        Float(bitPattern: UInt32(p[i]) << 16)
    }

    @inlinable @inline(__always)
    public static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<UInt16>, _ i: Int) {
        // Round to nearest even on the dropped 16 bits, as PyTorch does; NaN stays a quiet NaN.
        let bits = unsafeBitCast(v, to: SIMD8<UInt32>.self)
        var rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
        rounded.replace(with: ((bits &>> 16) & 0x8000) | 0x7FC0, where: v .!= v)
        UnsafeMutableRawPointer(p + i).storeBytes(of: SIMD8<UInt16>(truncatingIfNeeded: rounded), as: SIMD8<UInt16>.self)
    }

    @inlinable @inline(__always)
    public static func round1(_ v: Float) -> UInt16 {
        let bits = v.bitPattern
        if v.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) & 0x8000 | 0x7FC0 }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }
}

extension Kernels {
    /// IEEE binary16 bits to fp32 (exact), for targets without `Float16`.
    @inlinable
    public static func halfBitsToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F, mantissa = UInt32(h & 0x3FF)
        if exponent == 0 { return Float(bitPattern: sign | (Float(mantissa) * (1.0 / 16_777_216.0)).bitPattern) }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// fp32 to IEEE binary16 bits, nearest with ties to even, for targets without `Float16`.
    @inlinable
    public static func floatToHalfBits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {
            return magnitude == 0x7F80_0000 ? sign | 0x7C00 : sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3FF)
        }
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }
        if magnitude < 0x3880_0000 {
            return sign | UInt16((Float(bitPattern: magnitude) * 16_777_216.0).rounded(.toNearestOrEven))
        }
        let rounded = magnitude &+ 0xFFF &+ ((magnitude >> 13) & 1)
        return sign | UInt16(truncatingIfNeeded: (rounded &- 0x3800_0000) >> 13)
    }

    /// Widens `count` elements of `format` at `source` to fp32, in parallel (Q8_0: whole blocks).
    public static func convertToFloat(_ source: UnsafeRawPointer, format: ElementFormat, count: Int,
                                      _ destination: UnsafeMutablePointer<Float>) {
        let h = source.assumingMemoryBound(to: UInt16.self)
        switch format {
        case .f16: widen(F16Lanes.self, h, count, destination)
        case .bf16: widen(BF16Lanes.self, h, count, destination)
        case .q8_0: dequantizeQ8(source, count, destination)
        case .f32: UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        }
    }

    /// Narrows `count` fp32 elements to `format` (16-bit: nearest, ties to even; Q8_0 as
    /// llama.cpp quantises), in parallel.
    public static func convertFromFloat(_ source: UnsafePointer<Float>, count: Int, format: ElementFormat,
                                        _ destination: UnsafeMutableRawPointer) {
        let h = destination.assumingMemoryBound(to: UInt16.self)
        switch format {
        case .f16: narrow(F16Lanes.self, source, count, h)
        case .bf16: narrow(BF16Lanes.self, source, count, h)
        case .q8_0: quantizeQ8(source, count, destination)
        case .f32: destination.copyMemory(from: source, byteCount: count * 4)
        }
    }

    @inlinable
    static func widen<L: HalfLanes>(_: L.Type, _ s: UnsafePointer<UInt16>, _ count: Int, _ d: UnsafeMutablePointer<Float>) {
        parallelFor((count + 7) / 8, minimumChunk: elementwiseGrain / 8) { start, end in
            let lo = start * 8, hi = Swift.min(count, end * 8)
            var i = lo
            while i + 8 <= hi {
                UnsafeMutableRawPointer(d + i).storeBytes(of: L.load8(s, i), as: SIMD8<Float>.self)
                i += 8
            }
            while i < hi { d[i] = L.load1(s, i); i += 1 }
        }
    }

    @inlinable
    static func narrow<L: HalfLanes>(_: L.Type, _ s: UnsafePointer<Float>, _ count: Int, _ d: UnsafeMutablePointer<UInt16>) {
        parallelFor((count + 7) / 8, minimumChunk: elementwiseGrain / 8) { start, end in
            let lo = start * 8, hi = Swift.min(count, end * 8)
            var i = lo
            while i + 8 <= hi {
                L.store8(UnsafeRawPointer(s + i).loadUnaligned(as: SIMD8<Float>.self), d, i)
                i += 8
            }
            while i < hi { d[i] = L.round1(s[i]); i += 1 }
        }
    }

    /// y = x · Wᵀ (+ bias) for few rows of x with W held in `format`: x (rows, k) fp32, W (n, k),
    /// y (rows, n) fp32, accumulated in fp32. The decoding step's product, as
    /// ``skinnyLinear(_:rows:k:weight:n:bias:_:)`` but streaming fewer bytes: each weight row is
    /// read once, widened eight lanes at a time in registers, and dotted with every row of x.
    public static func skinnyLinear(
        _ x: UnsafePointer<Float>, rows: Int, k: Int, packedWeight w: UnsafeRawPointer, format: ElementFormat, n: Int,
        bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>
    ) {
        let h = w.assumingMemoryBound(to: UInt16.self)
        switch format {
        case .f16: skinnyHalf(F16Lanes.self, x, rows, k, h, n, bias, y)
        case .bf16: skinnyHalf(BF16Lanes.self, x, rows, k, h, n, bias, y)
        case .q8_0: skinnyQ8(x, rows, k, w, n, bias, y)
        case .f32: skinnyLinear(x, rows: rows, k: k, weight: w.assumingMemoryBound(to: Float.self), n: n, bias: bias, y)
        }
    }

    @inlinable
    static func skinnyHalf<L: HalfLanes>(
        _: L.Type, _ x: UnsafePointer<Float>, _ rows: Int, _ k: Int, _ w: UnsafePointer<UInt16>, _ n: Int,
        _ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>
    ) {
        parallelFor(n, minimumChunk: max(1, elementwiseGrain / max(k * rows, 1))) { start, end in
            skinnyHalfRows(L.self, x, rows, k, w, n, bias, y, start, end)
        }
    }

    /// Output features `start ..< end` of the 16-bit decoding product.
    @inlinable
    static func skinnyHalfRows<L: HalfLanes>(
        _: L.Type, _ x: UnsafePointer<Float>, _ rows: Int, _ k: Int, _ w: UnsafePointer<UInt16>, _ n: Int,
        _ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, _ start: Int, _ end: Int
    ) {
        for j in start..<end {
            let wj = w + j * k
            let b = bias?[j] ?? 0
            var i = 0
            while i + 4 <= rows {
                let r = halfDotFourRows(L.self, x + i * k, k, wj)
                y[i * n + j] = b + r.0
                y[(i + 1) * n + j] = b + r.1
                y[(i + 2) * n + j] = b + r.2
                y[(i + 3) * n + j] = b + r.3
                i += 4
            }
            while i < rows {
                y[i * n + j] = b + halfDot(L.self, x + i * k, wj, k)
                i += 1
            }
        }
    }

    /// Σ a[d]·w[d] over `n` elements, w 16-bit, four independent accumulators.
    @inlinable @inline(__always)
    static func halfDot<L: HalfLanes>(_: L.Type, _ a: UnsafePointer<Float>, _ w: UnsafePointer<UInt16>, _ n: Int) -> Float {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        let ra = UnsafeRawPointer(a)
        var d = 0
        while d + 32 <= n {
            let o = d * 4
            s0 = s0.addingProduct(ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), L.load8(w, d))
            s1 = s1.addingProduct(ra.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), L.load8(w, d + 8))
            s2 = s2.addingProduct(ra.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self), L.load8(w, d + 16))
            s3 = s3.addingProduct(ra.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self), L.load8(w, d + 24))
            d += 32
        }
        while d + 8 <= n {
            s0 = s0.addingProduct(ra.loadUnaligned(fromByteOffset: d * 4, as: SIMD8<Float>.self), L.load8(w, d))
            d += 8
        }
        var r = VectorMath.sum((s0 + s1) + (s2 + s3))
        while d < n { r += a[d] * L.load1(w, d); d += 1 }
        return r
    }

    /// The dot products of rows 0...3 of x (row stride k) with the 16-bit row w: each weight
    /// vector is widened once and feeds four multiply-adds.
    @inlinable @inline(__always)
    static func halfDotFourRows<L: HalfLanes>(_: L.Type, _ x: UnsafePointer<Float>, _ k: Int, _ w: UnsafePointer<UInt16>)
        -> (Float, Float, Float, Float) {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        let r0 = UnsafeRawPointer(x), r1 = UnsafeRawPointer(x + k), r2 = UnsafeRawPointer(x + 2 * k), r3 = UnsafeRawPointer(x + 3 * k)
        var d = 0
        while d + 8 <= k {
            let o = d * 4
            let wv = L.load8(w, d)
            s0 = s0.addingProduct(r0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s1 = s1.addingProduct(r1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s2 = s2.addingProduct(r2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            s3 = s3.addingProduct(r3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), wv)
            d += 8
        }
        var t0 = VectorMath.sum(s0), t1 = VectorMath.sum(s1), t2 = VectorMath.sum(s2), t3 = VectorMath.sum(s3)
        while d < k {
            let wv = L.load1(w, d)
            t0 += x[d] * wv; t1 += x[k + d] * wv; t2 += x[2 * k + d] * wv; t3 += x[3 * k + d] * wv
            d += 1
        }
        return (t0, t1, t2, t3)
    }

    /// One weight of ``skinnyLinears(_:rows:k:parts:)``: W (n, k) in `format`, its bias, and y
    /// (rows, n) to write.
    public struct SkinnyPart {
        public var weight: UnsafeRawPointer, format: ElementFormat, n: Int
        public var bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>
        public init(weight: UnsafeRawPointer, format: ElementFormat, n: Int, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
            self.weight = weight; self.format = format; self.n = n; self.bias = bias; self.y = y
        }
    }

    /// yₚ = x · Wₚᵀ (+ bₚ) for several weights that read the same few rows of x (a decoding
    /// step's q/k/v or gate/up projections), in one parallel pass over all their output features:
    /// one hand-off to the threads instead of one per weight, and small matrices (k/v under
    /// grouped-query attention) share the split with the large ones.
    public static func skinnyLinears(_ x: UnsafePointer<Float>, rows: Int, k: Int, parts: [SkinnyPart]) {
        for p in parts where p.format == .q8_0 {
            precondition(k % 32 == 0, "a Q8_0 matrix needs rows of whole 32-element blocks, not \(k)")
        }
        let total = parts.reduce(0) { $0 + $1.n }
        parallelFor(total, minimumChunk: max(1, elementwiseGrain / max(k * rows, 1))) { start, end in
            var base = 0
            for p in parts {
                let lo = Swift.max(start, base) - base, hi = Swift.min(end, base + p.n) - base
                base += p.n
                if lo >= hi { continue }
                let h = p.weight.assumingMemoryBound(to: UInt16.self)
                switch p.format {
                case .f32: skinnyRows(x, rows, k, p.weight.assumingMemoryBound(to: Float.self), p.n, p.bias, p.y, lo, hi)
                case .f16: skinnyHalfRows(F16Lanes.self, x, rows, k, h, p.n, p.bias, p.y, lo, hi)
                case .bf16: skinnyHalfRows(BF16Lanes.self, x, rows, k, h, p.n, p.bias, p.y, lo, hi)
                case .q8_0: skinnyQ8Rows(x, rows, k, p.weight, p.n, p.bias, p.y, lo, hi)
                }
            }
        }
    }

    /// y = x · Wᵀ (+ y when `accumulate`: a bias already written there) for many rows with W held
    /// in `format`: blocks of W's rows are widened into an fp32 tile that stays in cache and fed to
    /// sgemm, so no fp32 copy of the whole matrix ever exists. x (m, k), W (n, k), y (m, n).
    public static func tiledLinear(
        _ x: UnsafePointer<Float>, m: Int, k: Int, packedWeight w: UnsafeRawPointer, format: ElementFormat, n: Int,
        accumulate: Bool, _ y: UnsafeMutablePointer<Float>
    ) {
        // About 2 MB of fp32 per tile: inside one core's L2 while sgemm packs it.
        let block = Swift.min(n, Swift.max(64, (1 << 19) / Swift.max(k, 1)))
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: block * k)
        defer { tile.deallocate() }
        var j0 = 0
        while j0 < n {
            let rows = Swift.min(block, n - j0)
            convertToFloat(w + format.byteCount(elements: j0 * k), format: format, count: rows * k, tile)
            BLAS.gemm(transA: false, transB: true, m: m, n: rows, k: k, a: x, lda: k, b: tile, ldb: k,
                      beta: accumulate ? 1 : 0, c: y + j0, ldc: n)
            j0 += rows
        }
    }

    /// Gathers rows of a `table` (vocab, dim) held in `format` for each id, widened, into out
    /// (count, dim).
    public static func embedding(
        packedTable table: UnsafeRawPointer, format: ElementFormat, vocab: Int, dim: Int, ids: UnsafePointer<Int32>,
        count: Int, _ out: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<count {
            let id = Int(ids[i])
            if id < 0 || id >= vocab { fatalError("token id \(id) outside the vocabulary of \(vocab)") }
        }
        // Serial: a lookup of a few rows per step is far below a parallel chunk.
        for i in 0..<count {
            convertToFloat(table + format.byteCount(elements: Int(ids[i]) * dim), format: format, count: dim, out + i * dim)
        }
    }

    // MARK: Q8_0

    /// The f16 scale of the Q8_0 block at `p`, as fp32.
    @inlinable @inline(__always)
    static func q8Scale(_ p: UnsafeRawPointer) -> Float {
        F16Lanes.load1(p.assumingMemoryBound(to: UInt16.self), 0)
    }

    /// Quants `8i ..< 8i + 8` of the Q8_0 block at `p`, as fp32 lanes (vpmovsxbd + vcvtdq2ps).
    @inlinable @inline(__always)
    static func q8Lanes(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: 2 + 8 * i, as: SIMD8<Int8>.self)))
    }

    /// x = d·q for `count` elements (whole blocks) at `source`.
    static func dequantizeQ8(_ source: UnsafeRawPointer, _ count: Int, _ d: UnsafeMutablePointer<Float>) {
        precondition(count % 32 == 0, "Q8_0 holds whole blocks of 32 elements, not \(count)")
        parallelFor(count / 32, minimumChunk: elementwiseGrain / 32) { start, end in
            for b in start..<end {
                let p = source + b * 34
                let scale = q8Scale(p)
                let out = UnsafeMutableRawPointer(d + b * 32)
                for i in 0..<4 { out.storeBytes(of: q8Lanes(p, i) * scale, toByteOffset: 32 * i, as: SIMD8<Float>.self) }
            }
        }
    }

    /// llama.cpp's `quantize_row_q8_0_ref`: per block d = max|x| / 127 stored as f16,
    /// q = round(x · (1/d)) (half away from zero), with the unrounded d's inverse.
    static func quantizeQ8(_ source: UnsafePointer<Float>, _ count: Int, _ destination: UnsafeMutableRawPointer) {
        precondition(count % 32 == 0, "Q8_0 holds whole blocks of 32 elements, not \(count)")
        parallelFor(count / 32, minimumChunk: elementwiseGrain / 32) { start, end in
            for b in start..<end {
                let x = source + b * 32, p = destination + b * 34
                var amax: Float = 0
                for i in 0..<32 { amax = Swift.max(amax, abs(x[i])) }
                let d = amax / 127, inverse = d != 0 ? 1 / d : 0
                p.storeBytes(of: F16Lanes.round1(d), as: UInt16.self)
                for i in 0..<32 {
                    p.storeBytes(of: Int8((x[i] * inverse).rounded(.toNearestOrAwayFromZero)), toByteOffset: 2 + i, as: Int8.self)
                }
            }
        }
    }

    /// The Q8_0 decoding product: each 32-element block's quants are widened once and dotted
    /// with up to four rows of x, the block sum scaled by d into the row's accumulator.
    @inlinable
    static func skinnyQ8(
        _ x: UnsafePointer<Float>, _ rows: Int, _ k: Int, _ w: UnsafeRawPointer, _ n: Int,
        _ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>
    ) {
        precondition(k % 32 == 0, "a Q8_0 matrix needs rows of whole 32-element blocks, not \(k)")
        parallelFor(n, minimumChunk: max(1, elementwiseGrain / max(k * rows, 1))) { start, end in
            skinnyQ8Rows(x, rows, k, w, n, bias, y, start, end)
        }
    }

    /// Output features `start ..< end` of the Q8_0 decoding product.
    @inlinable
    static func skinnyQ8Rows(
        _ x: UnsafePointer<Float>, _ rows: Int, _ k: Int, _ w: UnsafeRawPointer, _ n: Int,
        _ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, _ start: Int, _ end: Int
    ) {
        let blocks = k / 32, rowBytes = blocks * 34
        for j in start..<end {
            let wj = w + j * rowBytes
            let b = bias?[j] ?? 0
            var i = 0
            while i < rows {
                let group = Swift.min(4, rows - i)
                let r = q8DotRows(x + i * k, group, k, wj, blocks)
                y[i * n + j] = b + r.0
                if group > 1 { y[(i + 1) * n + j] = b + r.1 }
                if group > 2 { y[(i + 2) * n + j] = b + r.2 }
                if group > 3 { y[(i + 3) * n + j] = b + r.3 }
                i += group
            }
        }
    }

    /// Dot products of `count` (1...4) rows of x (stride k) with one Q8_0 row of `blocks` blocks.
    @inlinable @inline(__always)
    static func q8DotRows(_ x: UnsafePointer<Float>, _ count: Int, _ k: Int, _ w: UnsafeRawPointer, _ blocks: Int)
        -> (Float, Float, Float, Float) {
        var t0 = SIMD8<Float>(), t1 = SIMD8<Float>(), t2 = SIMD8<Float>(), t3 = SIMD8<Float>()
        let r0 = UnsafeRawPointer(x)
        @inline(__always) func block(_ r: UnsafeRawPointer, _ o: Int, _ q0: SIMD8<Float>, _ q1: SIMD8<Float>,
                                     _ q2: SIMD8<Float>, _ q3: SIMD8<Float>) -> SIMD8<Float> {
            var s = r.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) * q0
            s = s.addingProduct(r.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), q1)
            s = s.addingProduct(r.loadUnaligned(fromByteOffset: o + 64, as: SIMD8<Float>.self), q2)
            return s.addingProduct(r.loadUnaligned(fromByteOffset: o + 96, as: SIMD8<Float>.self), q3)
        }
        if count == 1 {
            // One row: two independent chains over alternating blocks.
            var bl = 0
            while bl + 2 <= blocks {
                let p = w + bl * 34, p2 = p + 34
                let s0 = block(r0, bl * 128, q8Lanes(p, 0), q8Lanes(p, 1), q8Lanes(p, 2), q8Lanes(p, 3))
                let s1 = block(r0, bl * 128 + 128, q8Lanes(p2, 0), q8Lanes(p2, 1), q8Lanes(p2, 2), q8Lanes(p2, 3))
                t0 = t0.addingProduct(s0, SIMD8(repeating: q8Scale(p)))
                t1 = t1.addingProduct(s1, SIMD8(repeating: q8Scale(p2)))
                bl += 2
            }
            if bl < blocks {
                let p = w + bl * 34
                t0 = t0.addingProduct(block(r0, bl * 128, q8Lanes(p, 0), q8Lanes(p, 1), q8Lanes(p, 2), q8Lanes(p, 3)),
                                      SIMD8(repeating: q8Scale(p)))
            }
            return ((t0 + t1).sum(), 0, 0, 0)
        }
        let r1 = UnsafeRawPointer(x + k), r2 = UnsafeRawPointer(x + Swift.min(2, count - 1) * k)
        let r3 = UnsafeRawPointer(x + Swift.min(3, count - 1) * k)
        for bl in 0..<blocks {
            let p = w + bl * 34, o = bl * 128
            let q0 = q8Lanes(p, 0), q1 = q8Lanes(p, 1), q2 = q8Lanes(p, 2), q3 = q8Lanes(p, 3)
            let d = SIMD8<Float>(repeating: q8Scale(p))
            t0 = t0.addingProduct(block(r0, o, q0, q1, q2, q3), d)
            t1 = t1.addingProduct(block(r1, o, q0, q1, q2, q3), d)
            // Fewer than four rows repeat the last one; its extra sums are dropped.
            t2 = t2.addingProduct(block(r2, o, q0, q1, q2, q3), d)
            t3 = t3.addingProduct(block(r3, o, q0, q1, q2, q3), d)
        }
        return (t0.sum(), t1.sum(), t2.sum(), t3.sum())
    }
}
