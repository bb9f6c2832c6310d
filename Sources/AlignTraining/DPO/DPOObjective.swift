import AlignData
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// DPO (and its TRL relatives, SimPO, ORPO) as a ``TrainingObjective`` on the shared loop.
///
/// ```swift
/// let trainer = try DPOObjective(policy: model, reference: frozenCopy, configuration: config,
///                              trainPairs: pairs, padID: tokenizer.padTokenID ?? eos, saveModel: save)
/// try trainer.train(outputDirectory: out)
/// ```
/// Chosen and rejected sequences of a micro-batch go through one concatenated forward pass
/// ([chosen; rejected] on the batch axis); the reference runs under `withNoGrad`, or its
/// log-probs are computed once before training (``DPOConfiguration/precomputeRefLogProbs``).
public final class DPOObjective: TrainingObjective {
    public let policy: any CausalLanguageModel
    public let reference: (any CausalLanguageModel)?
    public let configuration: DPOConfiguration
    public let trainPairs: [TokenizedPair]
    public let evalPairs: [TokenizedPair]
    let collator: PreferenceCollator
    let objective: DPOLoss
    let saveModelHandler: (URL) throws -> Void
    /// Reference log-probs per train / eval example when precomputed.
    var precomputedTrain: DPOLoss.ReferenceLogProbs?
    var precomputedEval: DPOLoss.ReferenceLogProbs?
    /// Where precomputed reference log-probs are cached, and the key describing data + settings.
    public var referenceCache: (cache: ReferenceCache, dataKey: String)?

    /// - Parameters:
    ///   - reference: the frozen reference; nil means "the policy as it is now", which needs
    ///     precomputed reference log-probs (or a reference-free loss).
    ///   - saveModel: writes the policy in Hugging Face layout into a folder.
    public init(policy: any CausalLanguageModel, reference: (any CausalLanguageModel)?, configuration: DPOConfiguration,
                trainPairs: [TokenizedPair], evalPairs: [TokenizedPair] = [], padID: Int32,
                saveModel: @escaping (URL) throws -> Void) throws {
        try configuration.validate()
        if reference == nil && configuration.loss.needsReference && !configuration.precomputeRefLogProbs {
            throw TrainingError.invalidConfiguration("the loss needs a reference model: pass one or precompute reference log-probs")
        }
        self.policy = policy
        self.reference = reference
        self.configuration = configuration
        self.trainPairs = trainPairs
        self.evalPairs = evalPairs
        self.collator = PreferenceCollator(padID: padID, maxLength: configuration.maxLength,
                                           truncationMode: configuration.truncationMode)
        self.objective = DPOLoss(loss: configuration.loss, sharePrompt: configuration.sharePrompt)
        self.saveModelHandler = saveModel
        for pairs in [trainPairs, evalPairs] {
            try requireSequencesFit(pairs.map { (collatedLength($0), $0.location) }, model: policy, what: "pair")
            if let reference { try requireSequencesFit(pairs.map { (collatedLength($0), $0.location) }, model: reference, what: "pair") }
        }
    }

    /// The longer of a pair's two rows once the collator has cut it to `max_length`.
    func collatedLength(_ p: TokenizedPair) -> Int {
        let longest = p.promptIDs.count + max(p.chosenIDs.count, p.rejectedIDs.count)
        return min(longest, configuration.maxLength ?? longest)
    }

    public var trainingConfiguration: TrainingConfiguration { configuration.training }

    // MARK: TrainingObjective

    public var trainExampleCount: Int { trainPairs.count }
    public var evalExampleCount: Int { evalPairs.count }
    public var trainableParameters: [(name: String, parameter: Parameter)] { policy.trainableParameters() }

    public func prepare(log: (String) -> Void) throws {
        // A pair with no completion token left trains nothing: its loss is stuck at log 2 with zero
        // rewards (REFERENCE.md pitfall 2). Say so instead of letting it pass silently.
        let empty = trainPairs.indices.filter { let t = completionTokens(trainPairs[$0]); return t.chosen == 0 || t.rejected == 0 }
        if !empty.isEmpty {
            let shown = empty.prefix(5).map { trainPairs[$0].location?.description ?? "pair \($0)" }.joined(separator: ", ")
            log("warning: \(empty.count) pairs have no completion token left after truncation (\(shown)); they contribute a constant loss — raise max_length or shorten prompts")
        }
        guard configuration.precomputeRefLogProbs, configuration.loss.needsReference || reference != nil else { return }
        let model: any CausalLanguageModel = reference ?? policy
        func compute(_ pairs: [TokenizedPair], name: String) throws -> DPOLoss.ReferenceLogProbs {
            if pairs.isEmpty { return .init(chosen: [], rejected: []) }
            var key: String?
            if let (cache, dataKey) = referenceCache {
                key = ReferenceCache.key(reference: model,
                                         settings: "\(dataKey)|\(name)|\(configuration.maxLength ?? -1)|\(configuration.truncationMode.rawValue)|\(configuration.tokenization.rawValue)|\(configuration.maxPromptLength ?? -1)")
                if let hit = cache.load(key: key!, count: pairs.count) {
                    log("reference log-probs for \(name) read from the cache (\(pairs.count) pairs)")
                    return .init(chosen: hit.chosen, rejected: hit.rejected)
                }
            }
            log("precomputing reference log-probs for \(pairs.count) \(name) pairs")
            var chosen: [Float] = [], rejected: [Float] = []
            for start in stride(from: 0, to: pairs.count, by: configuration.training.batchSize) {
                let slice = pairs[start..<min(start + configuration.training.batchSize, pairs.count)]
                let r = DPOLoss.referenceLogProbs(model: model, batch: rows(collator.collate(slice)), sharePrompt: objective.sharePrompt)
                chosen += r.chosen; rejected += r.rejected
            }
            if let key, let (cache, _) = referenceCache { try cache.save(key: key, chosen: chosen, rejected: rejected) }
            return .init(chosen: chosen, rejected: rejected)
        }
        precomputedTrain = try compute(trainPairs, name: "train")
        precomputedEval = try compute(evalPairs, name: "eval")
    }

    func rows(_ b: PreferenceBatch) -> TokenRows {
        TokenRows(ids: b.inputIDs, attentionMask: b.attentionMask, completionMask: b.completionMask,
                  rows: b.rowCount, length: b.length)
    }

    func referenceLogProbs(_ examples: [Int], batch: TokenRows, eval: Bool) -> DPOLoss.ReferenceLogProbs? {
        if let pre = eval ? precomputedEval : precomputedTrain {
            return .init(chosen: examples.map { pre.chosen[$0] }, rejected: examples.map { pre.rejected[$0] })
        }
        guard let reference else { return nil }
        return DPOLoss.referenceLogProbs(model: reference, batch: batch, sharePrompt: objective.sharePrompt)
    }

    public func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics) {
        let batch = rows(collator.collate(examples.map { trainPairs[$0] }))
        let ref = referenceLogProbs(examples, batch: batch, eval: false)
        // `sft` and ORPO's NLL average over the chosen tokens of the whole optimiser step.
        let stepChosenTokens = Float(stepExamples.reduce(0) { $0 + completionTokens(trainPairs[$1]).chosen })
        let r = try objective.evaluate(policy: policy, batch: batch, reference: ref,
                                       sftTokenCount: stepChosenTokens * Float(examples.count) / Float(stepExamples.count),
                                       scale: scale)
        if r.policyLogps.contains(where: { !$0.isFinite }) {
            // The trainer names the step and finds the rows (a NaN can spread across the batch).
            throw TrainingError.nonFinite(step: 0, what: "the policy log-prob", examples: [])
        }
        return (r.loss, r.metrics)
    }

    public func evaluationMetrics(examples: [Int]) throws -> StepMetrics {
        try withNoGrad {
            let batch = rows(collator.collate(examples.map { evalPairs[$0] }))
            let ref = referenceLogProbs(examples, batch: batch, eval: true)
            return try objective.evaluate(policy: policy, batch: batch, reference: ref).metrics
        }
    }

    /// Completion tokens of a pair after the collator's truncation.
    func completionTokens(_ p: TokenizedPair) -> (chosen: Int, rejected: Int) {
        guard let m = configuration.maxLength else { return (p.chosenIDs.count, p.rejectedIDs.count) }
        if configuration.truncationMode == .keepEnd {
            return (min(p.chosenIDs.count, m), min(p.rejectedIDs.count, m))
        }
        return (max(0, min(p.chosenIDs.count, m - p.promptIDs.count)), max(0, min(p.rejectedIDs.count, m - p.promptIDs.count)))
    }

    public func tokenCount(examples: [Int]) -> Int {
        let m = configuration.maxLength ?? Int.max
        return examples.reduce(0) { sum, i in
            let p = trainPairs[i]
            return sum + min(m, p.promptIDs.count + p.chosenIDs.count) + min(m, p.promptIDs.count + p.rejectedIDs.count)
        }
    }

    public func describeExample(_ index: Int) -> String {
        trainPairs[index].location?.description ?? "pair \(index)"
    }

    public func saveModel(to directory: URL) throws { try saveModelHandler(directory) }

    public func loadModel(from directory: URL) throws {
        // In place, through the model's weight mapping: GPT-2 checkpoints store some weights transposed.
        try policy.loadWeights(from: directory)
    }
}
