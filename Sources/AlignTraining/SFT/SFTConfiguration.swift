import AlignData
import AlignSettings
import Foundation

/// Everything `align sft` (and ``SFTObjective``) is configured by, with TRL 1.16's `SFTConfig`
/// names and defaults (learning rate 2e-5, max_length 1024, keep_start, no packing).
public struct SFTConfiguration: Sendable, Hashable, SettingsDeclaration {
    /// The shared loop's settings (SFT default lr 2e-5).
    public var training = TrainingConfiguration()
    /// LoRA / DoRA adapters (off unless `use_peft` or `lora_r`).
    public var adapter = AdapterConfiguration()
    /// Tokens kept per example (cut at preparation), or the packed row length.
    public var maxLength: Int? = 1024
    /// Which end of an over-long example survives.
    public var truncationMode: TruncationMode = .keepStart
    /// Pack examples into rows of `maxLength` tokens (best-fit decreasing, as TRL's `bfd`).
    public var packing: Bool = false
    /// Loss on completion tokens only; nil means on for prompt-completion data (TRL's default).
    public var completionOnlyLoss: Bool?
    /// Skip malformed data rows instead of stopping.
    public var skipBadRows: Bool = false

    public init() {
        training.learningRate = 2e-5
        training.loggingSteps = 10
    }

    public static let settings: [Setting<SFTConfiguration>] = TrainingConfiguration.settings.map { $0.lifted(\.training) } + AdapterConfiguration.settings.map { $0.lifted(\.adapter) } + [
        Setting("max_length", \.maxLength, help: "Longest example in tokens (the row length when packing).",
                check: .whenSet(.within(2...maximumSequenceLength))),
        Setting("truncation_mode", \.truncationMode, help: "Which end of an over-long example survives."),
        Setting("packing", \.packing, style: .flag(setting: true), help: "Pack examples into rows of max_length tokens (best-fit decreasing)."),
        Setting("completion_only_loss", \.completionOnlyLoss, flag: "completion-only",
                help: "true: loss on completion tokens only; false: on the prompt too (none: true for prompt/completion data)."),
        skipBadRowsSetting(\.skipBadRows),
    ]

    /// Rules across settings.
    public func validateCombination() throws {
        try training.validateCombination(); try adapter.validateCombination()
        try requireSetting(!packing || maxLength != nil, "packing", "needs max_length (the row length)")
    }
}
