import AlignOptim
import AlignSettings
import Foundation

/// The optimiser a run uses.
public enum OptimizerKind: String, Sendable, CaseIterable, SettingChoice {
    case adamw, sgd, rmsprop
}

extension LearningRateSchedule.Kind: SettingChoice {}

/// Settings of the shared training loop, with TRL / transformers `TrainingArguments` names
/// (snake_case in YAML and JSON, kebab-case on the command line) and TRL's DPO defaults.
public struct TrainingConfiguration: Sendable, Hashable, SettingsDeclaration {
    /// Peak learning rate (TRL DPO default 1e-6).
    public var learningRate: Float = 1e-6
    /// Examples (pairs for DPO) per forward pass: TRL's `per_device_train_batch_size`.
    public var batchSize: Int = 8
    /// Micro-batches summed into one optimiser step; the update equals one batch of
    /// batchSize × gradientAccumulationSteps.
    public var gradientAccumulationSteps: Int = 1
    /// Passes over the data (ignored when `maxSteps` > 0).
    public var numTrainEpochs: Double = 3
    /// Optimiser steps to run; −1 means derive from epochs.
    public var maxSteps: Int = -1
    public var lrScheduler: LearningRateSchedule.Kind = .linear
    public var warmupSteps: Int = 0
    /// Fraction of the total steps used for warm-up when `warmupSteps` is 0.
    public var warmupRatio: Double = 0
    public var weightDecay: Float = 0
    public var optimizer: OptimizerKind = .adamw
    public var adamBeta1: Float = 0.9
    public var adamBeta2: Float = 0.999
    public var adamEpsilon: Float = 1e-8
    /// Momentum for SGD.
    public var momentum: Float = 0
    /// Global gradient-norm clip; 0 disables clipping (the norm is still logged).
    public var maxGradNorm: Float = 1
    public var seed: UInt64 = 0
    /// Shuffle the training order each epoch (seeded); false keeps file order.
    public var shuffle: Bool = true
    /// Log every N optimiser steps (the first step is always logged).
    public var loggingSteps: Int = 10
    /// Evaluate every N steps (0: only at the end, when eval data is given).
    public var evalSteps: Int = 0
    /// Save a checkpoint every N steps (0: only the final model).
    public var saveSteps: Int = 0

    public init() {}

    /// Every loop setting: TRL / transformers `TrainingArguments` keys, Align's flags.
    public static let settings: [Setting<TrainingConfiguration>] = [
        Setting("learning_rate", \.learningRate, help: "Peak learning rate.", check: .within(0...10)),
        Setting("per_device_train_batch_size", \.batchSize, flag: "batch-size", help: "Examples per forward pass.",
                check: .within(1...maximumBatchSize)),
        Setting("gradient_accumulation_steps", \.gradientAccumulationSteps, help: "Micro-batches per optimiser step.",
                check: .within(1...maximumBatchSize)),
        Setting("num_train_epochs", \.numTrainEpochs, help: "Passes over the data.", check: .within(0...1_000_000)),
        Setting("max_steps", \.maxSteps, help: "Optimiser steps (overrides epochs; -1: from epochs).",
                check: SettingCheck { $0 <= maximumSteps ? nil : "must be at most \(maximumSteps), got \($0)" }),
        Setting("lr_scheduler_type", \.lrScheduler, flag: "lr-scheduler", help: "Learning-rate schedule after warm-up."),
        Setting("warmup_steps", \.warmupSteps, help: "Linear warm-up steps.", check: .within(0...maximumSteps)),
        Setting("warmup_ratio", \.warmupRatio, help: "Warm-up as a fraction of all steps (when warmup_steps is 0).", check: .within(0..<1)),
        Setting("weight_decay", \.weightDecay, help: "Decoupled (AdamW) or L2 (SGD, RMSprop) weight decay.", check: .atLeast(0)),
        Setting("optim", \.optimizer, flag: "optimizer", help: "The optimiser (TRL's adamw_torch and friends mean adamw)."),
        Setting("adam_beta1", \.adamBeta1, help: "AdamW's β₁.", check: .within(0..<1)),
        Setting("adam_beta2", \.adamBeta2, help: "AdamW's β₂.", check: .within(0..<1)),
        Setting("adam_epsilon", \.adamEpsilon, help: "AdamW's and RMSprop's ε.", check: .above(0)),
        Setting("momentum", \.momentum, help: "Momentum for SGD.", check: .within(0..<1)),
        Setting("max_grad_norm", \.maxGradNorm, help: "Global gradient-norm clip.", check: .atLeast(0, " (0 disables clipping)")),
        Setting("seed", \.seed, help: "Seed of the data order (and of fresh heads)."),
        Setting("shuffle", \.shuffle, flag: "no-shuffle", style: .flag(setting: false), help: "Keep the data file's order."),
        Setting("logging_steps", \.loggingSteps, help: "Log every N steps.", check: .atLeast(1)),
        Setting("eval_steps", \.evalSteps, help: "Evaluate every N steps (0: at the end).", check: .atLeast(0)),
        Setting("save_steps", \.saveSteps, help: "Checkpoint every N steps (0: final model only).", check: .atLeast(0)),
    ]

    /// Rules across settings (each setting's own range is checked from its declaration).
    public func validateCombination() throws {
        try requireSetting(batchSize * gradientAccumulationSteps <= TrainingConfiguration.maximumBatchSize, "gradient_accumulation_steps",
                  "× per_device_train_batch_size (\(gradientAccumulationSteps) × \(batchSize)) must be at most \(TrainingConfiguration.maximumBatchSize) examples per step")
        try requireSetting(maxSteps > 0 || numTrainEpochs > 0, "num_train_epochs", "must be > 0 when max_steps is not set")
    }

    /// Most examples one optimiser step may take (batch × accumulation).
    public static let maximumBatchSize = 1 << 20
    /// Most optimiser steps a run may ask for.
    public static let maximumSteps = 1 << 40

    /// Optimiser steps for `examples` training examples.
    public func totalSteps(examples: Int) -> Int {
        if maxSteps > 0 { return maxSteps }
        let perEpoch = max(1, Int((Double(examples) / Double(batchSize * gradientAccumulationSteps)).rounded(.up)))
        return max(1, Int((Double(perEpoch) * numTrainEpochs).rounded(.up)))
    }

    /// The learning-rate schedule for a run of `totalSteps`.
    public func schedule(totalSteps: Int) -> LearningRateSchedule {
        let warmup = warmupSteps > 0 ? warmupSteps : Int((warmupRatio * Double(totalSteps)).rounded(.up))
        return LearningRateSchedule(lrScheduler, warmupSteps: warmup, totalSteps: totalSteps)
    }
}
