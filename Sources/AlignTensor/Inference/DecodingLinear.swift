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
        if rows > 16 { return linear(weight: w, bias: bias) }
        var outShape = shape
        outShape[outShape.count - 1] = n
        let y = Tensor.empty(outShape)
        Kernels.skinnyLinear(pointer, rows: rows, k: k, weight: w.pointer, n: n,
                             bias: bias.map { UnsafePointer($0.pointer) }, y.pointer)
        return y
    }
}
