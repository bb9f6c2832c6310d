import AlignData
import AlignKernels
import AlignModelIO
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// Bradley–Terry reward-model training as a ``TrainingObjective`` on the shared loop: pairs from
/// ``PreferenceDataset/tokenizedForReward(encoder:maxLength:)``, collated by ``RewardCollator``.
public final class RewardObjective: TrainingObjective {
    /// The reward model being trained.
    public let model: RewardModel
    /// The run's settings.
    public let configuration: RewardConfiguration
    /// Prepared training pairs (empty prompts: each sequence is prompt + completion).
    public let trainPairs: [TokenizedPair]
    /// Prepared evaluation pairs.
    public let evalPairs: [TokenizedPair]
    let collator: RewardCollator
    let saveModelHandler: (URL) throws -> Void

    /// - Parameter saveModel: writes the model (default: ``RewardModel/save(to:sourceDirectory:)`` without a source).
    public init(model: RewardModel, configuration: RewardConfiguration, trainPairs: [TokenizedPair],
                evalPairs: [TokenizedPair] = [], saveModel: ((URL) throws -> Void)? = nil) throws {
        try configuration.validate()
        self.model = model
        self.configuration = configuration
        self.trainPairs = trainPairs
        self.evalPairs = evalPairs
        self.collator = RewardCollator(padID: model.padTokenID)
        self.saveModelHandler = saveModel ?? { try model.save(to: $0) }
        for pairs in [trainPairs, evalPairs] {
            try requireSequencesFit(pairs.map { (max($0.chosenIDs.count, $0.rejectedIDs.count), $0.location) }, model: model.body, what: "pair")
        }
    }

    public var trainingConfiguration: TrainingConfiguration { configuration.training }

    public var trainExampleCount: Int { trainPairs.count }
    public var evalExampleCount: Int { evalPairs.count }
    public var trainableParameters: [(name: String, parameter: Parameter)] { model.trainableParameters() }
    public func prepare(log: (String) -> Void) throws {}

    func run(_ pairs: [TokenizedPair], scale: Float) -> (loss: Tensor, metrics: StepMetrics) {
        let batch = collator.collate(pairs)
        let r = RewardLoss.evaluate(model: model, ids: batch.inputIDs, pairs: batch.pairCount, length: batch.length,
                                         margins: batch.margins, centerCoefficient: configuration.centerRewardsCoefficient,
                                         scale: scale)
        return (r.loss, r.metrics)
    }

    public func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics) {
        run(examples.map { trainPairs[$0] }, scale: scale)
    }

    public func evaluationMetrics(examples: [Int]) throws -> StepMetrics {
        withNoGrad { run(examples.map { evalPairs[$0] }, scale: 1).metrics }
    }

    public func tokenCount(examples: [Int]) -> Int {
        examples.reduce(0) { s, i in
            let p = trainPairs[i]
            return s + 2 * p.promptIDs.count + p.chosenIDs.count + p.rejectedIDs.count
        }
    }

    public func describeExample(_ index: Int) -> String {
        trainPairs[index].location?.description ?? "pair \(index)"
    }

    public func saveModel(to directory: URL) throws { try saveModelHandler(directory) }

    public func loadModel(from directory: URL) throws {
        try model.loadWeights(from: directory)
    }
}
