import AlignHub
import AlignModels
import AlignRatings
import AlignTensor
import AlignTraining
import Foundation

/// How a policy compares with its reference on held-out prompts.
public struct PolicyEvaluation: Sendable, Codable {
    /// Mean reward of the policy's samples.
    public var meanReward: Double
    /// Mean reward of the reference's samples on the same prompts.
    public var referenceMeanReward: Double
    /// Fraction of prompts where the policy's sample scores higher than the reference's (ties ½).
    public var winRate: Double
    /// Mean over prompts of Σ_t log π(y_t) − log π_ref(y_t) for y sampled from π: an unbiased
    /// estimate of the sequence-level KL(π ‖ π_ref) in nats.
    public var klNats: Double
    public var promptCount: Int
    /// Per sample (prompt-major): the policy's samples and scores.
    public var samples: [SampledCompletion]
    public var scores: [Double]
    /// Per sample: log π(y) − log π_ref(y), whose mean is `klNats`.
    public var sampleKL: [Double]

    enum CodingKeys: String, CodingKey {
        case meanReward = "mean_reward", referenceMeanReward = "reference_mean_reward", winRate = "win_rate"
        case klNats = "kl_nats", promptCount = "prompts", samples, scores, sampleKL = "sample_kl"
    }

    /// Bootstrap intervals over the held-out prompts: each resample draws `promptCount` prompts
    /// with replacement and recomputes the mean reward, the mean KL and the mean per-prompt
    /// reward change against `referenceScores` (the reference's samples of the same prompts, so the
    /// change is paired and the prompts' own difficulty cancels). One resample serves all three.
    public func intervals(referenceScores: [Double], bootstrap: BootstrapSettings) -> EvaluationIntervals {
        let reward = PolicyEvaluator.promptMeans(scores, prompts: promptCount)
        let change = zip(reward, PolicyEvaluator.promptMeans(referenceScores, prompts: promptCount)).map { $0 - $1 }
        return EvaluationIntervals(reward: bootstrap.meanInterval(reward),
                                   kl: bootstrap.meanInterval(PolicyEvaluator.promptMeans(sampleKL, prompts: promptCount)),
                                   rewardChange: bootstrap.meanInterval(change))
    }
}

/// How evaluation intervals are drawn: percentile bootstrap over held-out prompts.
public struct BootstrapSettings: Sendable, Hashable {
    public var resamples = Bootstrap.defaultResamples
    public var confidence = 0.95
    public var seed: UInt64 = 0
    public init(resamples: Int = Bootstrap.defaultResamples, confidence: Double = 0.95, seed: UInt64 = 0) {
        self.resamples = resamples; self.confidence = confidence; self.seed = seed
    }

    /// The interval of the mean of per-prompt `values` (nil when there are none, or fewer than
    /// two resamples: `--bootstrap 0` turns intervals off).
    public func meanInterval(_ values: [Double]) -> ClosedRange<Double>? {
        guard !values.isEmpty, resamples > 1 else { return nil }
        let ci = Bootstrap.meanInterval(values, resamples: resamples, confidence: confidence, seed: seed)
        return ci.lower...ci.upper
    }
}

/// Bootstrap confidence intervals of one evaluation (see ``PolicyEvaluation/intervals(referenceScores:bootstrap:)``).
public struct EvaluationIntervals: Sendable, Hashable {
    /// Of the policy's mean reward.
    public var reward: ClosedRange<Double>?
    /// Of the mean KL(π ‖ π_ref) in nats.
    public var kl: ClosedRange<Double>?
    /// Of the mean reward change against the reference (policy − reference, paired by prompt).
    public var rewardChange: ClosedRange<Double>?
    public init(reward: ClosedRange<Double>?, kl: ClosedRange<Double>?, rewardChange: ClosedRange<Double>?) {
        self.reward = reward; self.kl = kl; self.rewardChange = rewardChange
    }
}

/// Scores text; VADER's compound score, or a reward model.
public typealias RewardFunction = (_ prompt: String, _ completion: String) -> Double

public enum PolicyEvaluator {
    /// Means of consecutive runs of `values.count / prompts` values: prompt-major samples → one
    /// value per prompt (the unit the bootstrap resamples).
    public static func promptMeans(_ values: [Double], prompts: Int) -> [Double] {
        guard prompts > 0, !values.isEmpty else { return [] }
        let k = max(1, values.count / prompts)
        return stride(from: 0, to: values.count, by: k).map { start in
            let run = values[start..<min(start + k, values.count)]
            return run.reduce(0, +) / Double(run.count)
        }
    }

    /// Summed completion log-probs of `completions` given `prompts` under `bundle`'s model (no
    /// graph), computed in batches.
    public static func logProbs(bundle: ModelBundle, prompts: [[Int32]], completions: [[Int32]], batchSize: Int = 16) -> [Double] {
        var out: [Double] = []
        for start in stride(from: 0, to: prompts.count, by: batchSize) {
            let end = min(start + batchSize, prompts.count)
            let seqs = (start..<end).map { prompts[$0] + completions[$0] }
            let length = max(2, seqs.map(\.count).max() ?? 2)
            var ids: [Int32] = [], att: [Float] = [], comp: [Float] = []
            for (k, s) in seqs.enumerated() {
                let p = prompts[start + k].count
                ids += s + [Int32](repeating: bundle.padID, count: length - s.count)
                att += [Float](repeating: 1, count: s.count) + [Float](repeating: 0, count: length - s.count)
                comp += (0..<length).map { $0 >= p && $0 < s.count ? 1 : 0 }
            }
            let rows = TokenRows(ids: ids, attentionMask: att, completionMask: comp, rows: seqs.count, length: length)
            let lp = withNoGrad { SequenceLogProbs.compute(model: bundle.model, rows: rows).logps }
            out += lp.toArray().map(Double.init)
        }
        return out
    }

    /// Samples `referenceSamples.count / prompts.count` continuations per prompt from the policy,
    /// scores them against the reference's samples (the j-th sample of a prompt against the
    /// reference's j-th), and estimates KL(π ‖ π_ref) from the policy's own samples.
    /// - Parameter referenceSamples: prompt-major, the same number per prompt.
    public static func evaluate(policy: ModelBundle, reference: ModelBundle, prompts: [String],
                                referenceSamples: [SampledCompletion], referenceScores: [Double],
                                reward: RewardFunction, maxNewTokens: Int, temperature: Float, seed: UInt64,
                                batchSize: Int = 16) throws -> PolicyEvaluation {
        let k = max(1, referenceSamples.count / max(prompts.count, 1))
        let samples = try CompletionSampler.sample(bundle: policy, prompts: prompts, perPrompt: k, maxNewTokens: maxNewTokens,
                                                   temperature: temperature, seed: seed, batchSize: batchSize).flatMap { $0 }
        let expanded = prompts.flatMap { [String](repeating: $0, count: k) }
        let scores = zip(expanded, samples).map { reward($0, $1.text) }
        let promptIDs = expanded.map { policy.tokenizer.encode($0, addSpecialTokens: true).map(Int32.init) }
        let lpPolicy = logProbs(bundle: policy, prompts: promptIDs, completions: samples.map(\.ids), batchSize: batchSize)
        let lpRef = logProbs(bundle: reference, prompts: promptIDs, completions: samples.map(\.ids), batchSize: batchSize)
        let sampleKL = zip(lpPolicy, lpRef).map { $0 - $1 }
        let kl = sampleKL.reduce(0, +) / Double(max(samples.count, 1))
        var wins = 0.0
        for (s, r) in zip(scores, referenceScores) { wins += s > r ? 1 : (s == r ? 0.5 : 0) }
        return PolicyEvaluation(meanReward: scores.reduce(0, +) / Double(max(scores.count, 1)),
                                referenceMeanReward: referenceScores.reduce(0, +) / Double(max(referenceScores.count, 1)),
                                winRate: wins / Double(max(scores.count, 1)), klNats: kl, promptCount: prompts.count,
                                samples: samples, scores: scores, sampleKL: sampleKL)
    }
}
