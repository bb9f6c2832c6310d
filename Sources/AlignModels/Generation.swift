import AlignKernels
import AlignNN
import AlignTensor
import Foundation

/// How ``CausalLanguageModel/generate(prompts:config:streams:)`` picks tokens and when it stops.
/// Defaults: greedy, 64 new tokens, no filtering, no penalty, no EOS.
///
/// Logits go through transformers' default processors in their order: repetition penalty, then
/// (when sampling) temperature, top-k, top-p and min-p. With `temperature == 0` decoding is greedy
/// (`do_sample=False`): only the repetition penalty applies, then the largest logit wins.
public struct GenerationConfig: Sendable {
    /// Most tokens generated per row (EOS included).
    public var maxNewTokens: Int
    /// Softmax temperature; 0 means greedy decoding.
    public var temperature: Float
    /// Keep only the `topK` largest logits (ties with the k-th kept); 0 disables.
    public var topK: Int
    /// Nucleus sampling: keep the most likely tokens whose probabilities reach `topP`; 1 disables.
    public var topP: Float
    /// Drop tokens whose probability is below `minP` × the top token's; 0 disables.
    public var minP: Float
    /// transformers' repetition penalty: logits of tokens already in the prompt or generated are
    /// divided by it when positive and multiplied when negative; 1 disables. Padding is not
    /// counted as part of the prompt (transformers would penalise the pad id of padded rows).
    public var repetitionPenalty: Float
    /// Tokens that end a row; the EOS itself is kept as the row's last token.
    public var eosTokenIDs: Set<Int32>
    /// Id used to left-pad shorter prompts (masked out, so its value does not change results).
    public var padTokenID: Int32
    /// Seed of the sampling streams (each row draws from its own stream of this seed, see
    /// ``TokenSampler/init(config:stream:)``): equal seeds, streams and prompts reproduce the
    /// same tokens.
    public var seed: UInt64
    /// Called after every new token of a row with the row's index and its new tokens so far;
    /// returning true ends that row (stop strings: decode and search on the caller's side).
    public var shouldStop: (@Sendable (_ row: Int, _ newTokens: [Int32]) -> Bool)?

    /// A configuration; every argument defaults to "off" (greedy, no filters, no penalty).
    public init(maxNewTokens: Int = 64, temperature: Float = 0, topK: Int = 0, topP: Float = 1, minP: Float = 0,
                repetitionPenalty: Float = 1, eosTokenIDs: Set<Int32> = [], padTokenID: Int32 = 0, seed: UInt64 = 0,
                shouldStop: (@Sendable (_ row: Int, _ newTokens: [Int32]) -> Bool)? = nil) {
        precondition(maxNewTokens >= 0 && temperature >= 0 && topK >= 0 && topP > 0 && topP <= 1 && minP >= 0 && minP <= 1
                     && repetitionPenalty > 0, "invalid generation settings")
        self.maxNewTokens = maxNewTokens; self.temperature = temperature; self.topK = topK; self.topP = topP
        self.minP = minP; self.repetitionPenalty = repetitionPenalty; self.eosTokenIDs = eosTokenIDs
        self.padTokenID = padTokenID; self.seed = seed; self.shouldStop = shouldStop
    }

    /// Checks settings given by a user, naming the flag (`--top-p`) of the first out of range.
    public static func validate(maxNewTokens: Int, temperature: Float, topK: Int = 0, topP: Float = 1, minP: Float = 0,
                                repetitionPenalty: Float = 1) throws {
        func check(_ ok: Bool, _ flag: String, _ rule: String) throws {
            if !ok { throw ModelError.unsupported("\(flag): must be \(rule)") }
        }
        try check((0...(1 << 20)).contains(maxNewTokens), "--max-new-tokens \(maxNewTokens)", "in 0...\(1 << 20)")
        try check(temperature.isFinite && temperature >= 0, "--temperature \(temperature)", "a finite number ≥ 0 (0 is greedy)")
        try check(topK >= 0, "--top-k \(topK)", "≥ 0 (0 is off)")
        try check(topP > 0 && topP <= 1, "--top-p \(topP)", "in (0, 1]")
        try check(minP >= 0 && minP <= 1, "--min-p \(minP)", "in [0, 1]")
        try check(repetitionPenalty.isFinite && repetitionPenalty > 0, "--repetition-penalty \(repetitionPenalty)", "a finite number > 0")
    }

    /// Whether tokens are chosen by argmax rather than sampled.
    public var isGreedy: Bool { temperature == 0 }
}

/// Why a generated row stopped.
public enum FinishReason: Sendable, Hashable {
    /// It produced one of ``GenerationConfig/eosTokenIDs`` (kept as its last token).
    case endOfSequence
    /// ``GenerationConfig/shouldStop`` returned true.
    case stopCondition
    /// It reached ``GenerationConfig/maxNewTokens``.
    case maxNewTokens
    /// Prompt and continuation filled the model's position table
    /// (``CausalLanguageModel/maxSequenceLength``) first.
    case positionLimit
}

/// One row's continuation with what online objectives (PPO, RLOO, GRPO, online DPO) need to
/// score it: per generated token, its log-probability under the distribution it was drawn from
/// and under the model's own distribution.
public struct GeneratedSequence: Sendable, Hashable {
    /// The new tokens (prompt excluded), an EOS that ended the row kept as the last.
    public var tokens: [Int32]
    /// Per token, log-softmax of the processed logits it was chosen from (see
    /// ``TokenSampler/draw(_:seen:)``): when sampling, the log-probability under the sampling
    /// distribution (after repetition penalty, temperature, top-k, top-p and min-p).
    public var logProbabilities: [Float]
    /// Per token, log-softmax of the model's raw logits (before any processor).
    public var modelLogProbabilities: [Float]
    /// Why the row stopped.
    public var finishReason: FinishReason

    /// A continuation; the three arrays must be equally long.
    public init(tokens: [Int32] = [], logProbabilities: [Float] = [], modelLogProbabilities: [Float] = [],
                finishReason: FinishReason = .maxNewTokens) {
        precondition(tokens.count == logProbabilities.count && tokens.count == modelLogProbabilities.count,
                     "\(tokens.count) tokens with \(logProbabilities.count) and \(modelLogProbabilities.count) log-probs")
        self.tokens = tokens; self.logProbabilities = logProbabilities
        self.modelLogProbabilities = modelLogProbabilities; self.finishReason = finishReason
    }
}

extension CausalLanguageModel {
    /// Generates continuations of a batch of prompts with a KV cache, through the same layers
    /// training runs: one prefill pass over the left-padded prompts, then one token per unfinished
    /// row per step.
    ///
    /// A row finishes on an EOS id (kept as its last token), when `config.shouldStop` says so, at
    /// `config.maxNewTokens`, or when the sequence reaches the end of the model's position table
    /// (``maxSequenceLength``); finished rows are dropped from the batch, so they cost nothing
    /// more. Prompts must fit the position table (callers check with ``promptsFit(_:model:)``).
    /// Greedy results match transformers' `generate(do_sample=False)` token for token.
    ///
    /// Each row samples from its own random stream, ``TokenSampler`` stream `streams[row]` of
    /// `config.seed`, so its tokens depend on its prompt, the seed and its stream only, never on
    /// the other rows of the batch.
    ///
    /// - Parameters:
    ///   - prompts: token ids per row, each non-empty; rows may differ in length.
    ///   - streams: the random stream of each row; nil numbers them by row index (0, 1, ...).
    /// - Returns: each row's continuation, in the prompts' order.
    public func generate(prompts: [[Int32]], config: GenerationConfig, streams: [UInt64]? = nil) -> [GeneratedSequence] {
        precondition(!prompts.isEmpty && prompts.allSatisfy { !$0.isEmpty }, "generation needs non-empty prompts")
        if let streams { precondition(streams.count == prompts.count, "\(streams.count) streams for \(prompts.count) prompts") }
        var outputs = [GeneratedSequence](repeating: GeneratedSequence(), count: prompts.count)
        if config.maxNewTokens == 0 { return outputs }
        let width = prompts.map(\.count).max()!
        // Checked even in unchecked builds: a prompt past the table would read beyond it.
        if width > maxSequenceLength {
            fatalError("a \(width)-token prompt exceeds the model's \(maxSequenceLength) positions (check with promptsFit)")
        }
        // New tokens stop where the position table ends; the last one is returned, never fed
        // back, so the cache needs one slot less.
        let maxNewTokens = min(config.maxNewTokens, maxSequenceLength - width + 1)
        let capacity = width + maxNewTokens - 1
        return withNoGrad {
            let batch = prompts.count
            // Each distinct prompt is prefilled once (GRPO and RLOO sample several continuations
            // of every prompt); its rows then continue from copies of that one cache row.
            var distinct: [[Int32]] = [], source: [Int] = [], index: [[Int32]: Int] = [:]
            for p in prompts {
                if let i = index[p] { source.append(i); continue }
                index[p] = distinct.count; source.append(distinct.count); distinct.append(p)
            }
            let sharing = keyValueLayout.layers > 0 && distinct.count < batch
            let prefilled = sharing ? distinct : prompts
            var ids = [Int32](), mask = [Float]()
            ids.reserveCapacity(prefilled.count * width); mask.reserveCapacity(prefilled.count * width)
            for p in prefilled {
                ids += [Int32](repeating: config.padTokenID, count: width - p.count) + p
                mask += [Float](repeating: 0, count: width - p.count) + [Float](repeating: 1, count: p.count)
            }
            var cache = KVCache(layout: keyValueLayout, batch: prefilled.count, capacity: capacity)
            var logits = self.logits(appending: ids, mask: mask, to: cache)          // (prefilled rows, V)
            if sharing {
                cache = KVCache(copying: source, of: cache)
                logits = logits.embedding(ids: source.map(Int32.init), shape: [batch]) // (B, V)
            }
            var samplers = (0..<batch).map { TokenSampler(config: config, stream: streams?[$0] ?? UInt64($0)) }
            var seen = config.repetitionPenalty == 1 ? [Set<Int32>](repeating: [], count: batch) : prompts.map(Set.init)
            let vocabulary = vocabularySize
            var drawnTokens = [SampledToken](repeating: SampledToken(id: 0, logProbability: 0), count: batch)
            // Original row index of each row still in the cache, in cache order.
            var active = Array(0..<batch)
            while true {
                var keep = [Int](), next = [Int32]()
                let normalisers = logits.logSumExpRows()
                // Rows draw on all threads: each has its own sampler and stream, so the tokens are
                // those of drawing one row after another. The sampler edits a scratch copy of the
                // row (one per piece of work, not per row: a large batch over a large vocabulary
                // would otherwise hold batch × vocabulary floats); the model's own log-prob reads
                // the untouched logits.
                let current = active, step = logits
                samplers.withUnsafeMutableBufferPointer { samplerAt in
                    drawnTokens.withUnsafeMutableBufferPointer { drawnAt in
                        parallelFor(current.count) { start, end in
                            var row = [Float](repeating: 0, count: vocabulary)
                            for slot in start..<end {
                                let r = current[slot]
                                step.copyRow(slot, into: &row)
                                drawnAt[slot] = samplerAt[r].draw(&row, seen: seen[r])
                            }
                        }
                    }
                }
                for (slot, r) in active.enumerated() {
                    let drawn = drawnTokens[slot]
                    outputs[r].tokens.append(drawn.id)
                    outputs[r].logProbabilities.append(drawn.logProbability)
                    outputs[r].modelLogProbabilities.append(logits.value(row: slot, column: Int(drawn.id)) - normalisers[slot])
                    if config.repetitionPenalty != 1 { seen[r].insert(drawn.id) }
                    let count = outputs[r].tokens.count
                    let reason: FinishReason?
                    if config.eosTokenIDs.contains(drawn.id) { reason = .endOfSequence }
                    else if count >= maxNewTokens { reason = count >= config.maxNewTokens ? .maxNewTokens : .positionLimit }
                    else if config.shouldStop?(r, outputs[r].tokens) ?? false { reason = .stopCondition }
                    else { reason = nil }
                    if let reason { outputs[r].finishReason = reason } else { keep.append(slot); next.append(drawn.id) }
                }
                if keep.isEmpty { break }
                if keep.count < active.count {
                    cache.retainRows(keep)
                    active = keep.map { active[$0] }
                }
                logits = self.logits(appending: next, to: cache)
            }
            return outputs
        }
    }
}

/// The new tokens of each row of ``CausalLanguageModel/generate(prompts:config:streams:)``
/// (prompt excluded, an ending EOS kept), in the prompts' order.
public func generate(model: some CausalLanguageModel, prompts: [[Int32]], config: GenerationConfig) -> [[Int32]] {
    model.generate(prompts: prompts, config: config).map(\.tokens)
}

/// Refuses prompts longer than the model's position table, naming the first by its index.
public func promptsFit(_ prompts: [[Int32]], model: some CausalLanguageModel) throws {
    if let (i, p) = prompts.enumerated().first(where: { $0.element.count > model.maxSequenceLength }) {
        throw ModelError.unsupported("prompt \(i + 1) is \(p.count) tokens, longer than the model's \(model.maxSequenceLength) positions (max_position_embeddings)")
    }
}
