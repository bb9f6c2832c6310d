import AlignData
import AlignKernels
import AlignModelIO
import AlignModels
import AlignNN
import AlignTensor
import Foundation

// `RewardModel` itself (loading, saving, scoring token ids) lives in AlignModels beside the causal LMs.
extension RewardModel {
    /// Scores each completion of `prompt`, tokenised exactly as ``RewardObjective`` trains (the
    /// EOS text appended to plain-text completions, prompt + completion as one sequence; message
    /// lists rendered with the chat template). For `align judge --reward`.
    public func score(prompt: ExampleContent, completions: [ExampleContent], encoder: ExampleEncoder,
                      batchSize: Int = 8) throws -> [Float] {
        let dataset = PreferenceDataset(examples: completions.map { PreferenceExample(prompt: prompt, chosen: $0, rejected: $0) })
        let (pairs, _) = try dataset.tokenizedForReward(encoder: encoder, maxLength: nil)
        return score(pairs.map(\.chosenIDs), batchSize: batchSize)
    }
}
