import Foundation

/// Everything `align dpo` (and ``DPOTrainer``) is configured by, decodable from TRL-style
/// snake_case keys (YAML or JSON): the shared loop settings, the loss, and data handling.
public struct DPOConfiguration: Codable, Sendable, Hashable {
    public var training = TrainingConfiguration()
    public var loss = PreferenceLossConfiguration()
    /// Tokens kept per sequence (prompt + completion); TRL 1.x default 1024.
    public var maxLength: Int? = 1024
    /// Tokens kept of the prompt before the completion is cut (the original DPO repo's rule).
    public var maxPromptLength: Int?
    /// `keep_start` (TRL) or `keep_end`.
    public var truncationMode: String = "keep_start"
    /// `trl` (prompt+completion tokenised together, the default) or `separate` (the original repo).
    public var tokenization: String = "trl"
    /// Compute reference log-probs once before training, cached on disk.
    public var precomputeRefLogProbs: Bool = false
    /// Skip malformed data rows (counted) instead of stopping.
    public var skipBadRows: Bool = false
    /// Compute each pair's prompt once for its chosen and rejected completions (both attend to
    /// one copy; same results up to rounding). TRL runs the prompt twice.
    public var sharePrompt: Bool = true

    public init() {
        training.learningRate = 1e-6
        training.loggingSteps = 10
    }

    /// Keys this configuration reads, for rejecting unknown ones by name.
    public static var knownKeys: Set<String> {
        Set(TrainingConfiguration.CodingKeys.allKeyNames + LossKeys.allCases.map(\.rawValue) + DataKeys.allCases.map(\.rawValue))
    }

    enum LossKeys: String, CodingKey, CaseIterable {
        case beta, lossType = "loss_type", lossWeights = "loss_weights", labelSmoothing = "label_smoothing"
        case discopopTau = "discopop_tau", simpoGamma = "simpo_gamma", orpoLambda = "orpo_lambda"
        case fDivergenceType = "f_divergence_type", fAlphaDivergenceCoef = "f_alpha_divergence_coef"
    }

    enum DataKeys: String, CodingKey, CaseIterable {
        case maxLength = "max_length", maxPromptLength = "max_prompt_length", truncationMode = "truncation_mode"
        case tokenization, precomputeRefLogProbs = "precompute_ref_log_probs", skipBadRows = "skip_bad_rows"
        case sharePrompt = "share_prompt"
    }

    public init(from decoder: Decoder) throws {
        self.init()
        training = try TrainingConfiguration(from: decoder, defaults: training)
        let l = try decoder.container(keyedBy: LossKeys.self)
        loss.beta = try l.decodeIfPresent(Float.self, forKey: .beta) ?? loss.beta
        loss.labelSmoothing = try l.decodeIfPresent(Float.self, forKey: .labelSmoothing) ?? loss.labelSmoothing
        loss.discopopTau = try l.decodeIfPresent(Float.self, forKey: .discopopTau) ?? loss.discopopTau
        loss.simpoGamma = try l.decodeIfPresent(Float.self, forKey: .simpoGamma) ?? loss.simpoGamma
        loss.orpoLambda = try l.decodeIfPresent(Float.self, forKey: .orpoLambda) ?? loss.orpoLambda
        var names: [String]?
        if let one = try? l.decodeIfPresent(String.self, forKey: .lossType) {
            names = one.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        } else {
            names = try l.decodeIfPresent([String].self, forKey: .lossType)
        }
        let weights = try l.decodeIfPresent([Float].self, forKey: .lossWeights)
        if let names { try setLoss(types: names, weights: weights) } else if let weights { try setLoss(types: loss.terms.map(\.type.rawValue), weights: weights) }
        if let f = try l.decodeIfPresent(String.self, forKey: .fDivergenceType) {
            let alpha = try l.decodeIfPresent(Float.self, forKey: .fAlphaDivergenceCoef) ?? 0.5
            guard let parsed = FDivergence(trlName: f, alpha: alpha) else {
                throw TrainingError.invalidSetting(key: "f_divergence_type", message: "f_divergence_type \"\(f)\" (use reverse_kl, forward_kl, js_divergence, alpha_divergence)")
            }
            loss.fDivergence = parsed
        }
        let d = try decoder.container(keyedBy: DataKeys.self)
        if d.contains(.maxLength) { maxLength = try d.decodeIfPresent(Int.self, forKey: .maxLength) }
        maxPromptLength = try d.decodeIfPresent(Int.self, forKey: .maxPromptLength) ?? maxPromptLength
        truncationMode = try d.decodeIfPresent(String.self, forKey: .truncationMode) ?? truncationMode
        tokenization = try d.decodeIfPresent(String.self, forKey: .tokenization) ?? tokenization
        precomputeRefLogProbs = try d.decodeIfPresent(Bool.self, forKey: .precomputeRefLogProbs) ?? precomputeRefLogProbs
        skipBadRows = try d.decodeIfPresent(Bool.self, forKey: .skipBadRows) ?? skipBadRows
        sharePrompt = try d.decodeIfPresent(Bool.self, forKey: .sharePrompt) ?? sharePrompt
    }

    public func encode(to encoder: Encoder) throws {
        try training.encode(to: encoder)
        var l = encoder.container(keyedBy: LossKeys.self)
        try l.encode(loss.beta, forKey: .beta)
        try l.encode(loss.terms.map(\.type.rawValue), forKey: .lossType)
        try l.encode(loss.terms.map(\.weight), forKey: .lossWeights)
        try l.encode(loss.labelSmoothing, forKey: .labelSmoothing)
        try l.encode(loss.discopopTau, forKey: .discopopTau)
        try l.encode(loss.simpoGamma, forKey: .simpoGamma)
        try l.encode(loss.orpoLambda, forKey: .orpoLambda)
        var d = encoder.container(keyedBy: DataKeys.self)
        try d.encodeIfPresent(maxLength, forKey: .maxLength)
        try d.encodeIfPresent(maxPromptLength, forKey: .maxPromptLength)
        try d.encode(truncationMode, forKey: .truncationMode)
        try d.encode(tokenization, forKey: .tokenization)
        try d.encode(precomputeRefLogProbs, forKey: .precomputeRefLogProbs)
        try d.encode(skipBadRows, forKey: .skipBadRows)
        try d.encode(sharePrompt, forKey: .sharePrompt)
    }

    /// Sets the loss terms from TRL names and optional weights (default 1 each).
    public mutating func setLoss(types: [String], weights: [Float]?) throws {
        var parsed: [PreferenceLossType] = []
        for name in types {
            guard let t = PreferenceLossType(trlName: name) else {
                throw TrainingError.invalidSetting(key: "loss_type", message: "unknown loss_type \"\(name)\" (known: \(PreferenceLossType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            parsed.append(t)
        }
        let w = weights ?? parsed.map { _ in 1 }
        guard w.count == parsed.count else {
            throw TrainingError.invalidSetting(key: "loss_weights", message: "\(w.count) loss_weights for \(parsed.count) loss types")
        }
        loss.terms = zip(parsed, w).map { .init($0, weight: $1) }
    }

    /// Checks every setting.
    public func validate() throws {
        try training.validate()
        do { try loss.validate() } catch let error as PreferenceLossError {
            throw TrainingError.invalidSetting(key: error.key, message: error.description)
        }
        try requireSetting(["keep_start", "keep_end"].contains(truncationMode), "truncation_mode", "must be keep_start or keep_end, got \(truncationMode)")
        try requireSetting(["trl", "separate"].contains(tokenization), "tokenization", "must be trl or separate, got \(tokenization)")
        try validateLengths(maxLength: maxLength, maxPromptLength: maxPromptLength)
    }
}

extension TrainingConfiguration.CodingKeys: CaseIterable {
    static var allCases: [TrainingConfiguration.CodingKeys] {
        [.learningRate, .batchSize, .gradientAccumulationSteps, .numTrainEpochs, .maxSteps, .lrScheduler, .warmupSteps,
         .warmupRatio, .weightDecay, .optimizer, .adamBeta1, .adamBeta2, .adamEpsilon, .momentum, .maxGradNorm, .seed,
         .shuffle, .loggingSteps, .evalSteps, .saveSteps]
    }
    static var allKeyNames: [String] { allCases.map(\.stringValue) }
}
