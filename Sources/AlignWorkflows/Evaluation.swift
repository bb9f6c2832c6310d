import AlignHub
import AlignModels
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

    enum CodingKeys: String, CodingKey {
        case meanReward = "mean_reward", referenceMeanReward = "reference_mean_reward", winRate = "win_rate"
        case klNats = "kl_nats", promptCount = "prompts", samples, scores
    }
}

/// Scores text; VADER's compound score, or a reward model.
public typealias RewardFunction = (_ prompt: String, _ completion: String) -> Double

public enum PolicyEvaluator {
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
        let kl = zip(lpPolicy, lpRef).map { $0 - $1 }.reduce(0, +) / Double(max(samples.count, 1))
        var wins = 0.0
        for (s, r) in zip(scores, referenceScores) { wins += s > r ? 1 : (s == r ? 0.5 : 0) }
        return PolicyEvaluation(meanReward: scores.reduce(0, +) / Double(max(scores.count, 1)),
                                referenceMeanReward: referenceScores.reduce(0, +) / Double(max(referenceScores.count, 1)),
                                winRate: wins / Double(max(scores.count, 1)), klNats: kl, promptCount: prompts.count,
                                samples: samples, scores: scores)
    }
}
