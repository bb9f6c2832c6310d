import AlignData
import AlignJSON
import AlignSettings
import Foundation

/// Everything `align dpo` (and ``DPOObjective``) is configured by: the shared loop settings, the
/// loss, and data handling. Each setting is declared once in ``settings`` (TRL 1.16's `DPOConfig`
/// key, Align's flag, help, range); TRL's DPO defaults (learning rate 1e-6, logging every 10 steps).
public struct DPOConfiguration: Sendable, Hashable, SettingsDeclaration {
    public var training = TrainingConfiguration()
    /// LoRA / DoRA adapters (off unless `use_peft` or `lora_r`).
    public var adapter = AdapterConfiguration()
    public var loss = PreferenceLossConfiguration()
    /// Tokens kept per sequence (prompt + completion); TRL 1.x default 1024; nil keeps everything.
    public var maxLength: Int? = 1024
    /// Tokens kept of the prompt before the completion is cut (the original DPO repo's rule).
    public var maxPromptLength: Int?
    /// Which end of an over-long sequence survives.
    public var truncationMode: TruncationMode = .keepStart
    /// How prompt and completion are tokenised.
    public var tokenization: TokenizationRule = .trl
    /// Compute reference log-probs once before training, cached on disk.
    public var precomputeRefLogProbs: Bool = false
    /// Skip malformed data rows (counted) instead of stopping.
    public var skipBadRows: Bool = false
    /// Compute each pair's prompt once for its chosen and rejected completions (both attend to
    /// one copy; same results up to rounding). TRL runs the prompt twice.
    public var sharePrompt: Bool = true

    public init() {
        training.learningRate = 1e-6
        training.loggingSteps = 10
    }

    public static let settings: [Setting<DPOConfiguration>] =
        TrainingConfiguration.settings.map { $0.lifted(\.training) } + AdapterConfiguration.settings.map { $0.lifted(\.adapter) } + PreferenceLossConfiguration.settings.map { $0.lifted(\.loss) } + [
            Setting("max_length", \.maxLength, help: "Longest sequence in tokens.", check: .whenSet(.within(2...maximumSequenceLength))),
            Setting("max_prompt_length", \.maxPromptLength, help: "Cut prompts to this many tokens first (the original DPO repository's rule).",
                    check: .whenSet(.atLeast(0))),
            Setting("truncation_mode", \.truncationMode, help: "Which end of an over-long sequence survives."),
            Setting("tokenization", \.tokenization, help: "trl: prompt+completion tokenised together; separate: the original repository's rule."),
            Setting("precompute_ref_log_probs", \.precomputeRefLogProbs, flag: "precompute-ref", style: .flag(setting: true),
                    help: "Compute reference log-probs once before training (cached, keyed by weights, data and settings)."),
            skipBadRowsSetting(\.skipBadRows),
            Setting("share_prompt", \.sharePrompt, style: .toggle,
                    help: "Compute each pair's prompt once for chosen and rejected (TRL runs it twice)."),
        ]

    /// Rules across settings: the loss's own, and the two lengths.
    public func validateCombination() throws {
        try training.validateCombination(); try adapter.validateCombination()
        do { try loss.validate() } catch let error as PreferenceLossError {
            throw TrainingError.invalidSetting(key: error.key, message: error.description)
        }
        try validateLengths(maxLength: maxLength, maxPromptLength: maxPromptLength)
    }

    /// Sets the loss terms from TRL names and optional weights (default 1 each).
    public mutating func setLoss(types: [String], weights: [Float]?) throws {
        var parsed: [PreferenceLossType] = []
        for name in types {
            guard let t = PreferenceLossType(trlName: name) else {
                throw TrainingError.invalidSetting(key: "loss_type", message: "unknown loss_type \"\(name)\" (known: \(PreferenceLossType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            parsed.append(t)
        }
        let w = weights ?? parsed.map { _ in 1 }
        guard w.count == parsed.count else {
            throw TrainingError.invalidSetting(key: "loss_weights", message: "\(w.count) loss_weights for \(parsed.count) loss types")
        }
        loss.terms = zip(parsed, w).map { .init($0, weight: $1) }
    }
}

/// How prompt and completion become token ids (the `tokenization` setting).
public enum TokenizationRule: String, Sendable, CaseIterable, SettingChoice {
    /// TRL: prompt alone and prompt+completion, the completion starting at their common prefix.
    case trl
    /// The original DPO repository: prompt and completion tokenised separately and concatenated.
    case separate

    /// The data layer's boundary rule.
    public var boundary: BoundaryMode { self == .trl ? .commonPrefix : .separate }
}

extension TruncationMode: SettingChoice {}

/// The `skip_bad_rows` setting every objective that reads a data file declares.
func skipBadRowsSetting<Root>(_ path: WritableKeyPath<Root, Bool>) -> Setting<Root> {
    Setting("skip_bad_rows", path, style: .flag(setting: true), help: "Skip malformed data rows (counted) instead of stopping.")
}
