import AlignSettings
import Foundation

/// Everything `align ppo` (and ``PPOObjective``) is configured by, with the names and defaults of
/// TRL's `PPOConfig` (its last release with PPO, 1.12, `trl/experimental/ppo`): learning rate 3e-6,
/// kl_coef 0.05 (k1), cliprange 0.2, cliprange_value 0.2, vf_coef 0.1, γ 1, λ 0.95,
/// response_length 53, temperature 0.7, 4 PPO epochs of 1 mini-batch per rollout.
///
/// Steps: one rollout is `per_device_train_batch_size × gradient_accumulation_steps` prompts (TRL's
/// `batch_size`); each is trained on for `num_ppo_epochs × num_mini_batches` optimiser steps, each
/// step one mini-batch cut into micro-batches of `per_device_train_batch_size`. `max_steps` and
/// `logging_steps`/`save_steps` count optimiser steps; the learning rate steps once per rollout.
public struct PPOConfiguration: Sendable, Hashable, SettingsDeclaration {
    public var training = TrainingConfiguration()
    /// LoRA / DoRA adapters (off unless `use_peft` or `lora_r`).
    public var adapter = AdapterConfiguration()
    /// Initial (or fixed) coefficient of the per-token KL penalty.
    public var klCoef: Float = 0.05
    public var klEstimator: KLEstimator = .k1
    /// Target sequence KL of the adaptive controller (Ziegler et al.); nil keeps kl_coef fixed.
    public var klTarget: Float?
    /// Horizon (in episodes) of the adaptive controller.
    public var klHorizon: Float = 10_000
    public var cliprange: Float = 0.2
    public var cliprangeValue: Float = 0.2
    public var vfCoef: Float = 0.1
    public var gamma: Float = 1
    public var lam: Float = 0.95
    public var whitenRewards: Bool = false
    /// Subtracted from the score of a response without the EOS token.
    public var missingEOSPenalty: Float?
    /// New tokens per response.
    public var responseLength: Int = 53
    /// `eos`: responses end (and are cut) at the EOS token; none: they run `response_length` tokens.
    public var stopToken: String?
    public var numPPOEpochs: Int = 4
    public var numMiniBatches: Int = 1
    public var temperature: Float = 0.7
    /// Longest prompt in tokens (longer prompts are cut from the left, keeping their end).
    public var maxPromptLength: Int? = 512
    public var skipBadRows: Bool = false

    public init() {
        training.learningRate = 3e-6
        training.loggingSteps = 4
        training.maxGradNorm = 0   // TRL's PPO loop steps the optimiser without clipping
    }

    public static let settings: [Setting<PPOConfiguration>] = TrainingConfiguration.settings.map { $0.lifted(\.training) }
        + AdapterConfiguration.settings.map { $0.lifted(\.adapter) } + ppoSettings

    static let ppoSettings: [Setting<PPOConfiguration>] = klSettings + lossSettings + samplingSettings

    static let klSettings: [Setting<PPOConfiguration>] = [
        Setting("kl_coef", \.klCoef, help: "Coefficient of the per-token KL penalty (the adaptive controller's start).", check: .atLeast(0)),
        Setting("kl_estimator", \.klEstimator, help: "k1: log π − log π_ref; k3: (r − 1) − log r, r = π_ref/π."),
        Setting("kl_target", \.klTarget, help: "Adaptive KL: target sequence KL (Ziegler et al.); unset keeps kl_coef fixed.",
                check: .whenSet(.above(0))),
        Setting("kl_horizon", \.klHorizon, help: "Adaptive KL: horizon in episodes.", check: .above(0)),
    ]

    static let lossSettings: [Setting<PPOConfiguration>] = [
        Setting("cliprange", \.cliprange, help: "Policy ratio clip ε.", check: .within(0...10)),
        Setting("cliprange_value", \.cliprangeValue, help: "Value clip around the rollout's values.", check: .atLeast(0)),
        Setting("vf_coef", \.vfCoef, help: "Weight of the value loss.", check: .atLeast(0)),
        Setting("gamma", \.gamma, help: "Discount γ.", check: .within(0...1)),
        Setting("lam", \.lam, help: "GAE λ.", check: .within(0...1)),
        Setting("whiten_rewards", \.whitenRewards, style: .flag(setting: true), help: "Whiten per-token rewards before GAE."),
    ]

    static let eosOnly = SettingCheck<String> { (value: String) -> String? in value == "eos" ? nil : "must be eos (or unset), got \(value)" }

    static let samplingSettings: [Setting<PPOConfiguration>] = [
        Setting("missing_eos_penalty", \.missingEOSPenalty, help: "Subtracted from the score of responses without EOS.",
                check: .whenSet(.atLeast(0))),
        Setting("response_length", \.responseLength, help: "New tokens per response.", check: .within(1...65_536)),
        Setting("stop_token", \.stopToken, help: "eos: cut responses after the EOS token (unset: no stop token).",
                check: .whenSet(eosOnly)),
        Setting("num_ppo_epochs", \.numPPOEpochs, help: "Passes over each rollout.", check: .within(1...1000)),
        Setting("num_mini_batches", \.numMiniBatches, help: "Mini-batches (optimiser steps) per pass over a rollout.", check: .within(1...65_536)),
        Setting("temperature", \.temperature, help: "Sampling temperature (logits ÷ (temperature + 1e-7)).", check: .above(0)),
        Setting("max_prompt_length", \.maxPromptLength, help: "Longest prompt in tokens (cut from the left).", check: .whenSet(.atLeast(1))),
        skipBadRowsSetting(\.skipBadRows),
    ]

    /// Prompts per rollout (TRL's `local_batch_size`).
    public var rolloutSize: Int { training.batchSize * training.gradientAccumulationSteps }
    /// Optimiser steps per rollout.
    public var updatesPerRollout: Int { numPPOEpochs * numMiniBatches }

    public func validateCombination() throws {
        try training.validateCombination(); try adapter.validateCombination()
        try requireSetting(rolloutSize % numMiniBatches == 0, "num_mini_batches",
                           "must divide the rollout (per_device_train_batch_size × gradient_accumulation_steps = \(rolloutSize))")
        try requireSetting((rolloutSize / numMiniBatches) % training.batchSize == 0 || rolloutSize / numMiniBatches < training.batchSize,
                           "num_mini_batches", "each mini-batch (\(rolloutSize / numMiniBatches)) must be a whole number of micro-batches of \(training.batchSize)")
        try requireSetting(training.maxSteps <= 0 || training.maxSteps % updatesPerRollout == 0, "max_steps",
                           "counts optimiser steps and must be a multiple of num_ppo_epochs × num_mini_batches (\(updatesPerRollout))")
        try requireSetting(!whitenRewards || rolloutSize / numMiniBatches >= 8, "whiten_rewards",
                           "needs mini-batches of at least 8 rollouts (TRL's rule)")
    }
}

/// The adaptive KL controller of Ziegler et al. (2019): after each rollout, with e = clip(KL /
/// target − 1, −0.2, 0.2), the coefficient is multiplied by 1 + e · episodes / horizon.
public struct AdaptiveKLController: Sendable, Hashable {
    public var value: Float
    public let target: Float
    public let horizon: Float

    public init(initial: Float, target: Float, horizon: Float) {
        value = initial; self.target = target; self.horizon = horizon
    }

    public mutating func update(currentKL: Float, episodes: Int) {
        let error = min(max(currentKL / target - 1, -0.2), 0.2)
        value *= 1 + error * Float(episodes) / horizon
    }
}
