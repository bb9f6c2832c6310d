import AlignKernels

extension Tensor {
    /// x · (W + s·B·A)ᵀ + bias: a linear layer with a low-rank update (LoRA without dropout),
    /// W (out, in), A (r, in), B (out, r), x (..., in); differentiable in x, W, A, B and the bias.
    ///
    /// The same values as `x.linear(W) + s·(x·Aᵀ)·Bᵀ`, computed as one product with the merged
    /// weight W' = W + s·B·A instead: W' costs 2·r·in·out multiply-adds (a product of r rows),
    /// while the separate path adds two skinny products over every row of x, an (n, out) pass to
    /// add the update to the base output, and in backward another skinny product and an (n, in)
    /// pass summing the two input gradients. Worth it once x has more rows than
    /// in·out/(in + out) (``lowRankMergePays(rows:inFeatures:outFeatures:)``). Backward rebuilds
    /// W' rather than keeping it (a copy of every adapted weight would cost more memory than the
    /// base model's activations at SmolLM2's size), and keeps only h = x·Aᵀ (n, r) for dB.
    public func lowRankLinear(weight: Tensor, bias: Tensor?, a: Tensor, b: Tensor, scaling: Float) -> Tensor {
        precondition(weight.format == .f32 && a.format == .f32 && b.format == .f32, "lowRankLinear needs fp32 weights")
        let outF = weight.shape[0], inF = weight.shape[1], r = a.shape[0]
        precondition(shape.last == inF && a.shape == [r, inF] && b.shape == [outF, r],
                     "lowRankLinear of \(shape) by W \(weight.shape), A \(a.shape), B \(b.shape)")
        let merged = Tensor.lowRankMerged(weight: weight, a: a, b: b, scaling: scaling)   // (out, in)
        let y = affineProduct(merged, bias: bias)                                          // (..., out)
        let inputs = bias.map { [self, weight, a, b, $0] } ?? [self, weight, a, b]
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return y }
        // h = x·Aᵀ (m, r), unscaled: dB = s·gᵀ·h in backward.
        let m = count / inF
        let h = Tensor.empty([m, r])
        if a.requiresGrad || b.requiresGrad {
            if r % 8 == 0 {
                // Aᵀ (in, r) as the narrow kernel's right operand: a copy of r·in floats.
                let at = a.detached().transposed()
                Kernels.narrowProduct(m: m, k: inF, r: r, x: pointer, p: at.pointer, c: h.pointer)
            } else {
                BLAS.gemm(transB: true, m: m, n: r, k: inF, a: pointer, b: a.pointer, c: h.pointer)
            }
        }
        let op = Operation.lowRankLinear(x: detached(), weight: weight.detached(), a: a.detached(), b: b.detached(),
                                         h: h, scaling: scaling, hasBias: bias != nil)
        return Tensor.record(y, op, inputs: inputs)
    }

    /// W + s·B·A (out, in) for W (out, in), A (r, in), B (out, r): one product with k = r into a copy of W.
    static func lowRankMerged(weight: Tensor, a: Tensor, b: Tensor, scaling: Float) -> Tensor {
        let outF = weight.shape[0], inF = weight.shape[1], r = a.shape[0]
        let merged = Tensor.empty([outF, inF])
        merged.pointer.update(from: weight.pointer, count: outF * inF)
        BLAS.gemm(m: outF, n: inF, k: r, alpha: scaling, a: b.pointer, b: a.pointer, beta: 1, c: merged.pointer)
        return merged
    }

    /// Whether ``lowRankLinear(weight:bias:a:b:scaling:)`` beats the separate adapter path for x
    /// with `rows` rows: merging costs about what the base product of r rows costs, and saves a
    /// product of rank r over every row plus passes over (rows, out) and (rows, in), so it pays
    /// from rows·(in + out) > in·out (288 rows for a 576 × 576 projection). Below that (decoding,
    /// a few rows) the separate path is cheaper.
    public static func lowRankMergePays(rows: Int, inFeatures: Int, outFeatures: Int) -> Bool {
        rows * (inFeatures + outFeatures) > inFeatures * outFeatures
    }
}

extension Backward {
    /// Gradients of y = x·W'ᵀ + bias with W' = W + s·B·A; g (m, out), h = x·Aᵀ (m, r).
    /// dx = g·W' (one product, where the separate path sums g·W and s·(g·B)·A),
    /// dW = gᵀ·x, dA = s·(g·B)ᵀ·x, dB = s·gᵀ·h, dbias = Σ rows of g.
    static func lowRankLinear(x: Tensor, weight: Tensor, a: Tensor, b: Tensor, h: Tensor, scaling s: Float,
                              hasBias: Bool, g: Tensor, needs: [Bool], accumulator: Tensor? = nil) -> [Tensor?] {
        let outF = weight.shape[0], inF = weight.shape[1], r = a.shape[0], m = x.count / inF
        var dx: Tensor?, dw: Tensor?, da: Tensor?, db: Tensor?, dBias: Tensor?
        if needs[0] {
            dx = linearInputGradient(g, weight: Tensor.lowRankMerged(weight: weight, a: a, b: b, scaling: s),
                                     xShape: x.shape, into: accumulator)
        }
        if needs[1] { dw = linearWeightGradient(g, x: x, weightShape: weight.shape) }
        // Ranks that are a multiple of 8 run on the narrow kernels (about twice cblas's rate for
        // g·B, `align-bench narrow`); others on cblas.
        let narrow = r % 8 == 0
        if needs[2] {
            // g·B (m, r), then s·(g·B)ᵀ·x (r, in).
            let gb = Tensor.empty([m, r])
            let t = Tensor.empty(a.shape)
            if narrow {
                Kernels.narrowProduct(m: m, k: outF, r: r, x: g.pointer, p: b.pointer, c: gb.pointer)
                Kernels.transposedNarrowProduct(m: m, r: r, n: inF, alpha: s, h: gb.pointer, x: x.pointer, ldx: inF, c: t.pointer)
            } else {
                BLAS.gemm(m: m, n: r, k: outF, a: g.pointer, b: b.pointer, c: gb.pointer)
                BLAS.gemm(transA: true, m: r, n: inF, k: m, alpha: s, a: gb.pointer, b: x.pointer, c: t.pointer)
            }
            da = t
        }
        if needs[3] {
            if narrow {
                // dBᵀ = s·hᵀ·g (r, out), transposed into dB (out, r).
                let bt = Tensor.empty([r, outF])
                Kernels.transposedNarrowProduct(m: m, r: r, n: outF, alpha: s, h: h.pointer, x: g.pointer, ldx: outF, c: bt.pointer)
                db = bt.transposed()
            } else {
                let t = Tensor.empty(b.shape)
                BLAS.gemm(transA: true, m: outF, n: r, k: m, alpha: s, a: g.pointer, b: h.pointer, c: t.pointer)
                db = t
            }
        }
        if hasBias && needs[4] {
            let t = Tensor.zeros([outF])
            Kernels.sumAxis(g.pointer, t.pointer, outer: 1, n: m, inner: outF)
            dBias = t
        }
        return hasBias ? [dx, dw, da, db, dBias] : [dx, dw, da, db]
    }
}
