import AlignSettings
import Foundation

/// How GRPO's per-token losses are normalised (TRL 1.16 `loss_type`).
public enum GRPOLossType: String, Sendable, CaseIterable, SettingChoice {
    /// Per-sequence token mean, then the mean over sequences.
    case grpo
    /// Σ over the micro-batch's tokens ÷ its active tokens.
    case bnpo
    /// Σ ÷ (sequences × max_completion_length).
    case drGRPO = "dr_grpo"
    /// Σ ÷ the active tokens of the whole optimiser step (TRL's default).
    case dapo
}

/// The settings GRPO and RLOO share (TRL 1.16's `GRPOConfig` / `RLOOConfig` names).
public struct GroupSamplingSettings: Sendable, Hashable {
    /// Completions per prompt.
    public var numGenerations: Int
    public var maxCompletionLength: Int = 512
    /// Logits are divided by the temperature (not temperature + 1e-7, which is PPO's rule).
    public var temperature: Float = 1
    /// KL coefficient; 0 holds no reference model.
    public var beta: Float
    public var epsilon: Float = 0.2
    /// Upper clip; nil means `epsilon`.
    public var epsilonHigh: Float?
    /// Optimiser steps per generated batch (μ).
    public var numIterations: Int = 1
    /// Weights of the reward sources, in `--reward` order (default 1 each).
    public var rewardWeights: [Float]?
    /// Longest prompt in tokens (cut from the left).
    public var maxPromptLength: Int? = 512
    public var skipBadRows: Bool = false
    /// GRPO only (TRL 1.16 `use_bias_correction_kl`, default true): the per-token KL is multiplied by
    /// the importance ratio ρ = exp(log π − log π_old). Its value is 1 on-policy, but ρ is
    /// differentiable, so the KL gradient gains β·k3 per token (the unbiased reverse-KL gradient,
    /// DeepSeek-V3.2 eq. 7), and the logged `kl` is the product.
    public var useBiasCorrectionKL: Bool = true

    /// Settings with TRL's defaults apart from the two that differ between GRPO and RLOO.
    public init(numGenerations: Int, beta: Float) {
        self.numGenerations = numGenerations
        self.beta = beta
    }

    static func settings<Root>(_ path: WritableKeyPath<Root, GroupSamplingSettings>) -> [Setting<Root>] {
        let list: [Setting<GroupSamplingSettings>] = [
            Setting("num_generations", \.numGenerations, help: "Completions sampled per prompt (a group).", check: .within(1...65_536)),
            Setting("max_completion_length", \.maxCompletionLength, help: "New tokens per completion.", check: .within(1...65_536)),
            Setting("temperature", \.temperature, help: "Sampling temperature (logits ÷ temperature for every log-prob).", check: .above(0)),
            Setting("beta", \.beta, help: "KL coefficient (0 holds no reference model).", check: .atLeast(0)),
            Setting("epsilon", \.epsilon, help: "Lower clip ε of the ratio (and the upper one unless epsilon_high).", check: .within(0...10)),
            Setting("epsilon_high", \.epsilonHigh, help: "Upper clip ε of the ratio (DAPO's clip-higher).", check: .whenSet(.within(0...10))),
            Setting("num_iterations", \.numIterations, help: "Optimiser steps per generated batch (μ).", check: .within(1...1000)),
            Setting("reward_weights", \.rewardWeights, help: "Weights of the --reward sources, in order (default 1 each)."),
            Setting("max_prompt_length", \.maxPromptLength, help: "Longest prompt in tokens (cut from the left).", check: .whenSet(.atLeast(1))),
            skipBadRowsSetting(\.skipBadRows),
        ]
        return list.map { $0.lifted(path) }
    }

    func validate(_ training: TrainingConfiguration) throws {
        let completions = training.batchSize * training.gradientAccumulationSteps
        try requireSetting(completions % numGenerations == 0, "num_generations",
                           "must divide the completions per step (per_device_train_batch_size × gradient_accumulation_steps = \(completions)); got \(numGenerations)")
        try requireSetting(training.maxSteps <= 0 || training.maxSteps % numIterations == 0, "max_steps", "must be a multiple of num_iterations (\(numIterations))")
    }
}

/// Everything `align grpo` (and ``GroupRelativeObjective`` in GRPO mode) is configured by: TRL
/// 1.16's `GRPOConfig` names and defaults (learning rate 1e-6, 8 generations, β 0 — no reference
/// held — ε 0.2, `loss_type` dapo, `scale_rewards` group, 512 new tokens, temperature 1).
/// `per_device_train_batch_size` counts completions, as TRL's does.
public struct GRPOConfiguration: Sendable, Hashable, SettingsDeclaration {
    public var training = TrainingConfiguration()
    public var sampling = GroupSamplingSettings(numGenerations: 8, beta: 0)
    public var lossType: GRPOLossType = .dapo
    public var scaleRewards: RewardScaling = .group

    public init() {
        training.learningRate = 1e-6
        training.loggingSteps = 10
    }

    public static let settings: [Setting<GRPOConfiguration>] = TrainingConfiguration.settings.map { $0.lifted(\.training) }
        + GroupSamplingSettings.settings(\.sampling) + [
            Setting("loss_type", \.lossType, help: "Normalisation: grpo (per sequence), bnpo (micro-batch tokens), dr_grpo (B × max length), dapo (step tokens)."),
            Setting("scale_rewards", \.scaleRewards, help: "Divide centred rewards by the group's std, the batch's, or not at all."),
            Setting("use_bias_correction_kl", \.sampling.useBiasCorrectionKL, style: .toggle,
                    help: "Multiply the per-token KL by the importance ratio (TRL's default; changes the KL gradient even on-policy)."),
        ]

    public func validateCombination() throws {
        try training.validateCombination()
        try sampling.validate(training)
    }
}

