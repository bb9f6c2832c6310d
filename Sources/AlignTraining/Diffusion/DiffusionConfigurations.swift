import AlignSettings
import Foundation

/// Settings of `align diffusion train` (the denoiser's ε-prediction pretraining): REFERENCE.md §10's
/// AdamW 1e-3, batch 128.
public struct DenoiserConfiguration: Sendable, Hashable, SettingsDeclaration {
    public var training = TrainingConfiguration()
    public init() {
        training.learningRate = 1e-3
        training.batchSize = 128
        training.numTrainEpochs = 1
        training.loggingSteps = 20
        training.lrScheduler = .constant
    }

    public static let settings: [Setting<DenoiserConfiguration>] = TrainingConfiguration.settings.map { $0.lifted(\.training) }

    public func validateCombination() throws { try training.validateCombination() }
}

/// Settings of `align diffusion classifier` (the reward's CNN).
public struct ClassifierConfiguration: Sendable, Hashable, SettingsDeclaration {
    public var training = TrainingConfiguration()
    public init() {
        training.learningRate = 1e-3
        training.batchSize = 128
        training.numTrainEpochs = 2
        training.loggingSteps = 20
    }

    public static let settings: [Setting<ClassifierConfiguration>] = TrainingConfiguration.settings.map { $0.lifted(\.training) }

    public func validateCombination() throws { try training.validateCombination() }
}
