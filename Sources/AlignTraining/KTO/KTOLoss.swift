import AlignData
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// One KTO forward pass on a batch of unpaired examples: the policy's summed completion log-probs,
/// the loss against reference log-probs and the KL estimate z₀, and TRL's metrics.
public struct KTOLoss: Sendable {
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
        klEstimate(logRatios: zip(policyLogps, referenceLogps).map { Double($0.0 - $0.1) })
    }

    /// z₀ = max(0, mean of the per-row log-ratios log π(KL) − log π_ref(KL)).
    public static func klEstimate(logRatios: [Double]) -> Float {
        guard !logRatios.isEmpty else { return 0 }
        let mean = logRatios.reduce(0.0, +) / Double(logRatios.count)
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
