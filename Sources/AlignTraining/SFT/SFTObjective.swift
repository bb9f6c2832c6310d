import AlignData
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// Supervised fine-tuning as a ``TrainingObjective`` on the shared loop: sequences from
/// ``LanguageModelingDataset/tokenizedForSFT(encoder:options:completionOnlyLoss:packed:)``,
/// optionally packed. The loss is a token mean over every labelled token of the optimiser step,
/// so gradient accumulation gives the same update as one large batch.
public final class SFTObjective: TrainingObjective {
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

    public var trainingConfiguration: TrainingConfiguration { configuration.training }

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
            return SFTLoss.rows(collator.collate(packed: examples.map { packed[$0] }, length: configuration.maxLength!), padID: padID)
        }
        return SFTLoss.rows(collator.collate(examples.map { trainUnits[$0] }), padID: padID)
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
        return SFTLoss.evaluate(model: model, rows: batch(examples), tokenNormalizer: stepTokens)
    }

    public func evaluationMetrics(examples: [Int]) throws -> StepMetrics {
        withNoGrad { SFTLoss.evaluate(model: model, rows: SFTLoss.rows(collator.collate(examples.map { evalUnits[$0] }), padID: padID)).metrics }
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
