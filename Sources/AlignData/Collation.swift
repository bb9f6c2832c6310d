// Batches as TRL 1.16's collators build them: right padding with the pad id, row-major flat buffers ready to
// become tensors (ids as Int32, masks as Float so they multiply straight into losses).

/// A DPO batch, as TRL's `DataCollatorForPreference` builds it: rows 0..<B are prompt+chosen of each pair,
/// rows B..<2B prompt+rejected, each cut to `maxLength`, right-padded with the pad id to the longest row.
///
/// All buffers are row-major with `rowCount × length` entries: entry `[r, t]` is at `r * length + t`.
public struct PreferenceBatch: Sendable, Equatable {
    /// B, the number of pairs.
    public var pairCount: Int
    /// T, the padded row length.
    public var length: Int
    /// Token ids (2B × T); padding holds the pad id.
    public var inputIDs: [Int32]
    /// 1 on real tokens, 0 on padding (2B × T).
    public var attentionMask: [Float]
    /// 1 on completion tokens (the tokens scored), 0 on prompt and padding (2B × T).
    public var completionMask: [Float]
    /// Real (non-pad) tokens per row (2B).
    public var sequenceLengths: [Int32]
    /// Completion tokens per row after truncation (2B): chosen of pair i at i, rejected at B + i.
    public var completionLengths: [Int32]
    /// Each pair's `margin` column (B), when the pairs have one.
    public var margins: [Float]?
    /// Source rows of the pairs (B), when known.
    public var locations: [RowLocation?]

    /// 2B, the number of rows.
    public var rowCount: Int { 2 * pairCount }
}

/// A KTO batch, as TRL's `DataCollatorForUnpairedPreference` builds it: one row per example (prompt +
/// completion, cut to `maxLength` keeping the start, right-padded) and, when the examples carry KL
/// completions, the same for the mismatched KL sequences (the row's prompt + another row's completion).
public struct UnpairedBatch: Sendable, Equatable {
    /// B, the number of examples.
    public var rowCount: Int
    /// T, the padded row length of the main sequences.
    public var length: Int
    /// Token ids (B × T).
    public var inputIDs: [Int32]
    /// 1 on real tokens (B × T).
    public var attentionMask: [Float]
    /// 1 on completion tokens (B × T).
    public var completionMask: [Float]
    /// Real tokens per row (B).
    public var sequenceLengths: [Int32]
    /// Completion tokens per row after truncation (B).
    public var completionLengths: [Int32]
    /// True for desirable rows (B).
    public var labels: [Bool]
    /// The padded length of the KL rows (0 without KL sequences).
    public var klLength: Int
    /// KL token ids (B × klLength), nil without KL sequences.
    public var klInputIDs: [Int32]?
    /// KL attention mask (B × klLength).
    public var klAttentionMask: [Float]?
    /// KL completion mask (B × klLength).
    public var klCompletionMask: [Float]?
    /// Source rows (B), when known.
    public var locations: [RowLocation?]
}

/// A reward-model batch, as TRL's reward `DataCollatorForPreference` builds it: rows 0..<B are the chosen
/// sequences, B..<2B the rejected ones, right-padded. The reward is read at each row's last real token,
/// `sequenceLengths[r] − 1`.
public struct RewardBatch: Sendable, Equatable {
    /// B, the number of pairs.
    public var pairCount: Int
    /// T, the padded row length.
    public var length: Int
    /// Token ids (2B × T).
    public var inputIDs: [Int32]
    /// 1 on real tokens (2B × T).
    public var attentionMask: [Float]
    /// Real tokens per row (2B).
    public var sequenceLengths: [Int32]
    /// Each pair's margin (B), when the pairs have one.
    public var margins: [Float]?
    /// Source rows of the pairs (B), when known.
    public var locations: [RowLocation?]

    /// 2B, the number of rows.
    public var rowCount: Int { 2 * pairCount }
}

/// An SFT batch. Unpacked, as TRL's `DataCollatorForLanguageModeling` builds it: one example per row,
/// right-padded to the longest. Packed (``SFTCollator/collate(packed:)``): each row holds several examples back
/// to back, padded to the packing length.
///
/// `labels[r, t]` is the target *at* position t (the model shifts: logits at t − 1 score it), ``ignoredLabel``
/// where no loss is taken; `lossMask` is 1 exactly where `labels` is not ignored.
public struct SFTBatch: Sendable, Equatable {
    /// B, the number of rows.
    public var rowCount: Int
    /// T, the row length.
    public var length: Int
    /// Token ids (B × T).
    public var inputIDs: [Int32]
    /// 1 on real tokens, 0 on padding (B × T). For packed rows, block-diagonal attention additionally needs
    /// `segmentIDs`: a query attends a key only in its own segment.
    public var attentionMask: [Float]
    /// Targets, ``ignoredLabel`` on prompt (completion-only loss), padding and, when packed, the first token of
    /// each segment (so no example is scored from another's context) (B × T).
    public var labels: [Int32]
    /// 1 where `labels` is a real target (B × T).
    public var lossMask: [Float]
    /// Packed only: position of each token inside its own example, restarting at 0 (B × T; 0 on padding).
    public var positionIDs: [Int32]?
    /// Packed only: which example of its row each token belongs to, 0, 1, 2, … within each row; −1 on padding
    /// (B × T). Tokens attend only to earlier tokens with the same segment id.
    public var segmentIDs: [Int32]?
}

/// Shared row filler: concatenates prompt and completion per row, cuts to `maxLength`, and pads.
struct RowFiller {
    var ids: [Int32] = []
    var attention: [Float] = []
    var completion: [Float] = []
    var sequenceLengths: [Int32] = []
    var completionLengths: [Int32] = []
    var length = 0

    /// `rows[i]` = (prompt, completion); the whole row is `prompt + completion`.
    init(rows: [([Int32], [Int32])], padID: Int32, maxLength: Int?, mode: TruncationMode, padToMultipleOf: Int?) {
        var spans: [(start: Int, end: Int)] = []
        spans.reserveCapacity(rows.count)
        var longest = 0
        for (p, c) in rows {
            let full = p.count + c.count
            var span = (start: 0, end: full)
            if let maxLength, full > maxLength {
                span = mode == .keepStart ? (0, maxLength) : (full - maxLength, full)
            }
            spans.append(span)
            longest = max(longest, span.end - span.start)
        }
        if let m = padToMultipleOf, m > 1, longest % m != 0 { longest += m - longest % m }
        length = longest
        let count = rows.count * longest
        ids = [Int32](repeating: padID, count: count)
        attention = [Float](repeating: 0, count: count)
        completion = [Float](repeating: 0, count: count)
        sequenceLengths.reserveCapacity(rows.count)
        completionLengths.reserveCapacity(rows.count)
        ids.withUnsafeMutableBufferPointer { ids in
            attention.withUnsafeMutableBufferPointer { attention in
                completion.withUnsafeMutableBufferPointer { completion in
                    for (r, (p, c)) in rows.enumerated() {
                        let span = spans[r]
                        let base = r * longest
                        var completionCount: Int32 = 0
                        for t in span.start..<span.end {
                            let o = base + t - span.start
                            attention[o] = 1
                            if t < p.count {
                                ids[o] = p[t]
                            } else {
                                ids[o] = c[t - p.count]
                                completion[o] = 1
                                completionCount += 1
                            }
                        }
                        sequenceLengths.append(Int32(span.end - span.start))
                        completionLengths.append(completionCount)
                    }
                }
            }
        }
    }
}

/// Collates tokenised pairs into a ``PreferenceBatch`` exactly as TRL 1.16's `DataCollatorForPreference`.
public struct PreferenceCollator: Sendable {
    /// The id written in padding (the tokenizer's pad token, or EOS when it has none).
    public var padID: Int32
    /// Rows longer than this are cut (nil: never).
    public var maxLength: Int?
    /// Which end survives the cut.
    public var truncationMode: TruncationMode
    /// Round the padded length up to a multiple of this (nil: no rounding).
    public var padToMultipleOf: Int?

    /// A collator; pass the same `maxLength` and `truncationMode` as to preparation.
    public init(padID: Int32, maxLength: Int? = 1024, truncationMode: TruncationMode = .keepStart,
                padToMultipleOf: Int? = nil) {
        self.padID = padID
        self.maxLength = maxLength
        self.truncationMode = truncationMode
        self.padToMultipleOf = padToMultipleOf
    }

    /// The batch of `pairs` ([all chosen; all rejected]).
    public func collate<C: Collection>(_ pairs: C) -> PreferenceBatch where C.Element == TokenizedPair {
        var rows: [([Int32], [Int32])] = []
        rows.reserveCapacity(2 * pairs.count)
        for p in pairs { rows.append((p.promptIDs, p.chosenIDs)) }
        for p in pairs { rows.append((p.promptIDs, p.rejectedIDs)) }
        let f = RowFiller(rows: rows, padID: padID, maxLength: maxLength, mode: truncationMode,
                          padToMultipleOf: padToMultipleOf)
        let margins: [Float]? = pairs.first?.margin == nil ? nil : pairs.map { $0.margin ?? 0 }
        return PreferenceBatch(pairCount: pairs.count, length: f.length, inputIDs: f.ids, attentionMask: f.attention,
                               completionMask: f.completion, sequenceLengths: f.sequenceLengths,
                               completionLengths: f.completionLengths, margins: margins,
                               locations: pairs.map(\.location))
    }
}

/// Collates tokenised KTO examples into an ``UnpairedBatch`` exactly as TRL 1.16's
/// `DataCollatorForUnpairedPreference` (which always keeps the start of over-long rows).
public struct UnpairedCollator: Sendable {
    /// The padding id.
    public var padID: Int32
    /// Rows (main and KL) longer than this are cut, keeping the start (nil: never).
    public var maxLength: Int?
    /// Round the padded lengths up to a multiple of this.
    public var padToMultipleOf: Int?

    /// A collator; pass the same `maxLength` as to preparation.
    public init(padID: Int32, maxLength: Int? = 1024, padToMultipleOf: Int? = nil) {
        self.padID = padID
        self.maxLength = maxLength
        self.padToMultipleOf = padToMultipleOf
    }

    /// The batch of `examples`; KL rows are built when the first example has a KL completion.
    public func collate<C: Collection>(_ examples: C) -> UnpairedBatch where C.Element == TokenizedUnpaired {
        let main = RowFiller(rows: examples.map { ($0.promptIDs, $0.completionIDs) }, padID: padID,
                             maxLength: maxLength, mode: .keepStart, padToMultipleOf: padToMultipleOf)
        var batch = UnpairedBatch(rowCount: examples.count, length: main.length, inputIDs: main.ids,
                                  attentionMask: main.attention, completionMask: main.completion,
                                  sequenceLengths: main.sequenceLengths, completionLengths: main.completionLengths,
                                  labels: examples.map(\.label), klLength: 0, klInputIDs: nil, klAttentionMask: nil,
                                  klCompletionMask: nil, locations: examples.map(\.location))
        if examples.first?.klCompletionIDs != nil {
            let kl = RowFiller(rows: examples.map { ($0.promptIDs, $0.klCompletionIDs ?? []) }, padID: padID,
                               maxLength: maxLength, mode: .keepStart, padToMultipleOf: padToMultipleOf)
            batch.klLength = kl.length
            batch.klInputIDs = kl.ids
            batch.klAttentionMask = kl.attention
            batch.klCompletionMask = kl.completion
        }
        return batch
    }
}

/// Collates reward pairs (from ``PreferenceDataset/tokenizedForReward(encoder:maxLength:)``) into a
/// ``RewardBatch`` exactly as TRL 1.16's reward collator. Nothing is cut: over-long pairs were dropped.
public struct RewardCollator: Sendable {
    /// The padding id.
    public var padID: Int32
    /// Round the padded length up to a multiple of this.
    public var padToMultipleOf: Int?

    /// A collator.
    public init(padID: Int32, padToMultipleOf: Int? = nil) {
        self.padID = padID
        self.padToMultipleOf = padToMultipleOf
    }

    /// The batch of `pairs` ([all chosen; all rejected]); `promptIDs`, if any, lead each row.
    public func collate<C: Collection>(_ pairs: C) -> RewardBatch where C.Element == TokenizedPair {
        var rows: [([Int32], [Int32])] = []
        rows.reserveCapacity(2 * pairs.count)
        for p in pairs { rows.append((p.promptIDs, p.chosenIDs)) }
        for p in pairs { rows.append((p.promptIDs, p.rejectedIDs)) }
        let f = RowFiller(rows: rows, padID: padID, maxLength: nil, mode: .keepStart, padToMultipleOf: padToMultipleOf)
        let margins: [Float]? = pairs.first?.margin == nil ? nil : pairs.map { $0.margin ?? 0 }
        return RewardBatch(pairCount: pairs.count, length: f.length, inputIDs: f.ids, attentionMask: f.attention,
                           sequenceLengths: f.sequenceLengths, margins: margins, locations: pairs.map(\.location))
    }
}

/// Collates SFT sequences into an ``SFTBatch``: unpacked as TRL 1.16's `DataCollatorForLanguageModeling`,
/// or packed rows from ``packSequences(_:length:)``.
public struct SFTCollator: Sendable {
    /// The padding id.
    public var padID: Int32
    /// Round the padded length up to a multiple of this (unpacked batches).
    public var padToMultipleOf: Int?

    /// A collator.
    public init(padID: Int32, padToMultipleOf: Int? = nil) {
        self.padID = padID
        self.padToMultipleOf = padToMultipleOf
    }

    /// One sequence per row, right-padded to the longest (sequences were already cut at preparation).
    public func collate<C: Collection>(_ sequences: C) -> SFTBatch where C.Element == TokenizedSequence {
        var longest = sequences.map(\.inputIDs.count).max() ?? 0
        if let m = padToMultipleOf, m > 1, longest % m != 0 { longest += m - longest % m }
        var batch = SFTBatch(rowCount: sequences.count, length: longest,
                             inputIDs: [Int32](repeating: padID, count: sequences.count * longest),
                             attentionMask: [Float](repeating: 0, count: sequences.count * longest),
                             labels: [Int32](repeating: ignoredLabel, count: sequences.count * longest),
                             lossMask: [Float](repeating: 0, count: sequences.count * longest),
                             positionIDs: nil, segmentIDs: nil)
        for (r, s) in sequences.enumerated() {
            let base = r * longest
            for t in 0..<s.inputIDs.count {
                batch.inputIDs[base + t] = s.inputIDs[t]
                batch.attentionMask[base + t] = 1
                batch.labels[base + t] = s.labels[t]
                batch.lossMask[base + t] = s.labels[t] == ignoredLabel ? 0 : 1
            }
        }
        return batch
    }

    /// Packed rows, each padded to `length` (the packing length): positions restart at 0 in each segment,
    /// segment ids number the examples of a row, and the first token of every segment takes no loss.
    public func collate<C: Collection>(packed rows: C, length: Int) -> SFTBatch where C.Element == PackedSequence {
        let count = rows.count * length
        var batch = SFTBatch(rowCount: rows.count, length: length,
                             inputIDs: [Int32](repeating: padID, count: count),
                             attentionMask: [Float](repeating: 0, count: count),
                             labels: [Int32](repeating: ignoredLabel, count: count),
                             lossMask: [Float](repeating: 0, count: count),
                             positionIDs: [Int32](repeating: 0, count: count),
                             segmentIDs: [Int32](repeating: -1, count: count))
        for (r, row) in rows.enumerated() {
            precondition(row.inputIDs.count <= length, "packed row longer than the packing length")
            var t = r * length
            var offset = 0
            for (segment, segmentLength) in row.segmentLengths.enumerated() {
                for position in 0..<segmentLength {
                    batch.inputIDs[t] = row.inputIDs[offset + position]
                    batch.attentionMask[t] = 1
                    let label = position == 0 ? ignoredLabel : row.labels[offset + position]
                    batch.labels[t] = label
                    batch.lossMask[t] = label == ignoredLabel ? 0 : 1
                    batch.positionIDs![t] = Int32(position)
                    batch.segmentIDs![t] = Int32(segment)
                    t += 1
                }
                offset += segmentLength
            }
        }
        return batch
    }
}
