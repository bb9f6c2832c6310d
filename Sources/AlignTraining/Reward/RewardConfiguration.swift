import AlignSettings
import Foundation

/// Everything `align reward` (and ``RewardObjective``) is configured by, with TRL 1.16's
/// `RewardConfig` names and defaults (learning rate 1e-4, max_length 1024).
public struct RewardConfiguration: Sendable, Hashable, SettingsDeclaration {
    /// The shared loop's settings (reward default lr 1e-4).
    public var training = TrainingConfiguration()
    /// LoRA / DoRA adapters (off unless `use_peft` or `lora_r`).
    public var adapter = AdapterConfiguration()
    /// Pairs whose chosen or rejected sequence is longer are dropped (TRL drops, never cuts).
    public var maxLength: Int? = 1024
    /// c in c·E[(r_w + r_l)²], which keeps rewards centred on 0 (nil: off, TRL's default).
    public var centerRewardsCoefficient: Float?
    /// Skip malformed data rows instead of stopping.
    public var skipBadRows: Bool = false

    public init() {
        training.learningRate = 1e-4
        training.loggingSteps = 10
    }

    public static let settings: [Setting<RewardConfiguration>] = TrainingConfiguration.settings.map { $0.lifted(\.training) } + AdapterConfiguration.settings.map { $0.lifted(\.adapter) } + [
        Setting("max_length", \.maxLength, help: "Drop pairs longer than this many tokens.",
                check: .whenSet(.within(2...maximumSequenceLength))),
        Setting("center_rewards_coefficient", \.centerRewardsCoefficient,
                help: "c in c·E[(r_w + r_l)²], which keeps rewards centred on 0.", check: .whenSet(.atLeast(0))),
        skipBadRowsSetting(\.skipBadRows),
    ]

    /// Rules across settings.
    public func validateCombination() throws { try training.validateCombination(); try adapter.validateCombination() }
}
