import AlignSettings
import Foundation

/// Everything `align rloo` is configured by: TRL 1.16's `RLOOConfig` names and defaults (learning
/// rate 1e-6, 2 generations, β 0.05, ε 0.2, 512 new tokens, temperature 1).
public struct RLOOConfiguration: Sendable, Hashable, SettingsDeclaration {
    public var training = TrainingConfiguration()
    /// LoRA / DoRA adapters (off unless `use_peft` or `lora_r`).
    public var adapter = AdapterConfiguration()
    public var sampling = GroupSamplingSettings(numGenerations: 2, beta: 0.05)
    /// Standardise advantages over the batch after the leave-one-out baseline.
    public var normalizeAdvantages: Bool = false

    public init() {
        training.learningRate = 1e-6
        training.loggingSteps = 10
    }

    public static let settings: [Setting<RLOOConfiguration>] = TrainingConfiguration.settings.map { $0.lifted(\.training) }
        + AdapterConfiguration.settings.map { $0.lifted(\.adapter) }
        + GroupSamplingSettings.settings(\.sampling) + [
            Setting("normalize_advantages", \.normalizeAdvantages, style: .flag(setting: true), help: "Standardise advantages over the batch."),
        ]

    public func validateCombination() throws {
        try training.validateCombination(); try adapter.validateCombination()
        try sampling.validate(training)
        try requireSetting(sampling.numGenerations >= 2, "num_generations", "RLOO needs at least 2 completions per prompt")
    }
}
