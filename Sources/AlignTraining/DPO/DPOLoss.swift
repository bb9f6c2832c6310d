import AlignKernels
import AlignModels
import AlignTensor
import AlignSettings
import Foundation

/// The DPO family of preference losses, named as TRL names them (`loss_type`), plus the
/// reference-free SimPO and ORPO objectives.
public enum PreferenceLossType: String, CaseIterable, Sendable, Codable {
    case sigmoid, hinge, ipo
    case exoPair = "exo_pair", ncaPair = "nca_pair", robust
    case bcoPair = "bco_pair", sppoHard = "sppo_hard"
    case aot, aotUnpaired = "aot_unpaired"
    case apoZero = "apo_zero", apoDown = "apo_down", discopop
    case sft
    case sigmoidNorm = "sigmoid_norm"
    /// SimPO (Meng et al. 2024): −log σ(β(log π(y_w)/|y_w| − log π(y_l)/|y_l|) − γ), no reference.
    case simpo
    /// ORPO (Hong et al. 2024): NLL(y_w) − λ·log σ(log odds_w − log odds_l), no reference.
    case orpo

    /// Names TRL used before 1.x, accepted so old configs keep working.
    public init?(trlName: String) {
        switch trlName {
        case "aot_pair": self = .aot   // TRL 0.2x's paired AOT is 1.x's `aot`
        default: self.init(rawValue: trlName)
        }
    }

    /// Whether the loss compares against a reference model.
    public var needsReference: Bool {
        switch self {
        case .simpo, .orpo, .sft: return false
        default: return true
        }
    }
}

/// How log-ratios become scores before the loss (TRL's `f_divergence_type`).
public enum FDivergence: Sendable, Hashable, Codable {
    case reverseKL
    case forwardKL
    case jensenShannon
    case alpha(Float)

    /// Parses TRL's names: `reverse_kl`, `forward_kl`, `js_divergence`, `alpha_divergence`.
    public init?(trlName: String, alpha: Float = 0.5) {
        switch trlName {
        case "reverse_kl": self = .reverseKL
        case "forward_kl": self = .forwardKL
        case "js_divergence": self = .jensenShannon
        case "alpha_divergence": self = .alpha(alpha)
        default: return nil
        }
    }
}

/// Settings of a (possibly weighted, multi-term) preference loss.
public struct PreferenceLossConfiguration: Sendable, Hashable, Codable {
    /// Loss terms and their weights; the total is Σ weight · mean over the batch.
    public var terms: [Term]
    /// β: the strength of the KL regularisation towards the reference (TRL default 0.1).
    public var beta: Float = 0.1
    /// ε: label noise for `robust`, `exo_pair`, `aot`, `aot_unpaired`, and cDPO for `sigmoid`.
    ///
    /// TRL 1.x ignores it for `sigmoid`; Align applies conservative DPO
    /// −(1−ε)log σ(βΔ) − ε log σ(−βΔ) as TRL 0.2x and the cDPO note did, since a user who sets
    /// it on `sigmoid` asks for smoothing. With ε = 0 both agree exactly.
    public var labelSmoothing: Float = 0
    /// τ of DiscoPOP's mixing sigmoid.
    public var discopopTau: Float = 0.05
    /// γ of SimPO (the target reward margin).
    public var simpoGamma: Float = 0.5
    /// λ of ORPO (the weight of the odds-ratio term).
    public var orpoLambda: Float = 0.1
    /// The f-divergence whose derivative maps log-ratios to scores.
    public var fDivergence: FDivergence = .reverseKL

    /// One loss term.
    public struct Term: Sendable, Hashable, Codable {
        public var type: PreferenceLossType
        public var weight: Float
        public init(_ type: PreferenceLossType, weight: Float = 1) { self.type = type; self.weight = weight }
    }

    public init(terms: [Term] = [Term(.sigmoid)], beta: Float = 0.1, labelSmoothing: Float = 0) {
        self.terms = terms
        self.beta = beta
        self.labelSmoothing = labelSmoothing
    }

    /// Whether any term needs reference log-probs.
    public var needsReference: Bool { terms.contains { $0.type.needsReference } }

    /// Checks ranges the formulas need, with a message naming the setting.
    public func validate() throws {
        guard !terms.isEmpty else { throw PreferenceLossError(key: "loss_type", "no loss type given") }
        guard beta > 0 else { throw PreferenceLossError(key: "beta", "beta must be positive, got \(beta)") }
        for term in terms {
            switch term.type {
            case .robust where !(labelSmoothing >= 0 && labelSmoothing < 0.5):
                throw PreferenceLossError(key: "label_smoothing", "robust needs label_smoothing in [0, 0.5), got \(labelSmoothing)")
            case .exoPair where !(labelSmoothing > 0 && labelSmoothing < 1):
                throw PreferenceLossError(key: "label_smoothing", "exo_pair needs label_smoothing in (0, 1) (1e-3 is recommended), got \(labelSmoothing)")
            default:
                guard labelSmoothing >= 0 && labelSmoothing < 1 else {
                    throw PreferenceLossError(key: "label_smoothing", "label_smoothing must be in [0, 1), got \(labelSmoothing)")
                }
            }
        }
    }
}

/// A bad loss setting.
public struct PreferenceLossError: Error, CustomStringConvertible {
    /// The setting at fault (`beta`, `label_smoothing`, `loss_type`).
    public let key: String
    public let description: String
    public init(key: String, _ description: String) { self.key = key; self.description = description }
}

/// Per-example summed completion log-probs of a batch of preference pairs.
public struct PreferenceLogProbs {
    /// log π_θ(y_w|x), (B), differentiable.
    public var policyChosen: Tensor
    /// log π_θ(y_l|x), (B), differentiable.
    public var policyRejected: Tensor
    /// log π_ref(y_w|x), (B); nil for reference-free losses.
    public var referenceChosen: [Float]?
    /// log π_ref(y_l|x), (B).
    public var referenceRejected: [Float]?
    /// Completion token counts |y_w|, |y_l| per example.
    public var chosenLengths: [Float]
    public var rejectedLengths: [Float]
    /// Chosen completion tokens over which the `sft` / ORPO NLL term averages (the whole
    /// optimiser batch, so gradient accumulation equals one large batch).
    public var sftTokenCount: Float

    public init(policyChosen: Tensor, policyRejected: Tensor, referenceChosen: [Float]?, referenceRejected: [Float]?,
                chosenLengths: [Float], rejectedLengths: [Float], sftTokenCount: Float? = nil) {
        self.policyChosen = policyChosen; self.policyRejected = policyRejected
        self.referenceChosen = referenceChosen; self.referenceRejected = referenceRejected
        self.chosenLengths = chosenLengths; self.rejectedLengths = rejectedLengths
        self.sftTokenCount = sftTokenCount ?? chosenLengths.reduce(0, +)
    }

    /// Number of pairs.
    public var count: Int { policyChosen.count }
}

/// The loss of one batch and the TRL metrics that describe it.
public struct PreferenceLossResult {
    /// Σ_k weight_k · mean over the batch of the k-th term, scaled by `scale` (differentiable).
    public var loss: Tensor
    /// β·(log π_θ − log π_ref) per example for chosen and rejected (without reference log-probs:
    /// β·log π_θ / |y|, as SimPO and ORPO report).
    public var chosenRewards: [Float]
    public var rejectedRewards: [Float]
}

extension PreferenceLossConfiguration {
    /// Computes the loss. `scale` multiplies the total (1/accumulation steps when the batch is
    /// one micro-batch of several), and averages are over this batch's pairs. The settings are
    /// checked once, by ``validate()``, when the objective is built — not here, once per batch.
    public func loss(_ lp: PreferenceLogProbs, scale: Float = 1) throws -> PreferenceLossResult {
        let b = lp.count
        let pc = lp.policyChosen, pr = lp.policyRejected
        let lenW = Tensor(shape: [b], values: lp.chosenLengths.map { Swift.max($0, 1) })
        let lenL = Tensor(shape: [b], values: lp.rejectedLengths.map { Swift.max($0, 1) })
        var hw: Tensor?, hl: Tensor?
        if let rc = lp.referenceChosen, let rr = lp.referenceRejected {
            hw = pc - Tensor(shape: [b], values: rc)
            hl = pr - Tensor(shape: [b], values: rr)
        } else if needsReference {
            throw PreferenceLossError(key: "ref_model", "the loss needs reference log-probs but none were given")
        }
        func scores(_ h: Tensor) -> Tensor {
            switch fDivergence {
            case .reverseKL: return h
            case .forwardKL: return 1 - (-h).exp()
            case .jensenShannon: return h.logSigmoid() + Float(Foundation.log(2.0))
            case let .alpha(a):
                if abs(a - 1) < 1e-6 { return h }
                // f'(t) = (t^(α−1) − 1)/(α−1), exponent clamped at 80 as TRL does for fp32.
                let raw = h * (a - 1)
                let t = raw.maskedFill(Tensor(shape: raw.shape, values: raw.toArray().map { $0 > 80 ? 1 : 0 }), with: 80)
                return (t.exp() - 1) * (1 / (a - 1))
            }
        }
        let beta = self.beta, eps = labelSmoothing
        func cdpo(_ z: Tensor) -> Tensor {
            // −(1−ε) log σ(z) − ε log σ(−z)
            eps == 0 ? -z.logSigmoid() : z.logSigmoid() * -(1 - eps) - (-z).logSigmoid() * eps
        }
        func sorted(_ t: Tensor) -> Tensor {
            let values = t.toArray()
            let order = values.indices.sorted { values[$0] < values[$1] }.map(Int32.init)
            return t.reshaped([b, 1]).embedding(ids: order, shape: [b]).reshaped([b])
        }
        var total: Tensor?
        for term in terms {
            let perExample: Tensor
            switch term.type {
            case .sigmoid:
                perExample = cdpo((scores(hw!) - scores(hl!)) * beta)
            case .hinge:
                perExample = (1 - (scores(hw!) - scores(hl!)) * beta).relu()
            case .ipo:
                perExample = ((scores(hw!) / lenW - scores(hl!) / lenL) - 1 / (2 * beta)).square()
            case .exoPair:
                let z = (scores(hw!) - scores(hl!)) * beta
                let a = z.sigmoid() * (z.logSigmoid() - Float(Foundation.log1p(-Double(eps))))
                perExample = a + (-z).sigmoid() * ((-z).logSigmoid() - Float(Foundation.log(Double(eps))))
            case .ncaPair:
                let cw = hw! * beta, cl = hl! * beta
                perExample = -cw.logSigmoid() - (-cw).logSigmoid() * 0.5 - (-cl).logSigmoid() * 0.5
            case .robust:
                let z = (scores(hw!) - scores(hl!)) * beta
                perExample = (z.logSigmoid() * -(1 - eps) + (-z).logSigmoid() * eps) * (1 / (1 - 2 * eps))
            case .bcoPair:
                perExample = -(hw! * beta).logSigmoid() - (-(hl! * beta)).logSigmoid()
            case .sppoHard:
                perExample = (hw! - 0.5 / beta).square() + (hl! + 0.5 / beta).square()
            case .aot:
                let rc = Tensor(shape: [b], values: lp.referenceChosen!), rr = Tensor(shape: [b], values: lp.referenceRejected!)
                perExample = cdpoAlways((sorted(pc - pr) - sorted(rc - rr)) * beta, eps)
            case .aotUnpaired:
                perExample = cdpoAlways((sorted(hw!) - sorted(hl!)) * beta, eps)
            case .apoZero:
                perExample = (1 - (hw! * beta).sigmoid()) + (hl! * beta).sigmoid()
            case .apoDown:
                perExample = (hw! * beta).sigmoid() + (1 - ((hw! - hl!) * beta).sigmoid())
            case .discopop:
                let z = (scores(hw!) - scores(hl!)) * beta
                // The mixing weight depends on z too; gradients flow through it, as in TRL.
                let m = (z * (1 / discopopTau)).sigmoid()
                perExample = -z.logSigmoid() * (1 - m) + (-z).exp() * m
            case .sft:
                perExample = (pc.sum() * (-1 / Swift.max(lp.sftTokenCount, 1))).reshaped([1]) + Tensor.zeros([b])
            case .sigmoidNorm:
                perExample = -(((scores(hw!) / lenW) - (scores(hl!) / lenL)) * beta).logSigmoid()
            case .simpo:
                perExample = -(((pc / lenW) - (pr / lenL)) * beta - simpoGamma).logSigmoid()
            case .orpo:
                let aw = pc / lenW, al = pr / lenL
                // log odds(p) = log p − log(1 − p), with log p the mean token log-prob.
                let logOdds = (aw - al) - ((1 - aw.exp()).log() - (1 - al.exp()).log())
                let nll = (pc.sum() * (-1 / Swift.max(lp.sftTokenCount, 1))).reshaped([1]) + Tensor.zeros([b])
                perExample = nll - logOdds.logSigmoid() * orpoLambda
            }
            let contribution = perExample.mean() * (term.weight * scale)
            total = total.map { $0 + contribution } ?? contribution
        }
        let chosenRewards: [Float], rejectedRewards: [Float]
        if let hw, let hl {
            chosenRewards = hw.toArray().map { $0 * beta }
            rejectedRewards = hl.toArray().map { $0 * beta }
        } else {
            chosenRewards = zip(pc.toArray(), lp.chosenLengths).map { beta * $0 / Swift.max($1, 1) }
            rejectedRewards = zip(pr.toArray(), lp.rejectedLengths).map { beta * $0 / Swift.max($1, 1) }
        }
        return PreferenceLossResult(loss: total!, chosenRewards: chosenRewards, rejectedRewards: rejectedRewards)
    }
}

/// cDPO form used by AOT whatever ε is: −(1−ε) log σ(z) − ε log σ(−z).
private func cdpoAlways(_ z: Tensor, _ eps: Float) -> Tensor {
    z.logSigmoid() * -(1 - eps) - (-z).logSigmoid() * eps
}


/// One forward pass of DPO (or a relative) on a batch of pairs: the policy's summed completion
/// log-probs for [chosen; rejected] in a single concatenated pass, the loss against reference
/// log-probs, and TRL's metrics.
public struct DPOLoss: Sendable {
    public var loss: PreferenceLossConfiguration
    /// Compute each pair's common prompt once for chosen and rejected (see
    /// ``SequenceLogProbs/compute(model:rows:statistics:sharingPairPrefixes:)``).
    public var sharePrompt: Bool

    public init(loss: PreferenceLossConfiguration, sharePrompt: Bool = true) {
        self.loss = loss
        self.sharePrompt = sharePrompt
    }

    /// Reference log-probs for a batch's pairs, (B) each.
    public struct ReferenceLogProbs: Sendable {
        public var chosen: [Float], rejected: [Float]
        public init(chosen: [Float], rejected: [Float]) { self.chosen = chosen; self.rejected = rejected }
    }

    /// The reference model's log-probs for `batch` (2B rows: chosen then rejected), no graph.
    public static func referenceLogProbs(model: some CausalLanguageModel, batch: TokenRows, sharePrompt: Bool = true) -> ReferenceLogProbs {
        let logps = withNoGrad { SequenceLogProbs.compute(model: model, rows: batch, sharingPairPrefixes: sharePrompt).logps }.toArray()
        let b = batch.rows / 2
        return ReferenceLogProbs(chosen: Array(logps[0..<b]), rejected: Array(logps[b...]))
    }

    /// Loss (scaled by `scale`) and metrics for one micro-batch.
    /// - Parameters:
    ///   - batch: 2B rows, the B chosen sequences first, then the B rejected ones.
    ///   - sftTokenCount: chosen completion tokens in the whole optimiser step (for `sft`/ORPO).
    public func evaluate(policy: some CausalLanguageModel, batch: TokenRows, reference: ReferenceLogProbs?,
                         sftTokenCount: Float? = nil, scale: Float = 1) throws -> (loss: Tensor, metrics: StepMetrics, policyLogps: [Float]) {
        precondition(batch.rows % 2 == 0, "a preference batch has chosen and rejected rows")
        let (logps, stats) = SequenceLogProbs.compute(model: policy, rows: batch, statistics: true, sharingPairPrefixes: sharePrompt)
        return try evaluate(policyLogps: logps, statistics: stats, batch: batch, reference: reference,
                            sftTokenCount: sftTokenCount, scale: scale)
    }

    /// Loss and metrics from the policy's forward pass already made: `policyLogps` (2B) are the summed
    /// completion log-probs of `batch`'s rows (chosen then rejected) as ``SequenceLogProbs`` returns
    /// them, `statistics` its token statistics (nil leaves out `logits/*`, `entropy` and
    /// `mean_token_accuracy`). Several losses can thus be scored on one forward pass.
    public func evaluate(policyLogps logps: Tensor, statistics stats: TokenStatistics?, batch: TokenRows,
                         reference: ReferenceLogProbs?, sftTokenCount: Float? = nil,
                         scale: Float = 1) throws -> (loss: Tensor, metrics: StepMetrics, policyLogps: [Float]) {
        precondition(batch.rows % 2 == 0 && logps.count == batch.rows, "a preference batch has chosen and rejected rows, one log-prob each")
        let b = batch.rows / 2
        let lengths = batch.completionLengths
        let lp = PreferenceLogProbs(
            policyChosen: logps.slice(axis: 0, start: 0, length: b), policyRejected: logps.slice(axis: 0, start: b, length: b),
            referenceChosen: reference?.chosen, referenceRejected: reference?.rejected,
            chosenLengths: Array(lengths[0..<b]), rejectedLengths: Array(lengths[b...]), sftTokenCount: sftTokenCount)
        let result = try loss.loss(lp, scale: scale)
        var m = StepMetrics()
        m.add("loss", Double(result.loss.item() / scale))
        let policy = logps.toArray()
        for i in 0..<b {
            let cr = Double(result.chosenRewards[i]), rr = Double(result.rejectedRewards[i])
            m.add("rewards/chosen", sum: cr, weight: 1)
            m.add("rewards/rejected", sum: rr, weight: 1)
            m.add("rewards/accuracies", sum: cr > rr ? 1 : 0, weight: 1)
            m.add("rewards/margins", sum: cr - rr, weight: 1)
            m.add("logps/chosen", sum: Double(policy[i]), weight: 1)
            m.add("logps/rejected", sum: Double(policy[b + i]), weight: 1)
        }
        if let stats {
            for r in 0..<batch.rows {
                m.add(r < b ? "logits/chosen" : "logits/rejected", sum: stats.logitSum[r], weight: stats.tokens[r])
                m.add("entropy", sum: stats.entropySum[r], weight: stats.tokens[r])
                if r < b { m.add("mean_token_accuracy", sum: stats.top1[r], weight: stats.tokens[r]) }
            }
        }
        return (result.loss, m, policy)
    }
}

extension PreferenceLossConfiguration {
    /// The loss settings, TRL's `DPOConfig` keys. `loss_type` is applied before `loss_weights`
    /// (declaration order), so weights always meet the types they weigh.
    public static let settings: [Setting<PreferenceLossConfiguration>] = [
        Setting("beta", \.beta, help: "β, the strength of the KL regularisation."),
        Setting("loss_type", help: "TRL loss types, comma-separated (e.g. sigmoid or sigmoid,sft).",
                type: [String].self, valueName: PreferenceLossType.allCases.map(\.rawValue).joined(separator: "|") + ",...",
                apply: { loss, value in
                    let names = try [String](settingValue: value).flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
                    loss.terms = try names.map { name in
                        guard let type = PreferenceLossType(trlName: name) else {
                            throw TrainingError.invalidSetting(key: "loss_type", message: "unknown loss_type \"\(name)\" (known: \(PreferenceLossType.allCases.map(\.rawValue).joined(separator: ", ")))")
                        }
                        return Term(type)
                    }
                },
                current: { .array($0.terms.map { .string($0.type.rawValue) }) }),
        Setting("loss_weights", help: "Weights, one per loss type.", type: [Float].self,
                apply: { loss, value in
                    let weights = try [Float](settingValue: value)
                    guard weights.count == loss.terms.count else {
                        throw TrainingError.invalidSetting(key: "loss_weights", message: "\(weights.count) loss_weights for \(loss.terms.count) loss types")
                    }
                    for i in weights.indices { loss.terms[i].weight = weights[i] }
                },
                current: { .array($0.terms.map { $0.weight.settingValue }) }),
        Setting("label_smoothing", \.labelSmoothing, help: "ε for robust / exo_pair / aot, and cDPO for sigmoid."),
        Setting("discopop_tau", \.discopopTau, help: "τ of DiscoPOP's mixing sigmoid."),
        Setting("simpo_gamma", \.simpoGamma, help: "SimPO's target margin γ."),
        Setting("orpo_lambda", \.orpoLambda, help: "ORPO's odds-ratio weight λ."),
        Setting("f_divergence_type", help: "The f-divergence mapping log-ratios to scores.",
                type: String.self, valueName: "reverse_kl|forward_kl|js_divergence|alpha_divergence",
                apply: { loss, value in
                    let name = try String(settingValue: value)
                    guard let parsed = FDivergence(trlName: name, alpha: loss.fDivergence.alpha ?? 0.5) else {
                        throw TrainingError.invalidSetting(key: "f_divergence_type", message: "f_divergence_type \"\(name)\" (use reverse_kl, forward_kl, js_divergence, alpha_divergence)")
                    }
                    loss.fDivergence = parsed
                },
                current: { .string($0.fDivergence.trlName) }),
        Setting("f_alpha_divergence_coef", help: "α of alpha_divergence.", type: Float.self,
                apply: { loss, value in
                    let alpha = try Float(settingValue: value)
                    if case .alpha = loss.fDivergence { loss.fDivergence = .alpha(alpha) }
                },
                current: { ($0.fDivergence.alpha ?? 0.5).settingValue }),
    ]
}

extension FDivergence {
    /// TRL's name.
    public var trlName: String {
        switch self {
        case .reverseKL: return "reverse_kl"
        case .forwardKL: return "forward_kl"
        case .jensenShannon: return "js_divergence"
        case .alpha: return "alpha_divergence"
        }
    }
    /// α when this is the alpha divergence.
    public var alpha: Float? { if case .alpha(let a) = self { return a } else { return nil } }
}
