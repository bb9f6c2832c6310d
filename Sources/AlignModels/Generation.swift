import AlignKernels
import AlignTensor
import Foundation

/// How ``generate(model:prompts:config:)`` picks tokens and when it stops. Defaults: greedy,
/// 64 new tokens, no filtering, no penalty, no EOS.
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
    /// Seed of the sampling streams: equal seeds and prompts reproduce the same tokens.
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

/// Turns one row of logits into the next token following a ``GenerationConfig``, with its own
/// seeded random stream.
public struct TokenSampler: Sendable {
    /// The settings applied.
    public let config: GenerationConfig
    private var generator: RandomGenerator

    /// A sampler for stream `stream` of `config.seed` (generation uses one stream per batch row,
    /// so a row's samples do not depend on which other rows are still running).
    public init(config: GenerationConfig, stream: UInt64 = 0) {
        self.config = config
        generator = RandomGenerator(seed: config.seed ^ (stream &* 0x9E37_79B9_7F4A_7C15))
    }

    /// Applies the configured processors to `logits` in place, in transformers' order; filtered
    /// tokens become −inf. `seen` holds the ids the repetition penalty applies to.
    public func process(_ logits: inout [Float], seen: Set<Int32>) {
        let c = config
        logits.withUnsafeMutableBufferPointer { l in
            if c.repetitionPenalty != 1 {
                for id in seen where Int(id) >= 0 && Int(id) < l.count {
                    let x = l[Int(id)]
                    l[Int(id)] = x < 0 ? x * c.repetitionPenalty : x / c.repetitionPenalty
                }
            }
            if c.isGreedy { return }
            if c.temperature != 1 {
                // Division, not multiplication by the inverse: transformers divides, and the two
                // can differ in the last bit.
                for i in 0..<l.count { l[i] /= c.temperature }
            }
            if c.topK > 0 && c.topK < l.count { TokenSampler.keepTopK(l, c.topK) }
            if c.topP < 1 { TokenSampler.keepTopP(l, c.topP) }
            if c.minP > 0 { TokenSampler.keepMinP(l, c.minP) }
        }
    }

    /// The next token: processes `logits` (in place, see ``process(_:seen:)``), then takes the
    /// argmax (greedy; the first of equal maxima) or samples from their softmax.
    public mutating func next(_ logits: inout [Float], seen: Set<Int32>) -> Int32 {
        process(&logits, seen: seen)
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        if config.isGreedy { return Int32(best) }
        let m = logits[best]
        // Filtered tokens (−inf) are skipped rather than exponentiated: after top-k that is
        // nearly the whole vocabulary.
        var total = 0.0
        for x in logits where x > -.infinity { total += Double(Foundation.exp(x - m)) }
        let target = generator.nextDouble() * total
        var running = 0.0
        var last = best
        for (i, x) in logits.enumerated() where x > -.infinity {
            running += Double(Foundation.exp(x - m))
            last = i
            if running > target { return Int32(i) }
        }
        return Int32(last)   // rounding left `running` a hair short of `total`
    }

    /// Removes every logit below the k-th largest (transformers' `TopKLogitsWarper`).
    static func keepTopK(_ l: UnsafeMutableBufferPointer<Float>, _ k: Int) {
        // The k largest so far, ascending. Only values beating the smallest are inserted (about
        // k·ln(V/k) of them in random order), far cheaper than sorting the vocabulary.
        var top = [Float]()
        top.reserveCapacity(k + 1)
        for x in l {
            if top.count < k {
                top.insert(x, at: top.firstIndex { $0 > x } ?? top.count)
            } else if x > top[0] {
                top.removeFirst()
                top.insert(x, at: top.firstIndex { $0 > x } ?? top.count)
            }
        }
        let threshold = top[0]
        for i in 0..<l.count where l[i] < threshold { l[i] = -.infinity }
    }

    /// Nucleus filtering as transformers' `TopPLogitsWarper`. transformers sorts ascending and drops
    /// a token while the cumulative mass up to it is at most 1 − p; equivalently a token stays
    /// while the mass of the tokens ranked above it is below p, so the top token always stays.
    static func keepTopP(_ l: UnsafeMutableBufferPointer<Float>, _ p: Float) {
        var m = -Float.infinity
        for x in l where x > m { m = x }
        if m == -.infinity { return }
        let weights = l.map { $0 > -.infinity ? Foundation.exp($0 - m) : 0 }
        let target = Double(p) * weights.reduce(0.0) { $0 + Double($1) }
        // Only tokens above a weight cut-off can be kept; lower the cut-off by factors of 16
        // until the tokens above it hold mass p, then sort just those (a few, not the whole
        // vocabulary: sorting 49 152 ids cost ~9 ms a token). Everything below the cut-off has
        // at least that mass ranked above it, so it goes.
        var cutoff: Float = 1
        while cutoff > 1e-30 {
            var mass = 0.0
            for w in weights where w >= cutoff { mass += Double(w) }
            if mass >= target { break }
            cutoff /= 16
        }
        let candidates = weights.indices.filter { weights[$0] >= cutoff && weights[$0] > 0 }
            .sorted { weights[$0] > weights[$1] || (weights[$0] == weights[$1] && $0 < $1) }
        var above = 0.0
        var keep = [Bool](repeating: false, count: l.count)
        for i in candidates {
            if above >= target { break }
            keep[i] = true
            above += Double(weights[i])
        }
        for i in 0..<l.count where !keep[i] { l[i] = -.infinity }
    }

    /// Drops tokens whose probability is below `minP` times the top probability
    /// (transformers' `MinPLogitsWarper`). The ratio is exp(logit − max logit), so the test is
    /// done on logits against max + log(minP), with no exponential per token.
    static func keepMinP(_ l: UnsafeMutableBufferPointer<Float>, _ minP: Float) {
        var m = -Float.infinity
        for x in l where x > m { m = x }
        let threshold = m + Foundation.log(minP)
        for i in 0..<l.count where l[i] < threshold { l[i] = -.infinity }
    }
}

/// Generates continuations of a batch of prompts with a Llama-family model, using a KV cache:
/// one prefill pass over the left-padded prompts, then one token per unfinished row per step.
///
/// A row finishes on an EOS id (kept as its last token), when `config.shouldStop` says so, at
/// `config.maxNewTokens`, or when the sequence reaches the end of the model's position table
/// (``LlamaForCausalLM/maxSequenceLength``); finished rows are dropped from the batch, so they cost
/// nothing more. Prompts must fit the position table (callers check with ``promptsFit(_:model:)``).
/// Greedy results match transformers' `generate(do_sample=False)` token for token.
///
/// - Parameters:
///   - prompts: token ids per row, each non-empty; rows may differ in length.
/// - Returns: the new tokens of each row (prompt excluded), in the prompts' order.
public func generate(model: LlamaForCausalLM, prompts: [[Int32]], config: GenerationConfig) -> [[Int32]] {
    precondition(!prompts.isEmpty && prompts.allSatisfy { !$0.isEmpty }, "generation needs non-empty prompts")
    var outputs = [[Int32]](repeating: [], count: prompts.count)
    if config.maxNewTokens == 0 { return outputs }
    let width = prompts.map(\.count).max()!
    // Checked even in unchecked builds: a prompt past the table would read beyond it.
    if width > model.maxSequenceLength {
        fatalError("a \(width)-token prompt exceeds the model's \(model.maxSequenceLength) positions (check with promptsFit)")
    }
    // New tokens stop where the position table ends; the last one is returned, never fed back, so
    // the cache needs one slot less.
    let maxNewTokens = min(config.maxNewTokens, model.maxSequenceLength - width + 1)
    let capacity = width + maxNewTokens - 1
    return withNoGrad {
        let batch = prompts.count
        var ids = [Int32](), mask = [Float]()
        ids.reserveCapacity(batch * width); mask.reserveCapacity(batch * width)
        for p in prompts {
            ids += [Int32](repeating: config.padTokenID, count: width - p.count) + p
            mask += [Float](repeating: 0, count: width - p.count) + [Float](repeating: 1, count: p.count)
        }
        let cache = KVCache(for: model, batch: batch, capacity: capacity)
        var logits = model.logits(appending: ids, mask: mask, to: cache)
        var samplers = (0..<batch).map { TokenSampler(config: config, stream: UInt64($0)) }
        var seen = config.repetitionPenalty == 1 ? [Set<Int32>](repeating: [], count: batch) : prompts.map(Set.init)
        let vocabulary = model.configuration.vocabSize
        var row = [Float](repeating: 0, count: vocabulary)
        // Original row index of each row still in the cache, in cache order.
        var active = Array(0..<batch)
        while true {
            var keep = [Int](), next = [Int32]()
            for (slot, r) in active.enumerated() {
                row.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: logits.pointer + slot * vocabulary, count: vocabulary) }
                let token = samplers[r].next(&row, seen: seen[r])
                outputs[r].append(token)
                if config.repetitionPenalty != 1 { seen[r].insert(token) }
                let done = config.eosTokenIDs.contains(token) || outputs[r].count >= maxNewTokens
                    || (config.shouldStop?(r, outputs[r]) ?? false)
                if !done { keep.append(slot); next.append(token) }
            }
            if keep.isEmpty { break }
            if keep.count < active.count {
                cache.retainRows(keep)
                active = keep.map { active[$0] }
            }
            logits = model.logits(appending: next, to: cache)
        }
        return outputs
    }
}

/// Refuses prompts longer than the model's position table, naming the first by its index.
public func promptsFit(_ prompts: [[Int32]], model: LlamaForCausalLM) throws {
    if let (i, p) = prompts.enumerated().first(where: { $0.element.count > model.maxSequenceLength }) {
        throw ModelError.unsupported("prompt \(i + 1) is \(p.count) tokens, longer than the model's \(model.maxSequenceLength) positions (max_position_embeddings)")
    }
}
