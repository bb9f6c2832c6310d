import AlignData
import AlignKernels
import AlignModels
import AlignTensor

/// A padded batch of token rows for a causal LM: ids (rows, length) with an attention mask
/// (1 = token, 0 = padding) and a completion mask (1 where the token is scored).
public struct TokenRows: Sendable {
    public var ids: [Int32]
    public var attentionMask: [Float]
    public var completionMask: [Float]
    public var rows: Int
    public var length: Int

    public init(ids: [Int32], attentionMask: [Float], completionMask: [Float], rows: Int, length: Int) {
        precondition(ids.count == rows * length && attentionMask.count == ids.count && completionMask.count == ids.count,
                     "token rows: \(ids.count) ids, \(attentionMask.count) mask values for \(rows)×\(length)")
        self.ids = ids; self.attentionMask = attentionMask; self.completionMask = completionMask
        self.rows = rows; self.length = length
    }

    /// Completion tokens per row.
    public var completionLengths: [Float] {
        (0..<rows).map { r in completionMask[(r * length)..<((r + 1) * length)].reduce(0, +) }
    }

    /// Whether some row has padding before a real token (then attention needs the mask).
    var hasLeftPadding: Bool {
        for r in 0..<rows {
            var seenPad = false
            for t in 0..<length {
                let real = attentionMask[r * length + t] != 0
                if real && seenPad { return true }
                if !real { seenPad = true }
            }
        }
        return false
    }
}

/// Token-level statistics of scored positions, for TRL's `logits/*`, `entropy` and
/// `mean_token_accuracy` metrics (sums, so micro-batches and rows combine exactly).
public struct TokenStatistics: Sendable {
    /// Per row: Σ of the mean-over-vocabulary logit, Σ entropy, number of top-1 hits, tokens.
    public var logitSum: [Double], entropySum: [Double], top1: [Double], tokens: [Double]
}

/// Summed completion log-probs per row, computed so that only scored positions ever reach the
/// LM head: hidden states at those positions are gathered first, so prompt and padding tokens
/// cost no (·, vocabulary) logits at all.
public enum SequenceLogProbs {
    /// Where row r's position t lives among the computed hidden states: positions below
    /// `prefix` at `prefixStart + t`, later ones at `restStart + t − prefix`.
    struct RowPlacement {
        var prefixStart: Int, prefix: Int, restStart: Int
        func hiddenRow(_ t: Int) -> Int { t < prefix ? prefixStart + t : restStart + t - prefix }
    }

    /// Real (non-padding) tokens of each row.
    static func rowLengths(_ batch: TokenRows) -> [Int] {
        (0..<batch.rows).map { r in Int(batch.attentionMask[(r * batch.length)..<((r + 1) * batch.length)].reduce(0, +)) }
    }

    /// The packed layout of right-padded rows: the ids with padding dropped (and each pair's
    /// common start kept once when sharing), how they attend, and where each row's positions went.
    static func packedLayout(_ batch: TokenRows, sharingPairPrefixes: Bool)
        -> (ids: [Int32], packing: SequencePacking, placement: [RowPlacement])
    {
        let (rows, length) = (batch.rows, batch.length)
        let lengths = rowLengths(batch)
        var packed: [Int32] = []
        packed.reserveCapacity(lengths.reduce(0, +))
        var placement = [RowPlacement](repeating: RowPlacement(prefixStart: 0, prefix: 0, restStart: 0), count: rows)
        func row(_ r: Int, _ range: Range<Int>) -> ArraySlice<Int32> {
            batch.ids[(r * length + range.lowerBound)..<(r * length + range.upperBound)]
        }
        guard sharingPairPrefixes && rows % 2 == 0 else {
            for r in 0..<rows {
                placement[r] = RowPlacement(prefixStart: packed.count, prefix: lengths[r], restStart: 0)
                packed += row(r, 0..<lengths[r])
            }
            return (packed, SequencePacking(lengths: lengths), placement)
        }
        let pairs = rows / 2
        var prefixes: [Int] = [], branches: [[Int]] = []
        for i in 0..<pairs {
            let (a, b) = (i, pairs + i)
            var common = 0
            while common < Swift.min(lengths[a], lengths[b]) && batch.ids[a * length + common] == batch.ids[b * length + common] {
                common += 1
            }
            // (prompt + chosen tail) then the rejected tail: the group's prefix and two branches.
            let start = packed.count
            packed += row(a, 0..<lengths[a])
            packed += row(b, common..<lengths[b])
            placement[a] = RowPlacement(prefixStart: start, prefix: common, restStart: start + common)
            placement[b] = RowPlacement(prefixStart: start, prefix: common, restStart: start + lengths[a])
            prefixes.append(common)
            branches.append([lengths[a] - common, lengths[b] - common])
        }
        return (packed, SequencePacking(prefixes: prefixes, branches: branches), placement)
    }

    /// log π(completion | prompt) summed per row, (rows), differentiable through the model;
    /// with `statistics`, also the token statistics (computed without gradient).
    ///
    /// Right-padded rows are packed end to end when the model supports it, so no position of
    /// padding is ever computed. With `sharingPairPrefixes`, rows r and r + rows/2 are a pair (a
    /// preference batch's chosen and rejected) and the tokens they start with in common (the
    /// prompt, usually) are computed once: both continuations attend to that one copy, and
    /// gradients from both flow back into it. The results are the same as computing each row
    /// separately, up to float rounding.
    public static func compute(model: some CausalLanguageModel, rows batch: TokenRows, statistics: Bool = false,
                               sharingPairPrefixes: Bool = false)
        -> (logps: Tensor, statistics: TokenStatistics?)
    {
        let (rows, length) = (batch.rows, batch.length)
        var hidden: Tensor?
        var placement = (0..<rows).map { RowPlacement(prefixStart: $0 * length, prefix: length, restStart: 0) }
        if !batch.hasLeftPadding {
            let layout = packedLayout(batch, sharingPairPrefixes: sharingPairPrefixes)
            if layout.packing.rows > 0, let h = model.packedHiddenStates(ids: layout.ids, packing: layout.packing) {
                hidden = h
                placement = layout.placement
            }
        }
        var gather: [Int32] = [], targets: [Int32] = [], segment: [Int] = []
        for r in 0..<rows {
            for t in 0..<(length - 1) where batch.completionMask[r * length + t + 1] != 0 {
                gather.append(Int32(placement[r].hiddenRow(t)))
                targets.append(batch.ids[r * length + t + 1])
                segment.append(r)
            }
        }
        let hiddenStates = hidden ?? model.hiddenStates(ids: batch.ids, batch: rows, seq: length,
                                                        attentionMask: batch.hasLeftPadding ? batch.attentionMask : nil, positions: nil)
        let n = gather.count
        if n == 0 {
            // No scored token (everything truncated away): zeros that still depend on the model,
            // so backward() is defined.
            return ((hiddenStates.sum() * 0 + Tensor.zeros([rows])), statistics ? TokenStatistics(logitSum: .init(repeating: 0, count: rows),
                entropySum: .init(repeating: 0, count: rows), top1: .init(repeating: 0, count: rows), tokens: .init(repeating: 0, count: rows)) : nil)
        }
        let h = hiddenStates.reshaped([-1, model.hiddenSize]).embedding(ids: gather, shape: [n])   // (n, hidden)
        let logits = model.logits(fromHidden: h)                                                       // (n, vocabulary)
        let tokenLogps = logits.logSoftmaxGather(targets: targets)                                     // (n)
        // Per-row sums as a product with the (rows, n) indicator of each token's row.
        var indicator = [Float](repeating: 0, count: rows * n)
        for (i, r) in segment.enumerated() { indicator[r * n + i] = 1 }
        let sums = Tensor(shape: [rows, n], values: indicator).matmul(tokenLogps.reshaped([n, 1])).reshaped([rows])
        guard statistics else { return (sums, nil) }
        let (mean, entropy, top1) = logits.rowStatistics(targets: targets)
        var stats = TokenStatistics(logitSum: .init(repeating: 0, count: rows), entropySum: .init(repeating: 0, count: rows),
                                    top1: .init(repeating: 0, count: rows), tokens: .init(repeating: 0, count: rows))
        for (i, r) in segment.enumerated() {
            stats.logitSum[r] += Double(mean[i])
            stats.entropySum[r] += Double(entropy[i])
            stats.top1[r] += Double(top1[i])
            stats.tokens[r] += 1
        }
        return (sums, stats)
    }
}

/// Refuses examples longer than the model's position table, naming the first such row: reading
/// past the table would be undefined (a rotary or position-embedding lookup out of bounds).
/// - Parameters:
///   - lengths: each example's longest sequence after truncation, with its row.
///   - model: the model that will read them.
public func requireSequencesFit(_ lengths: [(length: Int, location: RowLocation?)], model: any CausalLanguageModel,
                                what: String = "example", truncationFlag: String? = "--max-length") throws {
    let limit = model.maxSequenceLength
    guard let (i, bad) = lengths.enumerated().first(where: { $0.element.length > limit }) else { return }
    let place = bad.location.map { "\($0)" } ?? "\(what) \(i)"
    throw DatasetError(file: place, "the \(what) is \(bad.length) tokens long, but the model reads at most \(limit) positions "
                       + "(max_position_embeddings / n_positions)" + (truncationFlag.map { "; set \($0) \(limit) or lower to truncate" } ?? ""))
}
