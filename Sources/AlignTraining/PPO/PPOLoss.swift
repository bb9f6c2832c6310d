import AlignTensor

/// Elementwise helpers the clipped objectives need, built from `select` so gradients follow the
/// chosen branch (torch's `clamp` passes the gradient inside [lo, hi], `max` to the larger input;
/// where both inputs are equal either choice gives the same gradient here).
enum Clipped {
    /// max(a, b) elementwise.
    static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
        let (x, y) = (a.toArray(), b.toArray())
        let condition = Tensor(shape: a.shape, values: zip(x, y).map { $0 >= $1 ? 1 : 0 })
        return Tensor.select(condition, a, b)
    }

    /// min(a, b) elementwise.
    static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor {
        let (x, y) = (a.toArray(), b.toArray())
        let condition = Tensor(shape: a.shape, values: zip(x, y).map { $0 <= $1 ? 1 : 0 })
        return Tensor.select(condition, a, b)
    }

    /// clamp(x, lower, upper) elementwise with per-element bounds (constants).
    static func clamp(_ x: Tensor, lower: [Float], upper: [Float]) -> Tensor {
        let v = x.toArray()
        let lo = Tensor(shape: x.shape, values: lower), hi = Tensor(shape: x.shape, values: upper)
        let below = Tensor(shape: x.shape, values: zip(v, lower).map { $0 < $1 ? 1 : 0 })
        let above = Tensor(shape: x.shape, values: zip(v, upper).map { $0 > $1 ? 1 : 0 })
        return Tensor.select(below, lo, Tensor.select(above, hi, x))
    }
}

/// PPO's clipped losses on one micro-batch, as TRL's PPO loop computes them, over the unmasked
/// positions only (padding never reaches the model).
public enum PPOLoss {
    /// One micro-batch's tensors: the `n` response positions that are not padding (TRL's
    /// `~padding_mask`) and the `m` value positions (TRL's `~padding_mask_p1`).
    public struct Inputs {
        /// New log-probs (n), differentiable.
        public var logprobs: Tensor
        /// Rollout log-probs (n).
        public var oldLogprobs: [Float]
        /// Whitened advantages (n).
        public var advantages: [Float]
        /// New values (m), differentiable.
        public var values: Tensor
        /// Rollout values (m).
        public var oldValues: [Float]
        /// Returns (m).
        public var returns: [Float]
        /// rows × padded width of the micro-batch (TRL's plain means run over padding too).
        public var paddedPositions: Int

        public init(logprobs: Tensor, oldLogprobs: [Float], advantages: [Float], values: Tensor, oldValues: [Float], returns: [Float],
                    paddedPositions: Int) {
            self.logprobs = logprobs; self.oldLogprobs = oldLogprobs; self.advantages = advantages; self.values = values
            self.oldValues = oldValues; self.returns = returns; self.paddedPositions = paddedPositions
        }
    }

    /// TRL's per-micro-batch statistics.
    public struct Statistics: Sendable {
        public var policyLoss: Float, valueLoss: Float, approxKL: Float, policyClipFraction: Float, valueClipFraction: Float
        /// Mean ratio over the padded micro-batch (padding counts as ratio 1, as in TRL).
        public var ratio: Float
    }

    /// pg_loss + vf_coef · vf_loss with pg_loss = mean(max(−A·ρ, −A·clip(ρ, 1 ± ε))) and
    /// vf_loss = ½·mean(max((v − R)², (clip(v, v_old ± ε_v) − R)²)).
    public static func evaluate(_ x: Inputs, cliprange: Float, cliprangeValue: Float, vfCoef: Float) -> (loss: Tensor, statistics: Statistics) {
        let n = x.oldLogprobs.count, m = x.oldValues.count
        let old = Tensor(shape: [n], values: x.oldLogprobs)
        let advantage = Tensor(shape: [n], values: x.advantages)
        let diff = x.logprobs - old
        let ratio = diff.exp()
        let ratioValues = ratio.toArray()
        let clippedRatio = Clipped.clamp(ratio, lower: [Float](repeating: 1 - cliprange, count: n), upper: [Float](repeating: 1 + cliprange, count: n))
        let pg1 = -(advantage * ratio), pg2 = -(advantage * clippedRatio)
        let pgLoss = Clipped.maximum(pg1, pg2).sum() / Float(max(n, 1))

        let returns = Tensor(shape: [m], values: x.returns)
        let clippedValues = Clipped.clamp(x.values, lower: x.oldValues.map { $0 - cliprangeValue }, upper: x.oldValues.map { $0 + cliprangeValue })
        let vf1 = (x.values - returns).square(), vf2 = (clippedValues - returns).square()
        let vfLoss = Clipped.maximum(vf1, vf2).sum() * (0.5 / Float(max(m, 1)))

        let loss = pgLoss + vfLoss * vfCoef
        let (p1, p2, v1, v2, d) = (pg1.toArray(), pg2.toArray(), vf1.toArray(), vf2.toArray(), diff.toArray())
        let padding = Float(max(x.paddedPositions, n))
        let statistics = Statistics(
            policyLoss: pgLoss.item(), valueLoss: vfLoss.item(),
            approxKL: 0.5 * d.reduce(0) { $0 + $1 * $1 } / padding,
            policyClipFraction: Float(zip(p1, p2).filter { $1 > $0 }.count) / Float(max(n, 1)),
            valueClipFraction: Float(zip(v1, v2).filter { $1 > $0 }.count) / Float(max(m, 1)),
            ratio: (ratioValues.reduce(0, +) + (padding - Float(n))) / padding)
        return (loss, statistics)
    }
}
