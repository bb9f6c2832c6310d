import AlignKernels

extension Tensor {
    /// RMSNorm over the last axis (Llama, Qwen2, Mistral): x / √(mean(x²) + eps) · weight.
    public func rmsNorm(weight: Tensor, eps: Float) -> Tensor {
        let n = shape.last!
        precondition(weight.count == n, "RMSNorm weight \(weight.shape) for features \(n)")
        let y = Tensor.empty(shape), rstd = Tensor.empty([count / n])
        Kernels.rmsNorm(pointer, weight: weight.pointer, rows: count / n, n: n, eps: eps, y.pointer, rstd: rstd.pointer)
        return Tensor.record(y, .rmsNorm(x: detached(), weight: weight.detached(), rstd: rstd), inputs: [self, weight])
    }

    /// LayerNorm over the last axis (GPT-2): (x − mean)/√(var + eps) · weight + bias.
    public func layerNorm(weight: Tensor, bias: Tensor?, eps: Float) -> Tensor {
        let n = shape.last!
        precondition(weight.count == n && (bias?.count ?? n) == n, "LayerNorm parameters \(weight.shape) for features \(n)")
        let rows = count / n
        let y = Tensor.empty(shape), mean = Tensor.empty([rows]), rstd = Tensor.empty([rows])
        Kernels.layerNorm(pointer, weight: weight.pointer, bias: bias.map { UnsafePointer($0.pointer) }, rows: rows, n: n,
                          eps: eps, y.pointer, mean: mean.pointer, rstd: rstd.pointer)
        let op = Operation.layerNorm(x: detached(), weight: weight.detached(), mean: mean, rstd: rstd, hasBias: bias != nil)
        return Tensor.record(y, op, inputs: bias.map { [self, weight, $0] } ?? [self, weight])
    }

    /// GroupNorm over (batch, channels, spatial…): statistics per (sample, channel group).
    public func groupNorm(groups: Int, weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
        precondition(rank >= 2 && shape[1] % groups == 0, "GroupNorm of \(shape) into \(groups) groups")
        let batch = shape[0], channels = shape[1], spatial = count / (batch * channels)
        let y = Tensor.empty(shape), mean = Tensor.empty([batch * groups]), rstd = Tensor.empty([batch * groups])
        Kernels.groupNorm(pointer, weight: weight.pointer, bias: bias.pointer, batch: batch, channels: channels,
                          spatial: spatial, groups: groups, eps: eps, y.pointer, mean: mean.pointer, rstd: rstd.pointer)
        let op = Operation.groupNorm(x: detached(), weight: weight.detached(), mean: mean, rstd: rstd, groups: groups)
        return Tensor.record(y, op, inputs: [self, weight, bias])
    }
}
