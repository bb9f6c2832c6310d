import AlignSentiment
import AlignTraining

extension VaderSentiment {
    /// The sentiment task's reward: VADER's unrounded compound score of prompt + completion, in
    /// [−1, 1]. `align judge`, `eval`, `demo` and `--reward vader` all score a review this way.
    public func reviewReward(prompt: String, completion: String) -> Double {
        unroundedScores(prompt + completion).compound
    }
}

extension FunctionRewardSource {
    /// `--reward vader` for the online trainers (``VaderSentiment/reviewReward(prompt:completion:)``).
    /// - Parameter firstLine: score only the completion up to its first line break, as the demo's
    ///   held-out sampler cuts it, so PPO and GRPO optimise exactly what the evaluation measures.
    public static func vader(_ vader: VaderSentiment, firstLine: Bool = false) -> FunctionRewardSource {
        FunctionRewardSource(name: "vader") { input in
            let completion = firstLine ? String(input.completion.prefix { $0 != "\n" }) : input.completion
            return vader.reviewReward(prompt: input.prompt, completion: completion)
        }
    }
}
