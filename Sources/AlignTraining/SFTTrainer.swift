import AlignData
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// Everything `align sft` (and ``SFTTrainer``) is configured by, with TRL 1.16's `SFTConfig`
/// names and defaults (learning rate 2e-5, max_length 1024, keep_start, no packing).
public struct SFTConfiguration: Codable, Sendable, Hashable {
    /// The shared loop's settings (SFT default lr 2e-5).
    public var training = TrainingConfiguration()
    /// Tokens kept per example (cut at preparation), or the packed row length.
    public var maxLength: Int? = 1024
    /// `keep_start` or `keep_end`.
    public var truncationMode: String = "keep_start"
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

    enum Keys: String, CodingKey, CaseIterable {
        case maxLength = "max_length", truncationMode = "truncation_mode", packing
        case completionOnlyLoss = "completion_only_loss", skipBadRows = "skip_bad_rows"
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
        truncationMode = try c.decodeIfPresent(String.self, forKey: .truncationMode) ?? truncationMode
        packing = try c.decodeIfPresent(Bool.self, forKey: .packing) ?? packing
        completionOnlyLoss = try c.decodeIfPresent(Bool.self, forKey: .completionOnlyLoss)
        skipBadRows = try c.decodeIfPresent(Bool.self, forKey: .skipBadRows) ?? skipBadRows
    }

    public func encode(to encoder: Encoder) throws {
        try training.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encodeIfPresent(maxLength, forKey: .maxLength)
        try c.encode(truncationMode, forKey: .truncationMode)
        try c.encode(packing, forKey: .packing)
        try c.encodeIfPresent(completionOnlyLoss, forKey: .completionOnlyLoss)
        try c.encode(skipBadRows, forKey: .skipBadRows)
    }

    /// Checks every setting.
    public func validate() throws {
        try training.validate()
        try requireSetting(["keep_start", "keep_end"].contains(truncationMode), "truncation_mode", "must be keep_start or keep_end, got \(truncationMode)")
        try validateLengths(maxLength: maxLength, maxPromptLength: nil)
        try requireSetting(!packing || maxLength != nil, "packing", "needs max_length (the row length)")
    }
}

/// The causal-LM (negative log-likelihood) loss of SFT on one batch, with TRL's metrics.
public enum SFTObjective {
    /// The batch as scored rows: `completionMask` marks the labelled tokens. A packed batch is
    /// laid out as one row per packed segment: the attention kernel has no block-diagonal mask,
    /// and running each segment on its own is exactly what the mask would compute (positions
    /// restart at 0, no token sees another example).
    public static func rows(_ batch: SFTBatch, padID: Int32) -> TokenRows {
        guard let segments = batch.segmentIDs else {
            return TokenRows(ids: batch.inputIDs, attentionMask: batch.attentionMask, completionMask: batch.lossMask,
                             rows: batch.rowCount, length: batch.length)
        }
        var spans: [Range<Int>] = []
        for r in 0..<batch.rowCount {
            var t = 0
            while t < batch.length {
                let id = segments[r * batch.length + t]
                guard id >= 0 else { t += 1; continue }
                var end = t + 1
                while end < batch.length && segments[r * batch.length + end] == id { end += 1 }
                spans.append((r * batch.length + t)..<(r * batch.length + end))
                t = end
            }
        }
        let length = max(1, spans.map(\.count).max() ?? 1)
        var ids = [Int32](repeating: padID, count: spans.count * length)
        var attention = [Float](repeating: 0, count: ids.count), completion = [Float](repeating: 0, count: ids.count)
        for (row, span) in spans.enumerated() {
            for (k, i) in span.enumerated() {
                ids[row * length + k] = batch.inputIDs[i]
                attention[row * length + k] = 1
                completion[row * length + k] = batch.lossMask[i]
            }
        }
        return TokenRows(ids: ids, attentionMask: attention, completionMask: completion, rows: spans.count, length: length)
    }

    /// Loss Σ(−log p(label)) / `tokenNormalizer` over the batch's labelled tokens (by default the
    /// batch's own count: transformers' causal-LM loss), and TRL's metrics `loss`,
    /// `mean_token_accuracy` and `entropy` (token-weighted, so windows combine exactly).
    public static func evaluate(model: some CausalLanguageModel, rows: TokenRows, tokenNormalizer: Float? = nil)
        -> (loss: Tensor, metrics: StepMetrics) {
        let (logps, stats) = SequenceLogProbs.compute(model: model, rows: rows, statistics: true)
        let tokens = rows.completionLengths.reduce(0, +)
        let normalizer = max(tokenNormalizer ?? tokens, 1)
        let loss = logps.sum() * (-1 / normalizer)
        var m = StepMetrics()
        m.add("loss", sum: -Double(logps.sum().item()), weight: Double(tokens))
        if let stats {
            for r in 0..<rows.rows {
                m.add("mean_token_accuracy", sum: stats.top1[r], weight: stats.tokens[r])
                m.add("entropy", sum: stats.entropySum[r], weight: stats.tokens[r])
            }
        }
        return (loss, m)
    }
}

/// Supervised fine-tuning as a ``TrainingObjective`` on the shared loop: sequences from
/// ``LanguageModelingDataset/tokenizedForSFT(encoder:options:completionOnlyLoss:packed:)``,
/// optionally packed. The loss is a token mean over every labelled token of the optimiser step,
/// so gradient accumulation gives the same update as one large batch.
public final class SFTTrainer: TrainingObjective {
    /// The model being trained.
    public let model: any CausalLanguageModel
    /// The run's settings.
    public let configuration: SFTConfiguration
    /// Training units: one sequence each, or one packed row each.
    let trainUnits: [TokenizedSequence]
    let trainPacked: [PackedSequence]?
    let evalUnits: [TokenizedSequence]
    let collator: SFTCollator
    let padID: Int32
    let saveModelHandler: (URL) throws -> Void

    /// - Parameters:
    ///   - trainSequences: prepared sequences (cut to `maxLength` unless packing).
    ///   - saveModel: writes the model in Hugging Face layout into a folder.
    public init(model: any CausalLanguageModel, configuration: SFTConfiguration, trainSequences: [TokenizedSequence],
                evalSequences: [TokenizedSequence] = [], padID: Int32, saveModel: @escaping (URL) throws -> Void) throws {
        try configuration.validate()
        self.model = model
        self.configuration = configuration
        self.trainUnits = trainSequences
        self.trainPacked = configuration.packing ? packSequences(trainSequences, length: configuration.maxLength!) : nil
        self.evalUnits = evalSequences
        self.collator = SFTCollator(padID: padID)
        self.padID = padID
        self.saveModelHandler = saveModel
        if configuration.packing, let rowLength = configuration.maxLength, rowLength > model.maxSequenceLength {
            // Packed rows fill max_length whatever the examples' own lengths.
            throw TrainingError.invalidSetting(key: "max_length", message: "max_length (\(rowLength)) is the packed row length and must be at most the model's \(model.maxSequenceLength) positions")
        }
        for sequences in [trainSequences, evalSequences] where !configuration.packing {
            try requireSequencesFit(sequences.map { ($0.inputIDs.count, $0.location) }, model: model)
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

    public var trainExampleCount: Int { trainPacked?.count ?? trainUnits.count }
    public var evalExampleCount: Int { evalUnits.count }
    public var trainableParameters: [(name: String, parameter: Parameter)] { model.trainableParameters() }
    public func prepare(log: (String) -> Void) throws {
        if let packed = trainPacked {
            log("packing: \(trainUnits.count) sequences into \(packed.count) rows of ≤ \(configuration.maxLength!) tokens")
        }
    }

    func batch(_ examples: [Int]) -> TokenRows {
        if let packed = trainPacked {
            return SFTObjective.rows(collator.collate(packed: examples.map { packed[$0] }, length: configuration.maxLength!), padID: padID)
        }
        return SFTObjective.rows(collator.collate(examples.map { trainUnits[$0] }), padID: padID)
    }

    /// Labelled (scored) tokens of a training unit. The first token of a sequence is never
    /// scored (nothing predicts it), and packing drops the label of each segment's first token.
    func labelledTokens(_ i: Int) -> Int {
        if let packed = trainPacked {
            var count = 0, offset = 0
            for length in packed[i].segmentLengths {
                for k in 1..<max(1, length) where packed[i].labels[offset + k] != ignoredLabel { count += 1 }
                offset += length
            }
            return count
        }
        return trainUnits[i].labels.dropFirst().reduce(0) { $0 + ($1 == ignoredLabel ? 0 : 1) }
    }

    public func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics) {
        // A token mean over the whole step: every micro-batch divides by the step's token count, so
        // the summed gradients equal one batch's (`scale` is already folded into that).
        let stepTokens = Float(stepExamples.reduce(0) { $0 + labelledTokens($1) })
        return SFTObjective.evaluate(model: model, rows: batch(examples), tokenNormalizer: stepTokens)
    }

    public func evaluationMetrics(examples: [Int]) throws -> StepMetrics {
        withNoGrad { SFTObjective.evaluate(model: model, rows: SFTObjective.rows(collator.collate(examples.map { evalUnits[$0] }), padID: padID)).metrics }
    }

    public func tokenCount(examples: [Int]) -> Int {
        examples.reduce(0) { $0 + (trainPacked?[$1].inputIDs.count ?? trainUnits[$1].inputIDs.count) }
    }

    public func describeExample(_ index: Int) -> String {
        if trainPacked != nil { return "packed row \(index)" }
        return trainUnits[index].location?.description ?? "example \(index)"
    }

    public func saveModel(to directory: URL) throws { try saveModelHandler(directory) }

    public func loadModel(from directory: URL) throws {
        try model.loadWeights(from: directory)
    }
}
