import AlignKernels

extension Tensor {
    /// x · weightᵀ + bias, as ``linear(weight:bias:)``, on the kernel that suits an incremental
    /// decoding step: up to 16 rows go through ``Kernels/skinnyLinear(_:rows:k:weight:n:bias:_:)``,
    /// which streams the weight once for all rows (sgemm packs it first, measured no faster for
    /// eight rows than for one), more rows (a prompt) through sgemm. The values equal
    /// ``linear(weight:bias:)``'s up to float rounding. Inference only: no graph is recorded.
    public func decodingLinear(weight w: Tensor, bias: Tensor? = nil) -> Tensor {
        precondition(!requiresGrad, "decodingLinear is for inference: run it under withNoGrad")
        let n = w.shape[0], k = w.shape[1]
        precondition(shape.last == k, "linear of \(shape) by weight \(w.shape)")
        let rows = count / k
        if rows > 16 || w.format != .f32 { return linear(weight: w, bias: bias) }   // narrow weights: their own skinny kernel
        var outShape = shape
        outShape[outShape.count - 1] = n
        let y = Tensor.empty(outShape)
        Kernels.skinnyLinear(pointer, rows: rows, k: k, weight: w.pointer, n: n,
                             bias: bias.map { UnsafePointer($0.pointer) }, y.pointer)
        return y
    }

    /// ``decodingLinear(weight:bias:)`` for several weights that read this same input (a decoding
    /// step's q/k/v or gate/up projections): one parallel pass over all their output features
    /// (``Kernels/skinnyLinears(_:rows:k:parts:)``) for up to 16 rows; more rows run each product
    /// on its own. Weights may be in any ``ElementFormat``. Inference only.
    public func decodingLinears(_ layers: [(weight: Tensor, bias: Tensor?)]) -> [Tensor] {
        precondition(!requiresGrad, "decodingLinears is for inference: run it under withNoGrad")
        let k = shape.last ?? 0
        let rows = count / Swift.max(k, 1)
        if rows > 16 { return layers.map { linear(weight: $0.weight, bias: $0.bias) } }
        let outputs = layers.map { layer -> Tensor in
            precondition(layer.weight.rank == 2 && layer.weight.shape[1] == k, "linear of \(shape) by weight \(layer.weight.shape)")
            var outShape = shape
            outShape[outShape.count - 1] = layer.weight.shape[0]
            return Tensor.empty(outShape)
        }
        let parts = zip(layers, outputs).map { layer, y in
            Kernels.SkinnyPart(weight: UnsafeRawPointer(layer.weight.rawPointer), format: layer.weight.format, n: layer.weight.shape[0],
                               bias: layer.bias.map { UnsafePointer($0.pointer) }, y: y.pointer)
        }
        Kernels.skinnyLinears(pointer, rows: rows, k: k, parts: parts)
        return outputs
    }
}
