import AlignKernels

extension Tensor {
    /// Matrix product: (..., m, k) · (k, n) with the right side shared, or batched
    /// (..., m, k) · (..., k, n) with equal leading dimensions.
    public func matmul(_ b: Tensor) -> Tensor {
        precondition(rank >= 2 && b.rank >= 2, "matmul needs matrices, got \(shape) and \(b.shape)")
        let k = shape[rank - 1], m = shape[rank - 2], n = b.shape[b.rank - 1]
        precondition(b.shape[b.rank - 2] == k, "matmul inner dimensions differ: \(shape) · \(b.shape)")
        var outShape = Array(shape.dropLast())
        outShape.append(n)
        let y = Tensor.empty(outShape)
        if b.rank == 2 {
            BLAS.gemm(m: count / k, n: n, k: k, a: pointer, b: b.pointer, c: y.pointer)
        } else {
            precondition(Array(shape.dropLast(2)) == Array(b.shape.dropLast(2)), "batched matmul batch dims differ: \(shape) · \(b.shape)")
            let batches = count / (m * k)
            for i in 0..<batches {
                BLAS.gemm(m: m, n: n, k: k, a: pointer + i * m * k, b: b.pointer + i * k * n, c: y.pointer + i * m * n)
            }
        }
        return Tensor.record(y, .matmul(a: detached(), b: b.detached()), inputs: [self, b])
    }

    /// x · weightᵀ + bias (..., out) for an fp32 weight (out, in), no graph: the bias rows are
    /// written first and the product accumulates onto them (beta = 1), so there is no second pass.
    func affineProduct(_ weight: Tensor, bias: Tensor?) -> Tensor {
        let outF = weight.shape[0], inF = weight.shape[1], m = count / inF
        var outShape = Array(shape.dropLast())
        outShape.append(outF)
        let y = Tensor.empty(outShape)
        if let bias {
            for r in 0..<m { (y.pointer + r * outF).update(from: bias.pointer, count: outF) }
        }
        BLAS.gemm(transB: true, m: m, n: outF, k: inF, a: pointer, b: weight.pointer, beta: bias == nil ? 0 : 1, c: y.pointer)
        return y
    }

    /// x · weightᵀ + bias for weight (out, in), as `torch.nn.functional.linear`; x is (..., in).
    ///
    /// A `weight` held in f16, bf16 or Q8_0 (frozen inference weights, ``converted(to:)``) is read by the
    /// widening kernels and gets no gradient; when x or the bias needs one, the weight is widened
    /// to an fp32 constant for this product so that their gradients flow as usual.
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        if weight.format != .f32 {
            precondition(!weight.requiresGrad, "a \(weight.format) weight is frozen: it cannot require a gradient")
            if GradMode.isEnabled && (requiresGrad || bias?.requiresGrad == true) {
                return linear(weight: weight.converted(to: .f32), bias: bias)
            }
            return linearPackedWeight(weight, bias: bias)
        }
        precondition(shape.last == weight.shape[1], "linear of \(shape) by weight \(weight.shape)")
        let y = affineProduct(weight, bias: bias)
        let op = Operation.linear(x: detached(), weight: weight.detached(), hasBias: bias != nil)
        return Tensor.record(y, op, inputs: bias.map { [self, weight, $0] } ?? [self, weight])
    }

    /// Rows of this (vocabulary, dim) table for each id; the result has shape `idShape + [dim]`.
    public func embedding(ids: [Int32], shape idShape: [Int]) -> Tensor {
        precondition(rank == 2, "embedding table must be (vocabulary, dim), got \(shape)")
        precondition(idShape.reduce(1, *) == ids.count, "\(ids.count) ids for shape \(idShape)")
        if format != .f32 { return embeddingPackedTable(ids: ids, shape: idShape) }
        let dim = shape[1]
        let y = Tensor.empty(idShape + [dim])
        ids.withUnsafeBufferPointer { p in
            Kernels.embedding(pointer, vocab: shape[0], dim: dim, ids: p.baseAddress!, count: ids.count, y.pointer)
        }
        return Tensor.record(y, .embedding(ids: ids, vocabulary: shape[0]), inputs: [self])
    }
}
