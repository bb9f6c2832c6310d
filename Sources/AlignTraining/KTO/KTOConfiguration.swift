import AlignSettings
import Foundation

/// KTO's loss variants, with TRL 1.16's names.
public enum KTOLossType: String, Sendable, CaseIterable, SettingChoice {
    /// Kahneman–Tversky: desirable 1 − σ(β(h − z₀)), undesirable 1 − σ(β(z₀ − h)).
    case kto
    /// APO-zero, unpaired: desirable 1 − σ(βh), undesirable σ(βh); no KL estimate.
    case apoZeroUnpaired = "apo_zero_unpaired"

    /// Whether the loss uses the KL estimate z₀ (and so the mismatched KL forward passes).
    public var usesKL: Bool { self == .kto }
}

/// Everything `align kto` (and ``KTOObjective``) is configured by, with TRL 1.16's `KTOConfig`
/// names and defaults (learning rate 1e-6, β 0.1, weights 1, max_length 1024, sequential order).
public struct KTOConfiguration: Sendable, Hashable, SettingsDeclaration {
    /// The shared loop's settings (KTO defaults: lr 1e-6, file order).
    public var training = TrainingConfiguration()
    /// LoRA / DoRA adapters (off unless `use_peft` or `lora_r`).
    public var adapter = AdapterConfiguration()
    /// `kto` or `apo_zero_unpaired`.
    public var lossType: KTOLossType = .kto
    /// β, the scale of the implied reward β·(log π − log π_ref).
    public var beta: Float = 0.1
    /// λ_D, the weight of desirable examples' losses.
    public var desirableWeight: Float = 1
    /// λ_U, the weight of undesirable examples' losses.
    public var undesirableWeight: Float = 1
    /// Tokens kept per sequence (prompt + completion, keeping the start).
    public var maxLength: Int? = 1024
    /// Skip malformed data rows instead of stopping.
    public var skipBadRows: Bool = false

    public init() {
        training.learningRate = 1e-6
        training.loggingSteps = 10
        // KTOConfig defaults to a sequential sampler: its KL pairs depend on row order.
        training.shuffle = false
    }

    public static let settings: [Setting<KTOConfiguration>] = TrainingConfiguration.settings.map { $0.lifted(\.training) } + AdapterConfiguration.settings.map { $0.lifted(\.adapter) } + [
        Setting("loss_type", \.lossType, help: "The KTO loss variant."),
        Setting("beta", \.beta, help: "β, the strength of the KL regularisation.", check: .above(0)),
        Setting("desirable_weight", \.desirableWeight, help: "λ_D, the weight of desirable examples.", check: .atLeast(0)),
        Setting("undesirable_weight", \.undesirableWeight, help: "λ_U, the weight of undesirable examples.", check: .atLeast(0)),
        Setting("max_length", \.maxLength, help: "Longest sequence in tokens.", check: .whenSet(.within(2...maximumSequenceLength))),
        skipBadRowsSetting(\.skipBadRows),
    ]

    /// Rules across settings.
    public func validateCombination() throws { try training.validateCombination(); try adapter.validateCombination() }

    /// The KTO paper's advice: λ_D·n_D / (λ_U·n_U) should lie in [1, 4/3]. Returns a warning
    /// naming the ratio and the weights that would fix it, or nil when it is in range.
    public func weightRatioWarning(desirable nD: Int, undesirable nU: Int) -> String? {
        guard nD > 0, nU > 0, undesirableWeight > 0 else { return nil }
        let ratio = Double(desirableWeight) * Double(nD) / (Double(undesirableWeight) * Double(nU))
        // TRL rounds its bounds to two decimals; compare with the same slack.
        guard ratio < 1 - 5e-3 || ratio > 4.0 / 3.0 + 5e-3 else { return nil }
        let low = Double(undesirableWeight) * Double(nU) / Double(nD), high = low * 4 / 3
        return String(format: "desirable_weight·n_desirable / (undesirable_weight·n_undesirable) = %.3f is outside the recommended [1, 4/3] (%d desirable, %d undesirable); try desirable_weight in [%.2f, %.2f]",
                      ratio, nD, nU, low, high)
    }
}
