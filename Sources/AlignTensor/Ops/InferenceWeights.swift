import AlignKernels

/// Weights held in f16, bf16 or Q8_0 (``ElementFormat``) for models used only for inference: the
/// DPO/KTO reference, reward models during rollouts, and samplers. The products still accumulate
/// in fp32 and every activation stays fp32; only the stored matrices are rounded, so a decoding
/// step, which is bound by streaming the weights, reads 1/2 (or 34/128) of the bytes, and the
/// model takes as much less memory.
///
/// Ops that read such a tensor: ``linear(weight:bias:)``, ``decodingLinear(weight:bias:)``,
/// ``embedding(ids:shape:)``, ``converted(to:)`` and ``toArray()``. A narrow weight never receives
/// a gradient; an input that requires one still gets it (the weight is widened to fp32 for that
/// product, see ``linear(weight:bias:)``).
extension Tensor {
    /// A copy of this tensor stored as `format` (16-bit: rounded to nearest, ties to even; Q8_0:
    /// quantised per 32-element block as llama.cpp does, so the count must be a multiple of 32;
    /// exact when widening). Not recorded in the graph: the copy is a constant.
    public func converted(to target: ElementFormat) -> Tensor {
        if target == format { return detached() }
        let n = count
        switch (format, target) {
        case (.f32, _):
            let storage = TensorStorage(count: n, format: target)
            Kernels.convertFromFloat(pointer, count: n, format: target, storage.rawPointer)
            return Tensor(storage: storage, shape: shape)
        case (_, .f32):
            let y = Tensor.empty(shape)
            Kernels.convertToFloat(rawPointer, format: format, count: n, y.pointer)
            return y
        default:
            return converted(to: .f32).converted(to: target)
        }
    }

    /// ``linear(weight:bias:)`` with `weight` held narrow: few rows on the widening decoding
    /// kernel, more through sgemm on fp32 tiles widened block by block.
    func linearPackedWeight(_ weight: Tensor, bias: Tensor?) -> Tensor {
        let outF = weight.shape[0], inF = weight.shape[1]
        precondition(shape.last == inF, "linear of \(shape) by weight \(weight.shape)")
        let m = count / inF
        var outShape = Array(shape.dropLast())
        outShape.append(outF)
        let y = Tensor.empty(outShape)
        if m <= 16 {
            Kernels.skinnyLinear(pointer, rows: m, k: inF, packedWeight: weight.rawPointer, format: weight.format, n: outF,
                                 bias: bias.map { UnsafePointer($0.pointer) }, y.pointer)
        } else {
            if let bias {
                for r in 0..<m { (y.pointer + r * outF).update(from: bias.pointer, count: outF) }
            }
            Kernels.tiledLinear(pointer, m: m, k: inF, packedWeight: weight.rawPointer, format: weight.format, n: outF,
                                    accumulate: bias != nil, y.pointer)
        }
        return y
    }

    /// ``embedding(ids:shape:)`` of a narrow table: the rows widened to fp32 (no gradient).
    func embeddingPackedTable(ids: [Int32], shape idShape: [Int]) -> Tensor {
        let dim = shape[1]
        let y = Tensor.empty(idShape + [dim])
        ids.withUnsafeBufferPointer { p in
            Kernels.embedding(packedTable: rawPointer, format: format, vocab: shape[0], dim: dim, ids: p.baseAddress!,
                              count: ids.count, y.pointer)
        }
        return y
    }
}
