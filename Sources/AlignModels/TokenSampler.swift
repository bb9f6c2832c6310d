import AlignKernels
import Foundation

/// A token drawn by ``TokenSampler/draw(_:seen:)``.
public struct SampledToken: Sendable, Hashable {
    /// The token id.
    public var id: Int32
    /// Its log-probability under the processed distribution (see ``TokenSampler/draw(_:seen:)``).
    public var logProbability: Float

    /// A token and its log-probability.
    public init(id: Int32, logProbability: Float) {
        self.id = id; self.logProbability = logProbability
    }
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
        if c.repetitionPenalty != 1 {
            for id in seen where Int(id) >= 0 && Int(id) < logits.count {
                let x = logits[Int(id)]
                logits[Int(id)] = x < 0 ? x * c.repetitionPenalty : x / c.repetitionPenalty
            }
        }
        if c.isGreedy { return }
        if c.temperature != 1 {
            // Division, not multiplication by the inverse: transformers divides, and the two
            // can differ in the last bit.
            for i in logits.indices { logits[i] /= c.temperature }
        }
        if c.topK > 0 && c.topK < logits.count { TokenSampler.keepTopK(&logits, c.topK) }
        if c.topP < 1 { TokenSampler.keepTopP(&logits, c.topP) }
        if c.minP > 0 { TokenSampler.keepMinP(&logits, c.minP) }
    }

    /// The next token: processes `logits` (in place, see ``process(_:seen:)``), then takes the
    /// argmax (greedy; the first of equal maxima) or samples from their softmax.
    public mutating func next(_ logits: inout [Float], seen: Set<Int32>) -> Int32 {
        draw(&logits, seen: seen, computingLogProbability: false).id
    }

    /// The next token with its log-probability under the processed distribution: processes
    /// `logits` (in place, see ``process(_:seen:)``), then takes the argmax (greedy; the first of
    /// equal maxima) or samples from their softmax.
    ///
    /// The log-probability is log-softmax of the processed logits at the token, which is what
    /// transformers reports as `log_softmax(scores)` with `output_scores=True`: when sampling,
    /// the distribution the token was drawn from (after temperature, top-k, top-p and min-p);
    /// when greedy, the logits after the repetition penalty only.
    public mutating func draw(_ logits: inout [Float], seen: Set<Int32>) -> SampledToken {
        draw(&logits, seen: seen, computingLogProbability: true)
    }

    /// ``draw(_:seen:)``; without `computingLogProbability` a greedy draw skips the pass over the
    /// vocabulary its log-probability costs and reports 0 (sampling gets it for free).
    private mutating func draw(_ logits: inout [Float], seen: Set<Int32>, computingLogProbability: Bool) -> SampledToken {
        process(&logits, seen: seen)
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        if config.isGreedy {
            var lse: Float = logits[best]
            if computingLogProbability {
                lse = Kernels.logSumExp(logits)
            }
            return SampledToken(id: Int32(best), logProbability: logits[best] - lse)
        }
        let m = logits[best]
        // Filtered tokens (−inf) are skipped rather than exponentiated: after top-k that is
        // nearly the whole vocabulary.
        var total = 0.0
        for x in logits where x > -.infinity { total += Double(Foundation.exp(x - m)) }
        let target = generator.nextDouble() * total
        let logTotal = Foundation.log(total)
        var running = 0.0
        var last = best
        for (i, x) in logits.enumerated() where x > -.infinity {
            running += Double(Foundation.exp(x - m))
            last = i
            if running > target { return SampledToken(id: Int32(i), logProbability: Float(Double(x - m) - logTotal)) }
        }
        // Rounding left `running` a hair short of `total`.
        return SampledToken(id: Int32(last), logProbability: Float(Double(logits[last] - m) - logTotal))
    }

    /// Removes every logit below the k-th largest (transformers' `TopKLogitsWarper`).
    static func keepTopK(_ l: inout [Float], _ k: Int) {
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
    static func keepTopP(_ l: inout [Float], _ p: Float) {
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
    static func keepMinP(_ l: inout [Float], _ minP: Float) {
        var m = -Float.infinity
        for x in l where x > m { m = x }
        let threshold = m + Foundation.log(minP)
        for i in 0..<l.count where l[i] < threshold { l[i] = -.infinity }
    }
}
