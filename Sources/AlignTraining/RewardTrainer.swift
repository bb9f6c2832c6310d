import AlignData
import AlignKernels
import AlignModelIO
import AlignModels
import AlignNN
import AlignTensor
import Foundation

// `RewardModel` itself (loading, saving, scoring token ids) lives in AlignModels beside the causal LMs.
extension RewardModel {
    /// Scores each completion of `prompt`, tokenised exactly as ``RewardTrainer`` trains (the
    /// EOS text appended to plain-text completions, prompt + completion as one sequence; message
    /// lists rendered with the chat template). For `align judge --reward`.
    public func score(prompt: ExampleContent, completions: [ExampleContent], encoder: ExampleEncoder,
                      batchSize: Int = 8) throws -> [Float] {
        let dataset = PreferenceDataset(examples: completions.map { PreferenceExample(prompt: prompt, chosen: $0, rejected: $0) })
        let (pairs, _) = try dataset.tokenizedForReward(encoder: encoder, maxLength: nil)
        return score(pairs.map(\.chosenIDs), batchSize: batchSize)
    }
}

/// Everything `align reward` (and ``RewardTrainer``) is configured by, with TRL 1.16's
/// `RewardConfig` names and defaults (learning rate 1e-4, max_length 1024).
public struct RewardConfiguration: Codable, Sendable, Hashable {
    /// The shared loop's settings (reward default lr 1e-4).
    public var training = TrainingConfiguration()
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

    enum Keys: String, CodingKey, CaseIterable {
        case maxLength = "max_length", centerRewardsCoefficient = "center_rewards_coefficient", skipBadRows = "skip_bad_rows"
    }

    /// Keys this configuration reads.
    public static var knownKeys: Set<String> {
        Set(TrainingConfiguration.CodingKeys.allKeyNames + Keys.allCases.map(\.rawValue))
    }

    public init(from decoder: Decoder) throws {
        self.init()
        training = try TrainingConfiguration(from: decoder, defaults: training)
        let c = try decoder.container(keyedBy: Keys.self)
        if c.contains(.maxLength) { maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) }
        centerRewardsCoefficient = try c.decodeIfPresent(Float.self, forKey: .centerRewardsCoefficient)
        skipBadRows = try c.decodeIfPresent(Bool.self, forKey: .skipBadRows) ?? skipBadRows
    }

    public func encode(to encoder: Encoder) throws {
        try training.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encodeIfPresent(maxLength, forKey: .maxLength)
        try c.encodeIfPresent(centerRewardsCoefficient, forKey: .centerRewardsCoefficient)
        try c.encode(skipBadRows, forKey: .skipBadRows)
    }

    /// Checks every setting.
    public func validate() throws {
        try training.validate()
        try validateLengths(maxLength: maxLength, maxPromptLength: nil)
        if let c = centerRewardsCoefficient { try requireSetting(c >= 0, "center_rewards_coefficient", "must be ≥ 0, got \(c)") }
    }
}

/// The Bradley–Terry loss and TRL's reward metrics on one batch.
public enum RewardObjective {
    /// Loss −mean log σ(r_w − r_l − m) + c·mean((r_w + r_l)²), multiplied by `scale`, and TRL's
    /// metrics (`accuracy`, `margin`, `min_reward`, `mean_reward`, `max_reward`) plus
    /// `rewards/chosen` and `rewards/rejected`.
    /// - Parameter batch: ids (2B × length): B chosen rows then B rejected rows, right-padded.
    public static func evaluate(model: RewardModel, ids: [Int32], pairs b: Int, length: Int, margins: [Float]?,
                                centerCoefficient: Float?, scale: Float = 1) -> (loss: Tensor, metrics: StepMetrics, rewards: [Float]) {
        let r = model.rewards(ids: ids, rows: 2 * b, length: length)
        let chosen = r.slice(axis: 0, start: 0, length: b), rejected = r.slice(axis: 0, start: b, length: b)
        var z = chosen - rejected
        if let margins { z = z - Tensor(shape: [b], values: margins) }
        var loss = -z.logSigmoid().mean()
        if let c = centerCoefficient, c != 0 { loss = loss + (chosen + rejected).square().mean() * c }
        loss = loss * scale
        let values = r.toArray()
        var m = StepMetrics()
        m.add("loss", Double(loss.item() / scale))
        for i in 0..<b {
            let w = Double(values[i]), l = Double(values[b + i])
            m.add("accuracy", sum: w > l ? 1 : 0, weight: 1)
            m.add("margin", sum: w - l, weight: 1)
            m.add("rewards/chosen", sum: w, weight: 1)
            m.add("rewards/rejected", sum: l, weight: 1)
        }
        // TRL logs the batch's min / mean / max; over several batches the logged value is their mean.
        m.add("min_reward", Double(values.min() ?? 0))
        m.add("max_reward", Double(values.max() ?? 0))
        m.add("mean_reward", sum: values.reduce(0) { $0 + Double($1) }, weight: Double(values.count))
        return (loss, m, values)
    }
}

/// Bradley–Terry reward-model training as a ``TrainingObjective`` on the shared loop: pairs from
/// ``PreferenceDataset/tokenizedForReward(encoder:maxLength:)``, collated by ``RewardCollator``.
public final class RewardTrainer: TrainingObjective {
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

    /// Runs training into `outputDirectory`.
    @discardableResult
    public func train(outputDirectory: URL, resume: Bool = false, progress: ((String) -> Void)? = nil,
                      onLog: (([String: Double]) -> Void)? = nil) throws -> Trainer.Summary {
        let trainer = Trainer(objective: self, configuration: configuration.training, outputDirectory: outputDirectory)
        if let progress { trainer.progress = progress }
        trainer.onLog = onLog
        return try trainer.train(resume: resume)
    }

    public var trainExampleCount: Int { trainPairs.count }
    public var evalExampleCount: Int { evalPairs.count }
    public var trainableParameters: [(name: String, parameter: Parameter)] { model.trainableParameters() }
    public func prepare(log: (String) -> Void) throws {}

    func run(_ pairs: [TokenizedPair], scale: Float) -> (loss: Tensor, metrics: StepMetrics) {
        let batch = collator.collate(pairs)
        let r = RewardObjective.evaluate(model: model, ids: batch.inputIDs, pairs: batch.pairCount, length: batch.length,
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
