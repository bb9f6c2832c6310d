import AlignData
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// KTO's loss variants, with TRL 1.16's names.
public enum KTOLossType: String, Codable, Sendable, CaseIterable {
    /// Kahneman–Tversky: desirable 1 − σ(β(h − z₀)), undesirable 1 − σ(β(z₀ − h)).
    case kto
    /// APO-zero, unpaired: desirable 1 − σ(βh), undesirable σ(βh); no KL estimate.
    case apoZeroUnpaired = "apo_zero_unpaired"

    /// Whether the loss uses the KL estimate z₀ (and so the mismatched KL forward passes).
    public var usesKL: Bool { self == .kto }
}

/// Everything `align kto` (and ``KTOTrainer``) is configured by, with TRL 1.16's `KTOConfig`
/// names and defaults (learning rate 1e-6, β 0.1, weights 1, max_length 1024, sequential order).
public struct KTOConfiguration: Codable, Sendable, Hashable {
    /// The shared loop's settings (KTO defaults: lr 1e-6, file order).
    public var training = TrainingConfiguration()
    /// `kto` or `apo_zero_unpaired`.
    public var lossType: KTOLossType = .kto
    /// β, the scale of the implied reward β·(log π − log π_ref).
    public var beta: Float = 0.1
    /// λ_D, the weight of desirable examples' losses.
    public var desirableWeight: Float = 1
    /// λ_U, the weight of undesirable examples' losses.
    public var undesirableWeight: Float = 1
    /// Tokens kept per sequence (prompt + completion, keeping the start).
    public var maxLength: Int? = 1024
    /// Skip malformed data rows instead of stopping.
    public var skipBadRows: Bool = false

    public init() {
        training.learningRate = 1e-6
        training.loggingSteps = 10
        // KTOConfig defaults to a sequential sampler: its KL pairs depend on row order.
        training.shuffle = false
    }

    enum Keys: String, CodingKey, CaseIterable {
        case lossType = "loss_type", beta, desirableWeight = "desirable_weight", undesirableWeight = "undesirable_weight"
        case maxLength = "max_length", skipBadRows = "skip_bad_rows"
    }

    /// Keys this configuration reads.
    public static var knownKeys: Set<String> {
        Set(TrainingConfiguration.CodingKeys.allKeyNames + Keys.allCases.map(\.rawValue))
    }

    public init(from decoder: Decoder) throws {
        self.init()
        training = try TrainingConfiguration(from: decoder, defaults: training)
        let c = try decoder.container(keyedBy: Keys.self)
        if let name = try c.decodeIfPresent(String.self, forKey: .lossType) {
            guard let t = KTOLossType(rawValue: name) else {
                throw TrainingError.invalidSetting(key: "loss_type", message: "unknown KTO loss_type \"\(name)\" (known: \(KTOLossType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            lossType = t
        }
        beta = try c.decodeIfPresent(Float.self, forKey: .beta) ?? beta
        desirableWeight = try c.decodeIfPresent(Float.self, forKey: .desirableWeight) ?? desirableWeight
        undesirableWeight = try c.decodeIfPresent(Float.self, forKey: .undesirableWeight) ?? undesirableWeight
        if c.contains(.maxLength) { maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) }
        skipBadRows = try c.decodeIfPresent(Bool.self, forKey: .skipBadRows) ?? skipBadRows
    }

    public func encode(to encoder: Encoder) throws {
        try training.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(lossType, forKey: .lossType)
        try c.encode(beta, forKey: .beta)
        try c.encode(desirableWeight, forKey: .desirableWeight)
        try c.encode(undesirableWeight, forKey: .undesirableWeight)
        try c.encodeIfPresent(maxLength, forKey: .maxLength)
        try c.encode(skipBadRows, forKey: .skipBadRows)
    }

    /// Checks every setting.
    public func validate() throws {
        try training.validate()
        try requireSetting(beta > 0, "beta", "must be > 0, got \(beta)")
        try requireSetting(desirableWeight >= 0, "desirable_weight", "must be ≥ 0, got \(desirableWeight)")
        try requireSetting(undesirableWeight >= 0, "undesirable_weight", "must be ≥ 0, got \(undesirableWeight)")
        try validateLengths(maxLength: maxLength, maxPromptLength: nil)
    }

    /// The KTO paper's advice: λ_D·n_D / (λ_U·n_U) should lie in [1, 4/3]. Returns a warning
    /// naming the ratio and the weights that would fix it, or nil when it is in range.
    public func weightRatioWarning(desirable nD: Int, undesirable nU: Int) -> String? {
        guard nD > 0, nU > 0, undesirableWeight > 0 else { return nil }
        let ratio = Double(desirableWeight) * Double(nD) / (Double(undesirableWeight) * Double(nU))
        // TRL rounds its bounds to two decimals; compare with the same slack.
        guard ratio < 1 - 5e-3 || ratio > 4.0 / 3.0 + 5e-3 else { return nil }
        let low = Double(undesirableWeight) * Double(nU) / Double(nD), high = low * 4 / 3
        return String(format: "desirable_weight·n_desirable / (undesirable_weight·n_undesirable) = %.3f is outside the recommended [1, 4/3] (%d desirable, %d undesirable); try desirable_weight in [%.2f, %.2f]",
                      ratio, nD, nU, low, high)
    }
}

/// One KTO forward pass on a batch of unpaired examples: the policy's summed completion log-probs,
/// the loss against reference log-probs and the KL estimate z₀, and TRL's metrics.
public struct KTOObjective: Sendable {
    /// The loss variant.
    public var lossType: KTOLossType
    /// β.
    public var beta: Float
    /// λ_D.
    public var desirableWeight: Float
    /// λ_U.
    public var undesirableWeight: Float

    /// An objective with TRL's defaults.
    public init(lossType: KTOLossType = .kto, beta: Float = 0.1, desirableWeight: Float = 1, undesirableWeight: Float = 1) {
        self.lossType = lossType; self.beta = beta
        self.desirableWeight = desirableWeight; self.undesirableWeight = undesirableWeight
    }

    /// Summed log-probs of `rows` under `model`, without a graph.
    public static func logProbs(model: some CausalLanguageModel, rows: TokenRows) -> [Float] {
        withNoGrad { SequenceLogProbs.compute(model: model, rows: rows).logps }.toArray()
    }

    /// z₀ = max(0, mean over KL rows of log π(KL) − log π_ref(KL)), detached.
    public static func klEstimate(policyLogps: [Float], referenceLogps: [Float]) -> Float {
        guard !policyLogps.isEmpty else { return 0 }
        let mean = zip(policyLogps, referenceLogps).reduce(0.0) { $0 + Double($1.0 - $1.1) } / Double(policyLogps.count)
        return Float(max(0, mean))
    }

    /// Adds `rewards/margins` (chosen minus rejected mean reward) to averaged metrics.
    public static func completeMetrics(_ averages: inout [String: Double]) {
        if let c = averages["rewards/chosen"], let r = averages["rewards/rejected"] { averages["rewards/margins"] = c - r }
    }

    /// Loss (mean over the batch's rows of the weighted per-row losses, times `scale`) and metrics.
    /// - Parameters:
    ///   - labels: true for desirable rows.
    ///   - kl: z₀ (ignored by `apo_zero_unpaired`, which logs `kl` 0).
    public func evaluate(policy: some CausalLanguageModel, batch: TokenRows, labels: [Bool], referenceLogps: [Float],
                         kl: Float, scale: Float = 1) -> (loss: Tensor, metrics: StepMetrics, policyLogps: [Float]) {
        let n = batch.rows
        precondition(labels.count == n && referenceLogps.count == n, "one label and reference log-prob per row")
        let (logps, stats) = SequenceLogProbs.compute(model: policy, rows: batch, statistics: true)
        let z0: Float = lossType.usesKL ? kl : 0
        // Both losses are w·(1 − σ(s·β(h − z₀))) with s = +1 for desirable rows and −1 otherwise
        // (APO-zero is the same form with z₀ = 0).
        let sign = Tensor(shape: [n], values: labels.map { $0 ? 1 : -1 })
        let weights = labels.map { $0 ? desirableWeight : undesirableWeight }
        let h = logps - Tensor(shape: [n], values: referenceLogps)
        let z = ((h - z0) * beta) * sign
        let perRow = (1 - z.sigmoid()) * Tensor(shape: [n], values: weights)
        let loss = perRow.mean() * scale
        let policy = logps.toArray()
        var m = StepMetrics()
        m.add("loss", Double(loss.item() / scale))
        m.add("kl", Double(z0))
        for i in 0..<n {
            let reward = Double(beta * (policy[i] - referenceLogps[i]))
            m.add(labels[i] ? "rewards/chosen" : "rewards/rejected", sum: reward, weight: 1)
            m.add(labels[i] ? "logps/chosen" : "logps/rejected", sum: Double(policy[i]), weight: 1)
            // Empty groups still register (weight 0) so they log as 0, as TRL does.
            m.add(labels[i] ? "rewards/rejected" : "rewards/chosen", sum: 0, weight: 0)
            m.add(labels[i] ? "logps/rejected" : "logps/chosen", sum: 0, weight: 0)
        }
        if let stats {
            for r in 0..<n {
                m.add(labels[r] ? "logits/chosen" : "logits/rejected", sum: stats.logitSum[r], weight: stats.tokens[r])
                m.add(labels[r] ? "logits/rejected" : "logits/chosen", sum: 0, weight: 0)
                m.add("entropy", sum: stats.entropySum[r], weight: stats.tokens[r])
            }
        }
        return (loss, m, policy)
    }
}

/// KTO as a ``TrainingObjective`` on the shared loop.
///
/// z₀ comes from mismatched pairs: within the examples of one optimiser step (in order), the KL
/// sequence of example i is its own prompt followed by example i−1's completion, cyclically — TRL's
/// rule for the chunk of a batch, so with sequential order and no accumulation the pairs are TRL's.
/// z₀ is estimated once over the whole step, so gradient accumulation gives the same update as one
/// large batch. A step of a single example (batch size 1, which TRL refuses) pairs it with the
/// completion of the previous example of the data set instead, so z₀ still comes from a mismatched
/// pair; an odd step size needs nothing special (the cycle just has odd length).
public final class KTOTrainer: TrainingObjective {
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
    let objective: KTOObjective
    let saveModelHandler: (URL) throws -> Void
    /// z₀ of the current optimiser step, and how many micro-batches have been trained (the loop
    /// runs a step's micro-batches back to back, so the first of each step re-estimates z₀).
    var stepKL: Float = 0
    var microBatchesSeen = 0

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
        self.objective = KTOObjective(lossType: configuration.lossType, beta: configuration.beta,
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

    /// Runs training into `outputDirectory`.
    @discardableResult
    public func train(outputDirectory: URL, resume: Bool = false, progress: ((String) -> Void)? = nil,
                      onLog: (([String: Double]) -> Void)? = nil) throws -> Trainer.Summary {
        let trainer = Trainer(objective: self, configuration: configuration.training, outputDirectory: outputDirectory)
        if let progress { trainer.progress = progress }
        trainer.onLog = onLog
        return try trainer.train(resume: resume)
    }

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
        let withKL = Self.withKLCompletions(indices, from: examples)
        var p: [Float] = [], r: [Float] = []
        let size = configuration.training.batchSize
        for start in stride(from: 0, to: withKL.count, by: size) {
            guard let kl = Self.rows(collator.collate(withKL[start..<min(start + size, withKL.count)])).kl else { continue }
            p += KTOObjective.logProbs(model: policy, rows: kl)
            r += KTOObjective.logProbs(model: reference, rows: kl)
        }
        return KTOObjective.klEstimate(policyLogps: p, referenceLogps: r)
    }

    public func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics) {
        var kl: Float = 0
        if configuration.lossType.usesKL {
            // The policy changes only between steps, so one estimate serves every micro-batch.
            let perStep = (stepExamples.count + configuration.training.batchSize - 1) / configuration.training.batchSize
            if microBatchesSeen % max(1, perStep) == 0 { stepKL = klEstimate(stepExamples, examples: trainExamples) }
            kl = stepKL
        }
        microBatchesSeen += 1
        let main = Self.rows(collator.collate(examples.map { trainExamples[$0] })).main
        let ref = KTOObjective.logProbs(model: reference, rows: main)
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
            let ref = KTOObjective.logProbs(model: reference, rows: main)
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
        KTOObjective.completeMetrics(&averages)
    }

    public func describeExample(_ index: Int) -> String {
        trainExamples[index].location?.description ?? "example \(index)"
    }

    public func saveModel(to directory: URL) throws { try saveModelHandler(directory) }

    public func loadModel(from directory: URL) throws {
        try policy.loadWeights(from: directory)
    }
}
