import AlignTensor

/// RLOO's clipped sequence-level loss on one micro-batch (TRL 1.16 `RLOOTrainer._compute_loss`):
/// ρ = exp(Σ log π − Σ log π_old) per sequence, loss = mean(−min(ρ·A, clip(ρ, 1 − ε, 1 + ε_high)·A)).
public enum RLOOLoss {
    public struct Statistics: Sendable {
        /// Sequences clipped below, above, either (sums; divide by `sequences`).
        public var lowClipped: Double, highClipped: Double, regionClipped: Double, sequences: Double
        public var loss: Float
    }

    /// - Parameters:
    ///   - logprobs: new per-token log-probs (Σ lengths), differentiable.
    ///   - oldSequenceLogprobs: Σ of the rollout's log-probs per sequence.
    public static func evaluate(logprobs: Tensor, lengths: [Int], oldSequenceLogprobs: [Float], advantages: [Float],
                                epsilonLow: Float, epsilonHigh: Float) -> (loss: Tensor, statistics: Statistics) {
        let n = lengths.reduce(0, +), rows = lengths.count
        var indicator = [Float](repeating: 0, count: rows * n)
        var offset = 0
        for (r, l) in lengths.enumerated() { for i in 0..<l { indicator[r * n + offset + i] = 1 }; offset += l }
        let sequence = n == 0 ? logprobs.sum() * 0 + Tensor.zeros([rows])
            : Tensor(shape: [rows, n], values: indicator).matmul(logprobs.reshaped([n, 1])).reshaped([rows])
        let advantage = Tensor(shape: [rows], values: advantages)
        let coef1 = (sequence - Tensor(shape: [rows], values: oldSequenceLogprobs)).exp()
        let coef2 = Clipped.clamp(coef1, lower: [Float](repeating: 1 - epsilonLow, count: rows), upper: [Float](repeating: 1 + epsilonHigh, count: rows))
        let loss = (-Clipped.minimum(coef1 * advantage, coef2 * advantage)).sum() / Float(rows)
        let c = coef1.toArray()
        var low = 0.0, high = 0.0, region = 0.0
        for i in 0..<rows {
            let l = c[i] < 1 - epsilonLow && advantages[i] < 0, h = c[i] > 1 + epsilonHigh && advantages[i] > 0
            if l { low += 1 }; if h { high += 1 }; if l || h { region += 1 }
        }
        return (loss, Statistics(lowClipped: low, highClipped: high, regionClipped: region, sequences: Double(rows), loss: loss.item()))
    }
}
