import AlignData
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// KTO as a ``TrainingObjective`` on the shared loop.
///
/// z₀ comes from mismatched pairs: within the examples of one optimiser step (in order), the KL
/// sequence of example i is its own prompt followed by example i−1's completion, cyclically — TRL's
/// rule for the chunk of a batch, so with sequential order and no accumulation the pairs are TRL's.
/// z₀ is estimated once over the whole step, so gradient accumulation gives the same update as one
/// large batch. A step of a single example (batch size 1, which TRL refuses) pairs it with the
/// completion of the previous example of the data set instead, so z₀ still comes from a mismatched
/// pair; an odd step size needs nothing special (the cycle just has odd length).
///
/// Under data parallelism each rank scores the KL sequences of its own share of the step in
/// ``prepareStep(_:)-(StepShare)`` and the per-example log-ratios are gathered exactly
/// (``StepShare/gather(_:)``), so z₀ is the global step's, computed as one process computes it.
public final class KTOObjective: TrainingObjective {
    /// The model being trained.
    public let policy: any CausalLanguageModel
    /// The frozen reference.
    public let reference: any CausalLanguageModel
    /// The run's settings.
    public let configuration: KTOConfiguration
    /// Prepared training examples (KL completions are assigned per step, see above).
    public let trainExamples: [TokenizedUnpaired]
    /// Prepared evaluation examples.
    public let evalExamples: [TokenizedUnpaired]
    let collator: UnpairedCollator
    let objective: KTOLoss
    let saveModelHandler: (URL) throws -> Void
    /// z₀ of the current optimiser step and the step's examples it was estimated over (set by
    /// ``prepareStep(_:)-(StepShare)``; a direct call of ``trainingLoss(examples:stepExamples:scale:)``
    /// for other examples estimates it on the spot).
    var stepKL: (examples: [Int], kl: Float)?

    /// - Parameters:
    ///   - reference: the frozen reference (any causal LM with the same tokenizer).
    ///   - saveModel: writes the policy in Hugging Face layout into a folder.
    public init(policy: any CausalLanguageModel, reference: any CausalLanguageModel, configuration: KTOConfiguration,
                trainExamples: [TokenizedUnpaired], evalExamples: [TokenizedUnpaired] = [], padID: Int32,
                saveModel: @escaping (URL) throws -> Void) throws {
        try configuration.validate()
        self.policy = policy
        self.reference = reference
        self.configuration = configuration
        self.trainExamples = trainExamples
        self.evalExamples = evalExamples
        self.collator = UnpairedCollator(padID: padID, maxLength: configuration.maxLength)
        self.objective = KTOLoss(lossType: configuration.lossType, beta: configuration.beta,
                                      desirableWeight: configuration.desirableWeight, undesirableWeight: configuration.undesirableWeight)
        self.saveModelHandler = saveModel
        for examples in [trainExamples, evalExamples] {
            let lengths = examples.map { e -> (Int, RowLocation?) in
                let longest = e.promptIDs.count + max(e.completionIDs.count, e.klCompletionIDs?.count ?? 0)
                return (min(longest, configuration.maxLength ?? longest), e.location)
            }
            try requireSequencesFit(lengths, model: policy)
            try requireSequencesFit(lengths, model: reference)
        }
    }

    public var trainingConfiguration: TrainingConfiguration { configuration.training }

    public var trainExampleCount: Int { trainExamples.count }
    public var evalExampleCount: Int { evalExamples.count }
    public var trainableParameters: [(name: String, parameter: Parameter)] { policy.trainableParameters() }

    public func prepare(log: (String) -> Void) throws {
        let nD = trainExamples.filter(\.label).count
        if let warning = configuration.weightRatioWarning(desirable: nD, undesirable: trainExamples.count - nD) {
            log("warning: " + warning)
        }
        if nD == 0 || nD == trainExamples.count {
            log("warning: the training data has only \(nD == 0 ? "undesirable" : "desirable") examples")
        }
        if configuration.lossType.usesKL && trainExamples.count == 1 {
            log("warning: one training example: its KL sequence is its own completion, so z₀ equals its implied reward")
        }
    }

    /// The examples of `indices` with their KL completions set by the rule above.
    static func withKLCompletions(_ indices: [Int], from examples: [TokenizedUnpaired]) -> [TokenizedUnpaired] {
        var out = indices.map { examples[$0] }
        if indices.count == 1 {
            let i = indices[0]
            out[0].klCompletionIDs = examples[(i + examples.count - 1) % examples.count].completionIDs
            return out
        }
        for k in out.indices { out[k].klCompletionIDs = examples[indices[(k + indices.count - 1) % indices.count]].completionIDs }
        return out
    }

    /// Main and KL rows of a collated batch.
    static func rows(_ b: UnpairedBatch) -> (main: TokenRows, kl: TokenRows?) {
        let main = TokenRows(ids: b.inputIDs, attentionMask: b.attentionMask, completionMask: b.completionMask,
                             rows: b.rowCount, length: b.length)
        guard let ids = b.klInputIDs, let att = b.klAttentionMask, let comp = b.klCompletionMask else { return (main, nil) }
        return (main, TokenRows(ids: ids, attentionMask: att, completionMask: comp, rows: b.rowCount, length: b.klLength))
    }

    /// z₀ over the KL sequences of `indices` (in micro-batches of the configured size).
    func klEstimate(_ indices: [Int], examples: [TokenizedUnpaired]) -> Float {
        let (p, r) = klLogProbs(Self.withKLCompletions(indices, from: examples))
        return KTOLoss.klEstimate(policyLogps: p, referenceLogps: r)
    }

    /// Policy and reference log-probs of the KL sequences of `withKL` (micro-batches of the batch size).
    func klLogProbs(_ withKL: [TokenizedUnpaired]) -> (policy: [Float], reference: [Float]) {
        var p: [Float] = [], r: [Float] = []
        let size = configuration.training.batchSize
        for start in stride(from: 0, to: withKL.count, by: size) {
            guard let kl = Self.rows(collator.collate(withKL[start..<min(start + size, withKL.count)])).kl else { continue }
            p += KTOLoss.logProbs(model: policy, rows: kl)
            r += KTOLoss.logProbs(model: reference, rows: kl)
        }
        return (p, r)
    }

    /// z₀ of the step, before its first micro-batch: this rank scores the KL sequences of its share
    /// (their KL completions follow the global step's cyclic rule), the log-ratios of the whole
    /// step are gathered in step order, and z₀ = max(0, their mean) as in one process.
    public func prepareStep(_ share: StepShare) throws {
        guard configuration.lossType.usesKL else { return }
        let all = Self.withKLCompletions(share.stepExamples, from: trainExamples)
        let (p, r) = klLogProbs(Array(all[share.localRange]))
        let ratios = share.gather(zip(p, r).map { Double($0.0 - $0.1) })
        stepKL = (share.stepExamples, KTOLoss.klEstimate(logRatios: ratios))
    }

    public func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics) {
        var kl: Float = 0
        if configuration.lossType.usesKL {
            // The policy changes only between steps, so one estimate serves every micro-batch.
            if let prepared = stepKL, prepared.examples == stepExamples {
                kl = prepared.kl
            } else {
                kl = klEstimate(stepExamples, examples: trainExamples)
            }
        }
        let main = Self.rows(collator.collate(examples.map { trainExamples[$0] })).main
        let ref = KTOLoss.logProbs(model: reference, rows: main)
        let r = objective.evaluate(policy: policy, batch: main, labels: examples.map { trainExamples[$0].label },
                                   referenceLogps: ref, kl: kl, scale: scale)
        if r.policyLogps.contains(where: { !$0.isFinite }) {
            // The trainer names the step and finds the rows (a NaN can spread across the batch).
            throw TrainingError.nonFinite(step: 0, what: "the policy log-prob", examples: [])
        }
        return (r.loss, r.metrics)
    }

    public func evaluationMetrics(examples: [Int]) throws -> StepMetrics {
        withNoGrad {
            let kl = configuration.lossType.usesKL ? klEstimate(examples, examples: evalExamples) : 0
            let main = Self.rows(collator.collate(examples.map { evalExamples[$0] })).main
            let ref = KTOLoss.logProbs(model: reference, rows: main)
            return objective.evaluate(policy: policy, batch: main, labels: examples.map { evalExamples[$0].label },
                                      referenceLogps: ref, kl: kl).metrics
        }
    }

    public func tokenCount(examples: [Int]) -> Int {
        let m = configuration.maxLength ?? Int.max
        return examples.reduce(0) { $0 + min(m, trainExamples[$1].promptIDs.count + trainExamples[$1].completionIDs.count) }
    }

    /// `rewards/margins` = windowed `rewards/chosen` − `rewards/rejected`, as TRL logs it.
    public func completeMetrics(_ averages: inout [String: Double]) {
        KTOLoss.completeMetrics(&averages)
    }

    public func describeExample(_ index: Int) -> String {
        trainExamples[index].location?.description ?? "example \(index)"
    }

    public func saveModel(to directory: URL) throws { try saveModelHandler(directory) }

    public func loadModel(from directory: URL) throws {
        try policy.loadWeights(from: directory)
    }
}
