import AlignData
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// The causal-LM (negative log-likelihood) loss of SFT on one batch, with TRL's metrics.
public enum SFTLoss {
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
