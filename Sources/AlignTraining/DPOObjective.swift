import AlignModels
import AlignTensor

/// One forward pass of DPO (or a relative) on a batch of pairs: the policy's summed completion
/// log-probs for [chosen; rejected] in a single concatenated pass, the loss against reference
/// log-probs, and TRL's metrics.
public struct DPOObjective: Sendable {
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
