import AlignKernels

// In-place updates for optimisers and gradient clipping. They write into the tensors' storage
// (parameters, gradients, optimiser state all keep their identity), record no graph, and are the
// whole of what AlignOptim asks of a backend: a second backend implements these beside the ops.

extension Tensor {
    /// One AdamW step on this parameter value, as `torch.optim.AdamW`:
    /// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p·decay − stepSize·m / (√v / biasCorrection2Root + ε).
    /// `gradient`, `expAvg` and `expAvgSq` have this tensor's element count; the two moments are
    /// updated in place.
    public func applyAdamW(gradient: Tensor, expAvg: Tensor, expAvgSq: Tensor, stepSize: Float, beta1: Float,
                           beta2: Float, eps: Float, biasCorrection2Root: Float, decay: Float) {
        precondition(gradient.count == count && expAvg.count == count && expAvgSq.count == count,
                     "AdamW on \(shape) with gradient \(gradient.shape), moments \(expAvg.shape), \(expAvgSq.shape)")
        let pp = pointer, gp = gradient.pointer, mp = expAvg.pointer, vp = expAvgSq.pointer
        let (b1, b2, e) = (beta1, beta2, eps)
        // Eight lanes at a time with a scalar loop's exact operations and order (vector sqrt and
        // division round as the scalar ones do), so results are bit-identical to it: the compiler
        // left that loop scalar (a sqrt and a divide per element), ~2.5x the memory-bound time.
        @inline(__always) func update(_ g: SIMD8<Float>, _ m: SIMD8<Float>, _ v: SIMD8<Float>, _ p: SIMD8<Float>)
            -> (m: SIMD8<Float>, v: SIMD8<Float>, p: SIMD8<Float>) {
            let mi = b1 * m + (1 - b1) * g
            let vi = b2 * v + (1 - b2) * g * g
            let denom = vi.squareRoot() / biasCorrection2Root + e
            return (mi, vi, p * decay - stepSize * mi / denom)
        }
        parallelFor(count, minimumChunk: Kernels.elementwiseGrain) { start, end in
            var i = start
            while i + 8 <= end {
                @inline(__always) func load(_ q: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
                    UnsafeRawPointer(q + i).loadUnaligned(as: SIMD8<Float>.self)
                }
                let r = update(load(gp), load(mp), load(vp), load(pp))
                UnsafeMutableRawPointer(mp + i).storeBytes(of: r.m, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(vp + i).storeBytes(of: r.v, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(pp + i).storeBytes(of: r.p, as: SIMD8<Float>.self)
                i += 8
            }
            if i < end {
                // The tail through the same formula, zero-padded lanes discarded.
                func load(_ q: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
                    var v = SIMD8<Float>()
                    for l in 0..<(end - i) { v[l] = q[i + l] }
                    return v
                }
                let r = update(load(gp), load(mp), load(vp), load(pp))
                for l in 0..<(end - i) { mp[i + l] = r.m[l]; vp[i + l] = r.v[l]; pp[i + l] = r.p[l] }
            }
        }
    }

    /// One SGD step on this parameter value, as `torch.optim.SGD` (dampening 0): g ← g + wd·p;
    /// without momentum p ← p − lr·g; with it b ← μ·b + g (b ← g on the first step, `seedBuffer`)
    /// and p ← p − lr·(g + μ·b if Nesterov else b). `momentumBuffer` is updated in place.
    public func applySGD(gradient: Tensor, momentumBuffer: Tensor?, seedBuffer: Bool, learningRate lr: Float,
                         momentum mu: Float, weightDecay wd: Float, nesterov: Bool) {
        precondition(gradient.count == count && (momentumBuffer?.count ?? count) == count,
                     "SGD on \(shape) with gradient \(gradient.shape)")
        let pp = pointer, gp = gradient.pointer
        guard let buffer = momentumBuffer, mu != 0 else {
            parallelFor(count, minimumChunk: Kernels.elementwiseGrain) { s, e in
                for i in s..<e { pp[i] -= lr * (gp[i] + wd * pp[i]) }
            }
            return
        }
        let bp = buffer.pointer
        parallelFor(count, minimumChunk: Kernels.elementwiseGrain) { s, e in
            for i in s..<e {
                let gi = gp[i] + wd * pp[i]
                // PyTorch seeds the buffer with the first gradient itself.
                let bi = seedBuffer ? gi : mu * bp[i] + gi
                bp[i] = bi
                pp[i] -= lr * (nesterov ? gi + mu * bi : bi)
            }
        }
    }

    /// One RMSprop step on this parameter value, as `torch.optim.RMSprop` (not centred, no
    /// momentum): g ← g + wd·p, v ← α·v + (1−α)·g², p ← p − lr·g/(√v + ε). `squareAverage` is
    /// updated in place.
    public func applyRMSprop(gradient: Tensor, squareAverage: Tensor, learningRate lr: Float, alpha a: Float,
                             eps e: Float, weightDecay wd: Float) {
        precondition(gradient.count == count && squareAverage.count == count,
                     "RMSprop on \(shape) with gradient \(gradient.shape), square average \(squareAverage.shape)")
        let pp = pointer, gp = gradient.pointer, vp = squareAverage.pointer
        parallelFor(count, minimumChunk: Kernels.elementwiseGrain) { s, end in
            for i in s..<end {
                let gi = gp[i] + wd * pp[i]
                let vi = a * vp[i] + (1 - a) * gi * gi
                vp[i] = vi
                pp[i] -= lr * gi / (vi.squareRoot() + e)
            }
        }
    }

    /// Σ x² over every element, accumulated in fp64 (a gradient norm's square). No graph.
    public func sumOfSquares() -> Double { Kernels.dot(pointer, pointer, count: count) }

    /// Multiplies every element by `factor` in place (gradient clipping). No graph.
    public func scaleInPlace(by factor: Float) {
        Kernels.map(pointer, pointer, count: count) { $0 * factor }
    }
}
