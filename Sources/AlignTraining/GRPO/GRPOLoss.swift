import AlignTensor

/// GRPO's clipped per-token loss on one micro-batch (TRL 1.16 `GRPOTrainer._compute_loss`,
/// token-level importance sampling): −min(ρ·A, clip(ρ, 1 − ε, 1 + ε_high)·A) + β·k3 per token
/// (β·ρ·k3 with `use_bias_correction_kl`, TRL's default), normalised as `loss_type` says.
public enum GRPOLoss {
    public struct Inputs {
        /// New per-token log-probs (Σ lengths), differentiable.
        public var logprobs: Tensor
        /// Log-probs the ratio is taken against (nil: the new ones detached, ratio 1, as TRL when
        /// each batch is trained on once).
        public var oldLogprobs: [Float]?
        /// Reference log-probs (needed when β > 0).
        public var refLogprobs: [Float]?
        /// Per sequence advantage.
        public var advantages: [Float]
        /// Tokens per sequence.
        public var lengths: [Int]

        public init(logprobs: Tensor, oldLogprobs: [Float]?, refLogprobs: [Float]?, advantages: [Float], lengths: [Int]) {
            self.logprobs = logprobs; self.oldLogprobs = oldLogprobs; self.refLogprobs = refLogprobs
            self.advantages = advantages; self.lengths = lengths
        }
    }

    public struct Statistics: Sendable {
        /// Sums over tokens (divide by `tokens`).
        public var klSum: Double, lowClipped: Double, highClipped: Double, regionClipped: Double
        public var tokens: Double
        public var loss: Float
    }

    /// - Parameters:
    ///   - stepTokens: active tokens of the whole optimiser step (dapo's normaliser).
    ///   - maxCompletionLength: dr_grpo's normaliser.
    ///   - biasCorrectionKL: multiply k3 by ρ (differentiable: on-policy its value is 1 but its
    ///     gradient adds β·k3 per token), as TRL's `use_bias_correction_kl`; the logged KL is the product.
    public static func evaluate(_ x: Inputs, lossType: GRPOLossType, beta: Float, epsilonLow: Float, epsilonHigh: Float,
                                stepTokens: Int, maxCompletionLength: Int, biasCorrectionKL: Bool = true) -> (loss: Tensor, statistics: Statistics) {
        let n = x.lengths.reduce(0, +), rows = x.lengths.count
        var perTokenAdvantage: [Float] = []
        for (a, l) in zip(x.advantages, x.lengths) { perTokenAdvantage += [Float](repeating: a, count: l) }
        let advantage = Tensor(shape: [n], values: perTokenAdvantage)
        let old = x.oldLogprobs.map { Tensor(shape: [n], values: $0) } ?? x.logprobs.detached()
        let coef1 = (x.logprobs - old).exp()
        let coef2 = Clipped.clamp(coef1, lower: [Float](repeating: 1 - epsilonLow, count: n), upper: [Float](repeating: 1 + epsilonHigh, count: n))
        var perToken = -Clipped.minimum(coef1 * advantage, coef2 * advantage)
        var klSum = 0.0
        if beta != 0, let ref = x.refLogprobs {
            let delta = Tensor(shape: [n], values: ref) - x.logprobs
            var kl = delta.exp() - delta - 1
            if biasCorrectionKL { kl = kl * coef1 }
            klSum = Double(kl.toArray().reduce(0, +))
            perToken = perToken + kl * beta
        }
        // Σ per row as a product with the (rows, n) indicator of each token's row.
        func rowSums(_ t: Tensor) -> Tensor {
            var indicator = [Float](repeating: 0, count: rows * n)
            var offset = 0
            for (r, l) in x.lengths.enumerated() { for i in 0..<l { indicator[r * n + offset + i] = 1 }; offset += l }
            return Tensor(shape: [rows, n], values: indicator).matmul(t.reshaped([n, 1])).reshaped([rows])
        }
        let loss: Tensor
        switch lossType {
        case .grpo:
            let inverse = Tensor(shape: [rows], values: x.lengths.map { 1 / Float(max($0, 1)) })
            loss = (rowSums(perToken) * inverse).sum() / Float(rows)
        case .bnpo: loss = perToken.sum() / Float(max(n, 1))
        case .drGRPO: loss = perToken.sum() / Float(rows * maxCompletionLength)
        case .dapo: loss = perToken.sum() / Float(max(stepTokens, 1))
        }
        let c = coef1.toArray()
        var low = 0.0, high = 0.0, region = 0.0
        for i in 0..<n {
            let l = c[i] < 1 - epsilonLow && perTokenAdvantage[i] < 0, h = c[i] > 1 + epsilonHigh && perTokenAdvantage[i] > 0
            if l { low += 1 }; if h { high += 1 }; if l || h { region += 1 }
        }
        return (loss, Statistics(klSum: klSum, lowClipped: low, highClipped: high, regionClipped: region, tokens: Double(n), loss: loss.item()))
    }
}
