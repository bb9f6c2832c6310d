import AlignSettings
import Foundation

/// How the per-token KL to the reference is estimated from log-probabilities
/// (http://joschu.net/blog/kl-approx.html, with r = π_ref / π): `k1` = −log r, `k3` = (r − 1) − log r.
public enum KLEstimator: String, Sendable, CaseIterable, SettingChoice {
    case k1, k3
}

/// How GRPO divides group-centred rewards: by each group's standard deviation, by the whole
/// batch's, or not at all (Dr. GRPO).
public enum RewardScaling: String, Sendable, CaseIterable, SettingChoice {
    case group, batch, none
}

/// The arithmetic that turns one rollout into what the online losses train on, as pure functions
/// over padded row-major matrices (rows × width), written to match TRL's code operation for
/// operation: PPO's KL penalty, per-token rewards, reversed GAE, masked whitening and returns
/// (TRL ≤ 1.12 `trl/experimental/ppo`), RLOO's leave-one-out baselines and GRPO's group
/// advantages (TRL 1.16). `Tests/Fixtures/online` holds goldens computed by TRL's functions.
public enum RolloutMath {
    /// The log-prob TRL writes at padding positions (a marker, never used).
    public static let invalidLogProb: Float = 1

    /// Per-token KL estimate from the policy's and the reference's log-probs.
    public static func kl(logprobs: [Float], refLogprobs: [Float], estimator: KLEstimator) -> [Float] {
        precondition(logprobs.count == refLogprobs.count, "kl: \(logprobs.count) log-probs against \(refLogprobs.count)")
        return zip(logprobs, refLogprobs).map { logp, ref in
            let logr = ref - logp
            switch estimator {
            case .k1: return -logr
            case .k3: return (Foundation.exp(logr) - 1) - logr
            }
        }
    }

    /// Mean of `values` where `mask` is true (NaN for an empty mask, as torch gives).
    public static func maskedMean(_ values: [Float], _ mask: [Bool]) -> Float {
        var sum = 0.0, count = 0.0
        for (v, m) in zip(values, mask) where m { sum += Double(v); count += 1 }
        return Float(sum / count)
    }

    /// Variance of `values` where `mask` is true, Bessel-corrected when `unbiased` (TRL's `masked_var`).
    public static func maskedVariance(_ values: [Float], _ mask: [Bool], unbiased: Bool = true) -> Float {
        let mean = Double(maskedMean(values, mask))
        var sum = 0.0, count = 0.0
        for (v, m) in zip(values, mask) where m { sum += (Double(v) - mean) * (Double(v) - mean); count += 1 }
        var variance = sum / count
        if unbiased { variance *= count / (count - 1) }
        return Float(variance)
    }

    /// (v − mean) / sqrt(var + 1e-8) over the masked entries' statistics, applied to every entry;
    /// with `shiftMean` false the mean is added back (TRL's `masked_whiten`).
    public static func maskedWhiten(_ values: [Float], _ mask: [Bool], shiftMean: Bool = true) -> [Float] {
        let mean = maskedMean(values, mask), variance = maskedVariance(values, mask)
        let scale = 1 / (variance + 1e-8).squareRoot()
        return values.map { shiftMean ? ($0 - mean) * scale : ($0 - mean) * scale + mean }
    }

    // MARK: PPO

    /// One PPO rollout's inputs, rows × width, response positions only (entry t of a row belongs to
    /// response token t; `values[t]` is the value model at the position that predicts it).
    public struct PPOInput: Sendable {
        public var rows: Int, width: Int
        /// Policy log-probs of the sampled tokens at the sampling temperature.
        public var logprobs: [Float]
        /// Reference log-probs at the same temperature.
        public var refLogprobs: [Float]
        /// Value-model outputs.
        public var values: [Float]
        /// Reward per row (already lowered by `missing_eos_penalty` where it applies).
        public var scores: [Float]
        /// Index of each row's last real response token (TRL's `sequence_lengths`: the first pad
        /// position minus one; −1 for an empty response).
        public var sequenceLengths: [Int]

        public init(rows: Int, width: Int, logprobs: [Float], refLogprobs: [Float], values: [Float], scores: [Float], sequenceLengths: [Int]) {
            precondition(logprobs.count == rows * width && refLogprobs.count == rows * width && values.count == rows * width
                         && scores.count == rows && sequenceLengths.count == rows, "PPO rollout: inconsistent shapes")
            self.rows = rows; self.width = width; self.logprobs = logprobs; self.refLogprobs = refLogprobs
            self.values = values; self.scores = scores; self.sequenceLengths = sequenceLengths
        }
    }

    /// What PPO's losses read, rows × width.
    public struct PPOOutput: Sendable {
        /// Log-probs with padding set to ``invalidLogProb``.
        public var logprobs: [Float], refLogprobs: [Float]
        /// Values with positions past `sequenceLength + 1` set to 0.
        public var values: [Float]
        /// Per-token KL estimate.
        public var kl: [Float]
        /// −kl_coef · kl.
        public var nonScoreReward: [Float]
        /// Per-token rewards: the KL penalty, plus the score at `sequenceLength + 1` (at
        /// `sequenceLength` for a row as wide as the batch), as TRL places it.
        public var rewards: [Float]
        /// Whitened advantages, 0 at padding.
        public var advantages: [Float]
        /// Advantages (before whitening) + values.
        public var returns: [Float]
        /// true at positions past each row's last token (`padding_mask`).
        public var paddingMask: [Bool]
        /// true at positions past the last token + 1 (`padding_mask_p1`).
        public var paddingMaskP1: [Bool]
    }

    /// PPO's rollout arithmetic, in TRL's order: mask padding, KL penalty, score placement,
    /// optional reward whitening, reversed GAE, returns, whitened advantages.
    public static func ppo(_ input: PPOInput, klCoef: Float, estimator: KLEstimator, gamma: Float, lam: Float,
                           whitenRewards: Bool) -> PPOOutput {
        let (rows, width) = (input.rows, input.width)
        var paddingMask = [Bool](repeating: false, count: rows * width), paddingMaskP1 = paddingMask
        for r in 0..<rows {
            for t in 0..<width {
                paddingMask[r * width + t] = t > input.sequenceLengths[r]
                paddingMaskP1[r * width + t] = t > input.sequenceLengths[r] + 1
            }
        }
        var logprobs = input.logprobs, refLogprobs = input.refLogprobs, values = input.values
        for i in 0..<(rows * width) {
            if paddingMask[i] { logprobs[i] = invalidLogProb; refLogprobs[i] = invalidLogProb }
            if paddingMaskP1[i] { values[i] = 0 }
        }
        let kl = self.kl(logprobs: logprobs, refLogprobs: refLogprobs, estimator: estimator)
        let nonScore = kl.map { -klCoef * $0 }
        var rewards = nonScore
        for r in 0..<rows {
            let p1 = input.sequenceLengths[r] + 1
            let end = p1 < width ? p1 : input.sequenceLengths[r]
            rewards[r * width + end] += input.scores[r]
        }
        if whitenRewards {
            let notP1 = paddingMaskP1.map { !$0 }
            rewards = maskedWhiten(rewards, notP1, shiftMean: false)
            for i in 0..<rewards.count where paddingMaskP1[i] { rewards[i] = 0 }
        }
        var advantages = [Float](repeating: 0, count: rows * width)
        for r in 0..<rows {
            var lastGAE: Float = 0
            for t in stride(from: width - 1, through: 0, by: -1) {
                let next: Float = t < width - 1 ? values[r * width + t + 1] : 0
                let delta = rewards[r * width + t] + gamma * next - values[r * width + t]
                lastGAE = delta + gamma * lam * lastGAE
                advantages[r * width + t] = lastGAE
            }
        }
        let returns = zip(advantages, values).map { $0 + $1 }
        advantages = maskedWhiten(advantages, paddingMask.map { !$0 })
        for i in 0..<advantages.count where paddingMask[i] { advantages[i] = 0 }
        return PPOOutput(logprobs: logprobs, refLogprobs: refLogprobs, values: values, kl: kl, nonScoreReward: nonScore,
                         rewards: rewards, advantages: advantages, returns: returns, paddingMask: paddingMask, paddingMaskP1: paddingMaskP1)
    }

    // MARK: RLOO and GRPO

    /// RLOO's advantages (TRL 1.16): rewards of consecutive groups of `groupSize` completions
    /// (rows i·G … i·G + G − 1 share a prompt), each row's baseline the mean of the others in its
    /// group, A = r − baseline. `rewards` already include −β·KL when a reference is used.
    public static func rlooAdvantages(_ rewards: [Float], groupSize: Int) -> [Float] {
        precondition(groupSize > 1 && rewards.count % groupSize == 0, "RLOO needs groups of ≥ 2 completions")
        var out = [Float](repeating: 0, count: rewards.count)
        for g in stride(from: 0, to: rewards.count, by: groupSize) {
            let group = rewards[g..<(g + groupSize)]
            let sum = group.reduce(Float(0), +)
            for i in g..<(g + groupSize) {
                let baseline = (sum - rewards[i]) / Float(groupSize - 1)
                out[i] = rewards[i] - baseline
            }
        }
        return out
    }

    /// Standard deviation with Bessel's correction (torch's default `std`); NaN for one value.
    public static func std(_ values: ArraySlice<Float>) -> Float {
        let n = Double(values.count)
        let mean = values.reduce(0.0) { $0 + Double($1) } / n
        let ss = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) }
        return Float((ss / (n - 1)).squareRoot())
    }

    /// GRPO's advantages (TRL 1.16): r − group mean, divided by (std + 1e-4) of the group
    /// (`group`), of the whole batch (`batch`), or not divided (`none`). Also returns each row's
    /// group std (for `reward_std` and `frac_reward_zero_std`).
    public static func grpoAdvantages(_ rewards: [Float], groupSize: Int, scaling: RewardScaling)
        -> (advantages: [Float], groupStd: [Float]) {
        precondition(groupSize > 0 && rewards.count % groupSize == 0, "GRPO needs whole groups")
        var advantages = [Float](repeating: 0, count: rewards.count), groupStd = advantages
        let batchStd = std(rewards[...])
        for g in stride(from: 0, to: rewards.count, by: groupSize) {
            let group = rewards[g..<(g + groupSize)]
            let mean = Float(group.reduce(0.0) { $0 + Double($1) } / Double(groupSize))
            let s = std(group)
            for i in g..<(g + groupSize) {
                groupStd[i] = s
                let centred = rewards[i] - mean
                switch scaling {
                case .group: advantages[i] = centred / (s + 1e-4)
                case .batch: advantages[i] = centred / (batchStd + 1e-4)
                case .none: advantages[i] = centred
                }
            }
        }
        return (advantages, groupStd)
    }
}
