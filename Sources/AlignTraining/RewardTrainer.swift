import AlignData
import AlignKernels
import AlignModelIO
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// A Bradley–Terry reward model in Hugging Face's sequence-classification layout
/// (`LlamaForSequenceClassification` / `Qwen2ForSequenceClassification` / Mistral's): a
/// Llama-family decoder body and a bias-free linear head `score` (hidden → 1) read at each row's
/// last non-pad token. Parameter names are transformers' (`model.layers.0…`, `score.weight`), so
/// ``save(to:sourceDirectory:)`` writes a folder `AutoModelForSequenceClassification` loads.
public final class RewardModel: Module {
    /// The decoder; built without an LM head (a reward model never produces token logits).
    public let body: LlamaForCausalLM
    /// The scalar head, weight (1, hidden).
    public let score: Linear
    /// The id whose rightmost non-occurrence marks each row's last token (transformers' rule).
    public var padTokenID: Int32

    /// Wraps a body and a head.
    public init(body: LlamaForCausalLM, score: Linear, padTokenID: Int32) {
        precondition(body.lmHead == nil, "the reward body must be built without an LM head")
        self.body = body
        self.score = score
        self.padTokenID = padTokenID
    }

    /// Loads a Hugging Face folder: a sequence-classification checkpoint (with `score.weight`),
    /// or a causal-LM checkpoint, whose LM head is dropped and whose score head is initialised as
    /// transformers' `_init_weights` does for a new `nn.Linear`: N(0, initializer_range²), seeded.
    /// - Parameter padTokenID: overrides the folder's `pad_token_id` (transformers needs one to
    ///   find the last token of padded rows; falls back to the EOS id, then 0).
    public convenience init(directory: URL, padTokenID: Int32? = nil, seed: UInt64 = 0) throws {
        var configuration = try LlamaConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
        // Tying drops the LM head from the body: nothing of the (vocabulary, hidden) matrix is loaded.
        configuration.tieWordEmbeddings = true
        let weights = try CheckpointWeights(directory: directory)
        try weights.checkLayerCount(prefix: "model.layers.", key: "num_hidden_layers", layers: configuration.numHiddenLayers)
        let body = try LlamaForCausalLM(configuration, weights: weights.load)
        let hidden = configuration.hiddenSize
        let head: Tensor
        if weights.storedName("score.weight") != nil {
            head = try weights.load("score.weight", [1, hidden])
        } else {
            let raw = try? JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("config.json"))) as? [String: Any]
            let std = (raw?["initializer_range"] as? NSNumber)?.floatValue ?? 0.02
            var g = RandomGenerator(seed: seed)
            head = Tensor.randomNormal([1, hidden], std: std, generator: &g)
        }
        let pad = padTokenID ?? configuration.padTokenId.map { Int32($0) } ?? configuration.eosTokenId.flatMap { $0.all.first }.map { Int32($0) } ?? 0
        self.init(body: body, score: Linear(weight: head), padTokenID: pad)
    }

    /// Index (within its row) of each row's reward token: the rightmost position whose id is not
    /// the pad id, as transformers 5 does (the last position when every id is the pad id).
    public func rewardPositions(ids: [Int32], rows: Int, length: Int) -> [Int] {
        (0..<rows).map { r in
            var t = length - 1
            while t > 0 && ids[r * length + t] == padTokenID { t -= 1 }
            return t
        }
    }

    /// Rewards (rows) for right-padded ids (rows × length), differentiable.
    public func rewards(ids: [Int32], rows: Int, length: Int, attentionMask: [Float]? = nil) -> Tensor {
        let hidden = body.hiddenStates(ids: ids, batch: rows, seq: length, attentionMask: attentionMask, positions: nil)
        let gather = rewardPositions(ids: ids, rows: rows, length: length).enumerated().map { Int32($0.offset * length + $0.element) }
        let h = hidden.reshaped([rows * length, body.hiddenSize]).embedding(ids: gather, shape: [rows])
        return h.linear(weight: score.weight.value).reshaped([rows])
    }

    /// Scores each token sequence (no padding needed, no gradient): the reward of the whole text.
    /// This is the API `align judge --reward` builds on.
    public func score(_ sequences: [[Int32]], batchSize: Int = 8) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(sequences.count)
        for start in stride(from: 0, to: sequences.count, by: max(1, batchSize)) {
            let chunk = sequences[start..<min(start + max(1, batchSize), sequences.count)]
            let length = max(1, chunk.map(\.count).max() ?? 1)
            var ids = [Int32](repeating: padTokenID, count: chunk.count * length)
            var mask = [Float](repeating: 0, count: chunk.count * length)
            var positions: [Int] = []
            for (r, s) in chunk.enumerated() {
                for (t, id) in s.enumerated() { ids[r * length + t] = id; mask[r * length + t] = 1 }
                positions.append(max(0, s.count - 1))
            }
            // Here the row lengths are known, so read the reward at each row's true last token even
            // when the text itself ends with the pad id.
            let values: [Float] = withNoGrad {
                let hidden = body.hiddenStates(ids: ids, batch: chunk.count, seq: length, attentionMask: nil, positions: nil)
                let gather = positions.enumerated().map { Int32($0.offset * length + $0.element) }
                let h = hidden.reshaped([chunk.count * length, body.hiddenSize]).embedding(ids: gather, shape: [chunk.count])
                return h.linear(weight: score.weight.value).reshaped([chunk.count]).toArray()
            }
            out += values
        }
        return out
    }

    /// Scores each completion of `prompt`, tokenised exactly as ``RewardTrainer`` trains (the
    /// EOS text appended to plain-text completions, prompt + completion as one sequence; message
    /// lists rendered with the chat template). For `align judge --reward`.
    public func score(prompt: ExampleContent, completions: [ExampleContent], encoder: ExampleEncoder,
                      batchSize: Int = 8) throws -> [Float] {
        let dataset = PreferenceDataset(examples: completions.map { PreferenceExample(prompt: prompt, chosen: $0, rejected: $0) })
        let (pairs, _) = try dataset.tokenizedForReward(encoder: encoder, maxLength: nil)
        return score(pairs.map(\.chosenIDs), batchSize: batchSize)
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        body.forEachParameter(prefix: prefix, visit)
        AlignNN.visit(score, "score", prefix: prefix, visit)
    }

    /// The `config.json` transformers writes for the sequence-classification model: the source
    /// folder's keys (when given) with `architectures` set to the `…ForSequenceClassification`
    /// class of the family, one label (`id2label`/`label2id` as transformers writes them,
    /// `num_labels` 1), `pad_token_id` and `dtype` float32.
    public func huggingFaceConfiguration(sourceDirectory: URL? = nil) throws -> JSONDocument {
        var document: JSONDocument
        if let source = sourceDirectory?.appendingPathComponent("config.json"), FileManager.default.fileExists(atPath: source.path) {
            document = try JSONDocument(contentsOf: source)
        } else {
            document = try body.huggingFaceConfiguration()
        }
        let family: String
        switch body.configuration.modelType {
        case "qwen2": family = "Qwen2"
        case "mistral": family = "Mistral"
        default: family = "Llama"
        }
        struct Head: Encodable {
            var architectures: [String]
            var id2label = ["0": "LABEL_0"]
            var label2id = ["LABEL_0": 0]
            var numLabels = 1
            var padTokenID: Int
            var dtype = "float32"
            enum CodingKeys: String, CodingKey {
                case architectures, id2label, label2id, numLabels = "num_labels", padTokenID = "pad_token_id", dtype
            }
        }
        document.merge(changesFrom: try JSONDocument(encoding: Head(architectures: ["\(family)ForSequenceClassification"],
                                                                    padTokenID: Int(padTokenID))),
                       insertingNewKeys: true)
        return document
    }

    /// Writes a Hugging Face sequence-classification folder: `model.safetensors` (fp32, the body
    /// without any LM head, plus `score.weight`), `config.json`, and the tokenizer files of
    /// `sourceDirectory` when given.
    public func save(to directory: URL, sourceDirectory: URL? = nil) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [SafetensorsWriter.Tensor] = []
        var seen = Set<ObjectIdentifier>()
        for (name, p) in namedParameters() where seen.insert(ObjectIdentifier(p)).inserted {
            let value = withNoGrad { p.value.copy() }
            tensors.append(SafetensorsWriter.Tensor(name: name, shape: value.shape, storage: value.storage))
        }
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
        try huggingFaceConfiguration(sourceDirectory: sourceDirectory).data().write(to: directory.appendingPathComponent("config.json"))
        if let sourceDirectory {
            for name in huggingFaceTokenizerFiles {
                let file = sourceDirectory.appendingPathComponent(name), target = directory.appendingPathComponent(name)
                guard fm.fileExists(atPath: file.path) else { continue }
                try? fm.removeItem(at: target)
                try fm.copyItem(at: file, to: target)
            }
        }
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
        try ModuleWeights.load(model, from: directory.appendingPathComponent("model.safetensors"))
    }
}
