import Foundation

extension Kernels {
    /// y[i] = f(x[i]) over `count` elements, eight lanes at a time, in parallel.
    @inlinable @inline(__always)
    public static func map(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
        _ f: (SIMD8<Float>) -> SIMD8<Float>
    ) {
        parallelFor(count, minimumChunk: elementwiseGrain) { start, end in
            var i = start
            while i + 8 <= end {
                let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(y + i).storeBytes(of: f(v), as: SIMD8<Float>.self)
                i += 8
            }
            if i < end {
                var v = SIMD8<Float>(repeating: 0)
                for j in 0..<(end - i) { v[j] = x[i + j] }
                let r = f(v)
                for j in 0..<(end - i) { y[i + j] = r[j] }
            }
        }
    }

    /// z[i] = f(x[i], y[i]) over `count` elements of two equally shaped buffers.
    @inlinable @inline(__always)
    public static func zip(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>,
        count: Int, _ f: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>
    ) {
        parallelFor(count, minimumChunk: elementwiseGrain) { start, end in
            var i = start
            while i + 8 <= end {
                let a = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                let b = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(z + i).storeBytes(of: f(a, b), as: SIMD8<Float>.self)
                i += 8
            }
            if i < end {
                var a = SIMD8<Float>(repeating: 0), b = SIMD8<Float>(repeating: 0)
                for j in 0..<(end - i) { a[j] = x[i + j]; b[j] = y[i + j] }
                let r = f(a, b)
                for j in 0..<(end - i) { z[i + j] = r[j] }
            }
        }
    }

    /// w[i] = f(x[i], y[i], z[i]) over `count` elements of three equally shaped buffers.
    @inlinable @inline(__always)
    public static func zip3(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafePointer<Float>,
        _ w: UnsafeMutablePointer<Float>, count: Int,
        _ f: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>
    ) {
        parallelFor(count, minimumChunk: elementwiseGrain) { start, end in
            var i = start
            while i + 8 <= end {
                let a = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                let b = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
                let c = UnsafeRawPointer(z + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(w + i).storeBytes(of: f(a, b, c), as: SIMD8<Float>.self)
                i += 8
            }
            if i < end {
                var a = SIMD8<Float>(repeating: 0), b = SIMD8<Float>(repeating: 0), c = SIMD8<Float>(repeating: 0)
                for j in 0..<(end - i) { a[j] = x[i + j]; b[j] = y[i + j]; c[j] = z[i + j] }
                let r = f(a, b, c)
                for j in 0..<(end - i) { w[i + j] = r[j] }
            }
        }
    }

    /// y[i] = f(x[i]) for functions with no vector form (erf, say), in parallel.
    @inlinable @inline(__always)
    public static func mapScalar(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, _ f: (Float) -> Float
    ) {
        parallelFor(count, minimumChunk: elementwiseGrain / 4) { start, end in
            for i in start..<end { y[i] = f(x[i]) }
        }
    }

    /// y += x over `count` elements (gradient accumulation).
    public static func accumulate(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        zip(x, y, y, count: count) { a, b in a + b }
    }

    /// y = alpha · x + y.
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        zip(x, y, y, count: count) { a, b in alpha * a + b }
    }

    /// Σ x[i]·y[i]: float lanes within blocks of 512 elements, blocks summed in double (the
    /// error stays near double's while the inner loop runs at float SIMD speed; Swift's generic
    /// Float→Double SIMD conversion would fall back to a per-lane loop).
    ///
    /// Long buffers (a gradient norm over a model's weights) compute their blocks on all threads
    /// and add the block sums in order afterwards: the same operations in the same order as one
    /// thread, so the result does not depend on the thread count.
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Double {
        @inline(__always) func block(_ start: Int) -> Double {
            let end = Swift.min(count, start + 512)
            var i = start
            var acc = SIMD8<Float>(repeating: 0)
            while i + 8 <= end {
                acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                    * UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
                i += 8
            }
            var sum = Double(acc.sum())
            while i < end { sum += Double(x[i]) * Double(y[i]); i += 1 }
            return sum
        }
        let blocks = (count + 511) / 512
        guard blocks >= 64 else {
            var total = 0.0
            for b in 0..<blocks { total += block(b * 512) }
            return total
        }
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: blocks)
        defer { sums.deallocate() }
        parallelFor(blocks, minimumChunk: 32) { start, end in
            for b in start..<end { sums[b] = block(b * 512) }
        }
        var total = 0.0
        for b in 0..<blocks { total += sums[b] }
        return total
    }

    /// Σ x[i], blocked like ``dot(_:_:count:)``.
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Double {
        var total = 0.0
        var i = 0
        while i < count {
            let end = Swift.min(count, i + 512)
            var acc = SIMD8<Float>(repeating: 0)
            while i + 8 <= end {
                acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                i += 8
            }
            var block = Double(acc.sum())
            while i < end { block += Double(x[i]); i += 1 }
            total += block
        }
        return total
    }

    /// The GELU of `x` in its exact (erf) form: x · Φ(x).
    @inlinable
    public static func geluErf(_ x: Float) -> Float { 0.5 * x * (1 + erff(x * 0.70710678118654752)) }

    /// d/dx of ``geluErf(_:)``: Φ(x) + x·φ(x).
    @inlinable
    public static func geluErfDerivative(_ x: Float) -> Float {
        let cdf = 0.5 * (1 + erff(x * 0.70710678118654752))
        let pdf = expf(-0.5 * x * x) * 0.39894228040143268
        return cdf + x * pdf
    }
}

/// How two shapes broadcast against each other, NumPy-style, flattened for fast iteration.
public struct BroadcastPlan: Sendable {
    /// The broadcast output shape.
    public let shape: [Int]
    /// Per output dimension, the element stride into each input (0 where that input repeats).
    public let stridesA: [Int], stridesB: [Int]

    /// Aligns `a` and `b` from the right; fails with a message naming both shapes when they clash.
    public init(_ a: [Int], _ b: [Int]) {
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        var out = [Int](repeating: 1, count: rank)
        for d in 0..<rank {
            precondition(pa[d] == pb[d] || pa[d] == 1 || pb[d] == 1,
                         "shapes \(a) and \(b) do not broadcast (dimension \(d): \(pa[d]) vs \(pb[d]))")
            out[d] = pa[d] == 1 ? pb[d] : pa[d]
        }
        shape = out
        stridesA = BroadcastPlan.strides(pa, out)
        stridesB = BroadcastPlan.strides(pb, out)
    }

    static func strides(_ padded: [Int], _ out: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: padded.count)
        var acc = 1
        for d in stride(from: padded.count - 1, through: 0, by: -1) {
            strides[d] = padded[d] == 1 && out[d] != 1 ? 0 : acc
            acc *= padded[d]
        }
        return strides
    }

    /// Calls `body(outOffset, aOffset, bOffset, strideA, strideB, length)` once per run along the
    /// last output dimension, covering the whole output; runs are handed out in parallel.
    @inlinable
    public func forEachRow(_ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        let rank = shape.count
        if rank == 0 { body(0, 0, 0, 0, 0, 1); return }
        let inner = shape[rank - 1]
        let rows = shape.dropLast().reduce(1, *)
        let sa = stridesA[rank - 1], sb = stridesB[rank - 1]
        parallelFor(rows, minimumChunk: max(1, Kernels.elementwiseGrain / max(inner, 1))) { start, end in
            for row in start..<end {
                var rem = row, offA = 0, offB = 0
                for d in stride(from: rank - 2, through: 0, by: -1) {
                    let i = rem % shape[d]
                    rem /= shape[d]
                    offA += i * stridesA[d]
                    offB += i * stridesB[d]
                }
                body(row * inner, offA, offB, sa, sb, inner)
            }
        }
    }
}

extension Kernels {
    /// Backward of SwiGLU's gate y = silu(gate) ⊙ up in one pass over the three inputs:
    /// dGate = g ⊙ up ⊙ σ(gate)(1 + gate(1 − σ(gate))), dUp = g ⊙ silu(gate).
    public static func swiGLUBackward(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, grad g: UnsafePointer<Float>,
        dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, count: Int
    ) {
        @inline(__always) func step(_ x: SIMD8<Float>, _ u: SIMD8<Float>, _ gv: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
            let s = VectorMath.sigmoid(x)
            return (gv * u * s * (1 + x * (1 - s)), gv * x * s)
        }
        parallelFor(count, minimumChunk: elementwiseGrain) { start, end in
            var i = start
            while i + 8 <= end {
                let (a, b) = step(UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD8<Float>.self),
                                  UnsafeRawPointer(up + i).loadUnaligned(as: SIMD8<Float>.self),
                                  UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self))
                UnsafeMutableRawPointer(dGate + i).storeBytes(of: a, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dUp + i).storeBytes(of: b, as: SIMD8<Float>.self)
                i += 8
            }
            if i < end {
                var x = SIMD8<Float>(), u = SIMD8<Float>(), gv = SIMD8<Float>()
                for j in 0..<(end - i) { x[j] = gate[i + j]; u[j] = up[i + j]; gv[j] = g[i + j] }
                let (a, b) = step(x, u, gv)
                for j in 0..<(end - i) { dGate[i + j] = a[j]; dUp[i + j] = b[j] }
            }
        }
    }
}
