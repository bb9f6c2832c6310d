import AlignKernels

extension Tensor {
    /// Inverted dropout: zeroes each element with probability `p` and scales survivors by
    /// 1/(1−p), drawing from `generator` so runs reproduce. Identity when `p` is 0.
    public func dropout(_ p: Float, generator: inout RandomGenerator) -> Tensor {
        precondition(p >= 0 && p < 1, "dropout probability \(p) outside [0, 1)")
        if p == 0 { return self }
        let mask = Tensor.empty(shape)
        let keep = 1 / (1 - p)
        for i in 0..<count { mask.pointer[i] = generator.nextUniform() < p ? 0 : keep }
        let y = Tensor.map3(self, mask, self) { x, m, _ in x * m }
        return Tensor.record(y, .dropout(mask: mask), inputs: [self])
    }

    /// Mean squared error between two equally shaped tensors, averaged over all elements.
    public static func meanSquaredError(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "MSE of shapes \(a.shape) and \(b.shape)")
        return (a - b).square().mean()
    }
}
