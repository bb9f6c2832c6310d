import AlignNN
import AlignSettings

/// LoRA / rsLoRA / DoRA adapters, the settings every trainer shares (TRL's `ModelConfig` keys and
/// defaults: `use_peft`, `lora_r` 16, `lora_alpha` 32, `lora_dropout` 0.05, `lora_target_modules`,
/// `use_rslora`, `use_dora`). Adapters are on when `use_peft` is true or `lora_r` is given.
///
/// A trainer's configuration takes them with one property and one line in its table:
/// ```swift
/// public var adapter = AdapterConfiguration()
/// public static let settings = ... + AdapterConfiguration.settings.map { $0.lifted(\.adapter) }
/// ```
/// (and `try adapter.validateCombination()` in its own `validateCombination`); the command then
/// loads its policy through `TrainingCommand.loadPolicy` and its reference through
/// `TrainingCommand.reference`, which attach the adapters and make the reference the same model
/// with them switched off.
public struct AdapterConfiguration: Sendable, Hashable, SettingsDeclaration {
    /// Train adapters (TRL's `use_peft`); implied by `lora_r`.
    public var usePeft = false
    /// Adapter rank; setting it turns adapters on. TRL's default 16 when only `use_peft` is given.
    public var loraR: Int?
    public var loraAlpha: Float = 32
    public var loraDropout: Float = 0.05
    /// Short names, full module paths, or `all-linear`; none: PEFT's default (q_proj, v_proj).
    public var loraTargetModules: [String]?
    public var useRSLoRA = false
    public var useDoRA = false

    public init() {}

    /// Whether training runs on adapters.
    public var enabled: Bool { usePeft || loraR != nil }

    /// The layer-level description (``LoRAConfiguration``).
    public var lora: LoRAConfiguration {
        LoRAConfiguration(rank: loraR ?? 16, alpha: loraAlpha, dropout: loraDropout, targetModules: loraTargetModules ?? [],
                          useRSLoRA: useRSLoRA, useDoRA: useDoRA)
    }

    public static let settings: [Setting<AdapterConfiguration>] = [
        Setting("use_peft", \.usePeft, style: .flag(setting: true),
                help: "Train LoRA adapters on a frozen base (PEFT's format) instead of every weight; implied by --lora-r."),
        Setting("lora_r", \.loraR, help: "Adapter rank r; turns adapters on (default 16 with --use-peft).", check: .whenSet(.within(1...65536))),
        Setting("lora_alpha", \.loraAlpha, help: "Adapter scale α: updates are multiplied by α/r (α/√r with --use-rslora).",
                check: .above(0)),
        Setting("lora_dropout", \.loraDropout, help: "Dropout on each adapter's input while training.", check: .within(0..<1)),
        Setting("lora_target_modules", \.loraTargetModules,
                help: "Linear layers to adapt: short names (q_proj,v_proj), full module paths, or all-linear (default q_proj,v_proj)."),
        Setting("use_rslora", \.useRSLoRA, style: .flag(setting: true), help: "Rank-stabilised LoRA: scale α/√r."),
        Setting("use_dora", \.useDoRA, style: .flag(setting: true),
                help: "DoRA: a trained magnitude per output row over the adapted direction (norm detached, as PEFT)."),
    ]

    public func validateCombination() throws {
        if let targets = loraTargetModules {
            try requireSetting(!targets.isEmpty && !targets.contains(where: \.isEmpty), "lora_target_modules", "needs module names")
            try requireSetting(!targets.contains("all-linear") || targets.count == 1, "lora_target_modules", "all-linear stands alone")
        }
    }
}
