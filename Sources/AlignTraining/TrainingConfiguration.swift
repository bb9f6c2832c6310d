import AlignJSON
import AlignOptim
import AlignSettings
import Foundation

/// The optimiser a run uses.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable, JSONChoice {
    case adamw, sgd, rmsprop
}

extension LearningRateSchedule.Kind: JSONChoice {}

/// Settings of the shared training loop, with TRL / transformers `TrainingArguments` names
/// (snake_case in YAML and JSON, kebab-case on the command line) and TRL's DPO defaults.
public struct TrainingConfiguration: Codable, Sendable, Hashable {
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

    enum CodingKeys: String, CodingKey {
        case learningRate = "learning_rate", batchSize = "per_device_train_batch_size"
        case gradientAccumulationSteps = "gradient_accumulation_steps", numTrainEpochs = "num_train_epochs"
        case maxSteps = "max_steps", lrScheduler = "lr_scheduler_type", warmupSteps = "warmup_steps"
        case warmupRatio = "warmup_ratio", weightDecay = "weight_decay", optimizer = "optim"
        case adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2", adamEpsilon = "adam_epsilon", momentum
        case maxGradNorm = "max_grad_norm", seed, shuffle, loggingSteps = "logging_steps"
        case evalSteps = "eval_steps", saveSteps = "save_steps"
    }

    public init(from decoder: Decoder) throws {
        try self.init(from: decoder, defaults: TrainingConfiguration())
    }

    /// Decodes the keys present over `defaults` (objectives have their own defaults: DPO's
    /// learning rate is 1e-6, SFT's 2e-5).
    public init(from decoder: Decoder, defaults: TrainingConfiguration) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var d = defaults
        d.learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
        d.batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        d.gradientAccumulationSteps = try c.decodeIfPresent(Int.self, forKey: .gradientAccumulationSteps) ?? d.gradientAccumulationSteps
        d.numTrainEpochs = try c.decodeIfPresent(Double.self, forKey: .numTrainEpochs) ?? d.numTrainEpochs
        d.maxSteps = try c.decodeIfPresent(Int.self, forKey: .maxSteps) ?? d.maxSteps
        d.lrScheduler = try c.decodeIfPresent(LearningRateSchedule.Kind.self, forKey: .lrScheduler) ?? d.lrScheduler
        d.warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? d.warmupSteps
        d.warmupRatio = try c.decodeIfPresent(Double.self, forKey: .warmupRatio) ?? d.warmupRatio
        d.weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? d.weightDecay
        d.optimizer = try c.decodeIfPresent(OptimizerKind.self, forKey: .optimizer) ?? d.optimizer
        d.adamBeta1 = try c.decodeIfPresent(Float.self, forKey: .adamBeta1) ?? d.adamBeta1
        d.adamBeta2 = try c.decodeIfPresent(Float.self, forKey: .adamBeta2) ?? d.adamBeta2
        d.adamEpsilon = try c.decodeIfPresent(Float.self, forKey: .adamEpsilon) ?? d.adamEpsilon
        d.momentum = try c.decodeIfPresent(Float.self, forKey: .momentum) ?? d.momentum
        d.maxGradNorm = try c.decodeIfPresent(Float.self, forKey: .maxGradNorm) ?? d.maxGradNorm
        d.seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        d.shuffle = try c.decodeIfPresent(Bool.self, forKey: .shuffle) ?? d.shuffle
        d.loggingSteps = try c.decodeIfPresent(Int.self, forKey: .loggingSteps) ?? d.loggingSteps
        d.evalSteps = try c.decodeIfPresent(Int.self, forKey: .evalSteps) ?? d.evalSteps
        d.saveSteps = try c.decodeIfPresent(Int.self, forKey: .saveSteps) ?? d.saveSteps
        self = d
    }

    /// Checks ranges, naming the setting. Upper bounds keep a typo (`--batch-size 99999999999`) from
    /// reserving memory for it: they are far above anything this trainer can run.
    public func validate() throws {
        try requireSetting(learningRate >= 0 && learningRate <= 10, "learning_rate", "must be in 0...10, got \(learningRate)")
        try requireSetting((1...TrainingConfiguration.maximumBatchSize).contains(batchSize), "per_device_train_batch_size",
                  "must be in 1...\(TrainingConfiguration.maximumBatchSize), got \(batchSize)")
        try requireSetting((1...TrainingConfiguration.maximumBatchSize).contains(gradientAccumulationSteps), "gradient_accumulation_steps",
                  "must be in 1...\(TrainingConfiguration.maximumBatchSize), got \(gradientAccumulationSteps)")
        try requireSetting(batchSize * gradientAccumulationSteps <= TrainingConfiguration.maximumBatchSize, "gradient_accumulation_steps",
                  "× per_device_train_batch_size (\(gradientAccumulationSteps) × \(batchSize)) must be at most \(TrainingConfiguration.maximumBatchSize) examples per step")
        try requireSetting(numTrainEpochs >= 0 && numTrainEpochs <= 1_000_000, "num_train_epochs", "must be in 0...1000000, got \(numTrainEpochs)")
        try requireSetting(maxSteps <= TrainingConfiguration.maximumSteps, "max_steps", "must be at most \(TrainingConfiguration.maximumSteps), got \(maxSteps)")
        try requireSetting(maxSteps > 0 || numTrainEpochs > 0, "num_train_epochs", "must be > 0 when max_steps is not set")
        try requireSetting(warmupSteps >= 0 && warmupSteps <= TrainingConfiguration.maximumSteps, "warmup_steps", "must be in 0...\(TrainingConfiguration.maximumSteps), got \(warmupSteps)")
        try requireSetting(warmupRatio >= 0 && warmupRatio < 1, "warmup_ratio", "must be in [0, 1), got \(warmupRatio)")
        try requireSetting(weightDecay >= 0, "weight_decay", "must be ≥ 0, got \(weightDecay)")
        try requireSetting(adamBeta1 >= 0 && adamBeta1 < 1, "adam_beta1", "must be in [0, 1), got \(adamBeta1)")
        try requireSetting(adamBeta2 >= 0 && adamBeta2 < 1, "adam_beta2", "must be in [0, 1), got \(adamBeta2)")
        try requireSetting(adamEpsilon > 0, "adam_epsilon", "must be > 0, got \(adamEpsilon)")
        try requireSetting(momentum >= 0 && momentum < 1, "momentum", "must be in [0, 1), got \(momentum)")
        try requireSetting(maxGradNorm >= 0, "max_grad_norm", "must be ≥ 0 (0 disables clipping), got \(maxGradNorm)")
        try requireSetting(loggingSteps >= 1, "logging_steps", "must be ≥ 1, got \(loggingSteps)")
        try requireSetting(evalSteps >= 0, "eval_steps", "must be ≥ 0, got \(evalSteps)")
        try requireSetting(saveSteps >= 0, "save_steps", "must be ≥ 0, got \(saveSteps)")
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

/// Throws ``TrainingError/invalidSetting(key:message:)`` ("`key` `message`") unless `ok`.
func requireSetting(_ ok: Bool, _ key: String, _ message: @autoclosure () -> String) throws {
    if !ok { throw TrainingError.invalidSetting(key: key, message: "\(key) \(message())") }
}

/// Longest `max_length` a configuration may ask for (tokens); the model's own position table is
/// checked against the data once the model is loaded.
public let maximumSequenceLength = 1 << 20

/// Checks `max_length` (2...``maximumSequenceLength``) and `max_prompt_length` (0..<max_length).
func validateLengths(maxLength: Int?, maxPromptLength: Int?) throws {
    if let m = maxLength {
        try requireSetting((2...maximumSequenceLength).contains(m), "max_length", "must be in 2...\(maximumSequenceLength), got \(m)")
    }
    if let p = maxPromptLength {
        try requireSetting(p >= 0, "max_prompt_length", "must be ≥ 0, got \(p)")
        if let m = maxLength {
            try requireSetting(p < m, "max_prompt_length", "(\(p)) must be less than max_length (\(m))")
        }
    }
}

/// Why a run stopped early.
public enum TrainingError: Error, CustomStringConvertible {
    case invalidConfiguration(String)
    /// A setting out of range: `key` is its snake_case name (so the CLI can name the flag or the
    /// config file's line), `message` the whole sentence.
    case invalidSetting(key: String, message: String)
    /// A loss, log-prob or gradient norm became NaN or ±inf: `step` is 1-based (as in
    /// metrics.jsonl), `examples` names the rows that produce it (`file:line`).
    case nonFinite(step: Int, what: String, examples: [String])
    case interrupted(checkpoint: URL)
    case noCheckpoint(URL)
    case checkpoint(URL, String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(m): return "invalid configuration: \(m)"
        case let .invalidSetting(_, m): return "invalid configuration: \(m)"
        case let .nonFinite(step, what, examples):
            return "step \(step): \(what) is not finite (NaN or ±inf) on training example\(examples.count == 1 ? "" : "s") \(examples.joined(separator: ", "))"
        case let .interrupted(url): return "interrupted; checkpoint saved to \(url.path) (continue with --resume)"
        case let .noCheckpoint(url): return "no complete checkpoint-N folder in \(url.path) to resume from"
        case let .checkpoint(url, reason): return "\(url.path): \(reason)"
        }
    }
}

extension TrainingError: KeyedSettingError {
    /// The key of an ``invalidSetting(key:message:)``.
    public var settingKey: String? {
        if case let .invalidSetting(key, _) = self { return key }
        return nil
    }
    /// The message without the "invalid configuration:" prefix.
    public var settingMessage: String {
        if case let .invalidSetting(_, message) = self { return message }
        return description
    }
}

extension DPOConfiguration: ValidatedSettings {}
extension KTOConfiguration: ValidatedSettings {}
extension SFTConfiguration: ValidatedSettings {}
extension RewardConfiguration: ValidatedSettings {}
