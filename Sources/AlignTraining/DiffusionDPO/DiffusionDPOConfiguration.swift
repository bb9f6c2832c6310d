import AlignSettings
import Foundation

/// Everything `align diffusion-dpo` (and ``DiffusionDPOObjective``) is configured by. Names follow
/// SalesforceAIResearch/DiffusionDPO's `train.py` (`beta_dpo`), and the loop's settings TRL's.
public struct DiffusionDPOConfiguration: Sendable, Hashable, SettingsDeclaration {
    /// The shared loop's settings (batch size counts pairs).
    public var training = TrainingConfiguration()
    /// β of the implicit reward; train.py's default 5000 is for 4×64×64 latents: β's effective
    /// scale grows with C·H·W, so re-tune it for small images.
    public var betaDPO: Float = 5000
    /// λ: adds λ·mse_θ(winner) to the loss, keeping samples in distribution.
    public var sftWeight: Float = 0

    public init() {
        training.learningRate = 1e-5
        training.loggingSteps = 10
        training.maxGradNorm = 1
    }

    public static let settings: [Setting<DiffusionDPOConfiguration>] = TrainingConfiguration.settings.map { $0.lifted(\.training) } + [
        Setting("beta_dpo", \.betaDPO, help: "β of the Diffusion-DPO loss (train.py's default 5000).", check: .above(0)),
        Setting("sft_weight", \.sftWeight, help: "λ: weight of the winner's denoising loss added to the DPO loss.", check: .atLeast(0)),
    ]

    public func validateCombination() throws { try training.validateCombination() }
}

