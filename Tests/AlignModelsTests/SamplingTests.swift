import AlignModels
import AlignNN
import AlignTensor
import Foundation
import Testing
import TestSupport

/// One case of Tests/Fixtures/generation/sampling.json: transformers' sampled tokens with the
/// log-prob of each under its processed and raw distributions.
private struct TransformersSample: Decodable {
    var model: String
    var name: String
    var prompts: [[Int32]]
    var eosTokenIds: [Int32]
    var temperature: Float, topK: Int, topP: Float, minP: Float, repetitionPenalty: Float
    var tokens: [[Int32]]
    var logprobs: [[Float]]
    var rawLogprobs: [[Float]]
    enum CodingKeys: String, CodingKey {
        case model, name, prompts, temperature, tokens, logprobs
        case eosTokenIds = "eos_token_ids", topK = "top_k", topP = "top_p", minP = "min_p"
        case repetitionPenalty = "repetition_penalty", rawLogprobs = "raw_logprobs"
    }

    var config: GenerationConfig {
        GenerationConfig(maxNewTokens: 12, temperature: temperature, topK: topK, topP: topP, minP: minP,
                         repetitionPenalty: repetitionPenalty, eosTokenIDs: Set(eosTokenIds))
    }
}

/// One case of Tests/Fixtures/generation/sampled_before_redesign.json: Align's own sampled ids
/// before generation moved onto the training layers.
private struct PinnedSample: Decodable {
    var model: String
    var name: String
    var prompts: [[Int32]]
    var maxNewTokens: Int
    var temperature: Float, topK: Int, topP: Float, minP: Float, repetitionPenalty: Float
    var eosTokenIds: [Int32]
    var seed: UInt64
    var expected: [[Int32]]
    enum CodingKeys: String, CodingKey {
        case model, name, prompts, temperature, seed, expected
        case maxNewTokens = "max_new_tokens", topK = "top_k", topP = "top_p", minP = "min_p"
        case repetitionPenalty = "repetition_penalty", eosTokenIds = "eos_token_ids"
    }
}

private struct Cases<Case: Decodable>: Decodable { var cases: [Case] }

private func loadCases<Case: Decodable>(_ file: String, as: Case.Type) throws -> [Case] {
    let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent("generation/\(file)"))
    return try JSONDecoder().decode(Cases<Case>.self, from: data).cases
}

/// log Σ exp over the finite entries, in Double.
private func logSumExp(_ x: [Float]) -> Double {
    let m = Double(x.max()!)
    return m + Foundation.log(x.reduce(0.0) { $1 > -.infinity ? $0 + Foundation.exp(Double($1) - m) : $0 })
}

/// Teacher-forces `tokens` after `prompt` through the full (uncached) forward and returns, per
/// token, log-softmax at the token of the logits after `config`'s processors (``TokenSampler``'s
/// `process`, with the repetition penalty over prompt and earlier tokens) and of the raw logits.
private func teacherForcedLogProbs(_ model: any CausalLanguageModel, prompt: [Int32], tokens: [Int32],
                                   config: GenerationConfig) -> (processed: [Float], raw: [Float]) {
    let ids = prompt + tokens, vocab = model.vocabularySize
    let logits = withNoGrad { model.logits(ids: ids, batch: 1, seq: ids.count) }.toArray()
    var processed = [Float](), raw = [Float]()
    for (t, token) in tokens.enumerated() {
        let start = (prompt.count - 1 + t) * vocab
        var row = Array(logits[start..<(start + vocab)])
        raw.append(Float(Double(row[Int(token)]) - logSumExp(row)))
        let seen = config.repetitionPenalty == 1 ? [] : Set(prompt + tokens[..<t])
        TokenSampler(config: config).process(&row, seen: seen)
        processed.append(Float(Double(row[Int(token)]) - logSumExp(row)))
    }
    return (processed, raw)
}

/// Hides a model's cached forward, so generation falls back on recomputing the whole history.
private final class HistoryOnly: CausalLanguageModel {
    let base: any CausalLanguageModel
    init(_ base: any CausalLanguageModel) { self.base = base }
    var vocabularySize: Int { base.vocabularySize }
    var hiddenSize: Int { base.hiddenSize }
    var maxSequenceLength: Int { base.maxSequenceLength }
    func hiddenStates(ids: [Int32], batch: Int, seq: Int, attentionMask: [Float]?, positions: [Int32]?) -> Tensor {
        base.hiddenStates(ids: ids, batch: batch, seq: seq, attentionMask: attentionMask, positions: positions)
    }
    func logits(fromHidden h: Tensor) -> Tensor { base.logits(fromHidden: h) }
    func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) { base.forEachParameter(prefix: prefix, visit) }
}

@Suite struct SamplingTests {
    private let prompts: [[Int32]] = [[5, 17, 99, 140, 3, 250, 61], [44, 8, 201], [7, 7, 123, 90, 11]]

    /// Align's processors give the log-probs transformers' processors give, on transformers'
    /// own sampled tokens (teacher-forced): temperature, top-k, top-p, min-p and the repetition
    /// penalty build the same distribution. The fixture's filter cuts are at least 2e-5 of logit
    /// away from flipping (see its script); the models' logits agree with transformers' to
    /// ~1e-6, which moves a log-softmax by at most twice that (largest difference measured:
    /// 9.5e-7), so 2e-5 holds with room.
    @Test func logProbsMatchTransformersProcessors() throws {
        for c in try loadCases("sampling.json", as: TransformersSample.self) {
            let model = try loadTinyModel(c.model)
            for (r, prompt) in c.prompts.enumerated() {
                let got = teacherForcedLogProbs(model, prompt: prompt, tokens: c.tokens[r], config: c.config)
                expectClose(got.processed, c.logprobs[r], atol: 2e-5, rtol: 0, "\(c.model) \(c.name) row \(r) processed")
                expectClose(got.raw, c.rawLogprobs[r], atol: 2e-5, rtol: 0, "\(c.model) \(c.name) row \(r) raw")
            }
        }
    }

    /// The log-probs generate() returns with each sampled token are those of the distribution it
    /// was drawn from (processed) and of the raw logits, recomputed here by the full forward; the
    /// cached forward differs from it by float rounding only (~1e-6).
    @Test(arguments: ["llama", "qwen2", "gpt2"])
    func generatedLogProbsAreThoseOfTheSamplingDistribution(_ name: String) throws {
        let model = try loadTinyModel(name)
        let settings = [
            GenerationConfig(maxNewTokens: 10, temperature: 0.8, topK: 50, topP: 0.95, minP: 0.02, repetitionPenalty: 1.3,
                             eosTokenIDs: [2], seed: 5),
            GenerationConfig(maxNewTokens: 10, temperature: 1.3, topP: 0.7, eosTokenIDs: [2], seed: 6),
            GenerationConfig(maxNewTokens: 10, repetitionPenalty: 1.2, eosTokenIDs: [2]),   // greedy
        ]
        for config in settings {
            let out = model.generate(prompts: prompts, config: config)
            for (r, row) in out.enumerated() {
                #expect(row.tokens.count == row.logProbabilities.count && row.tokens.count == row.modelLogProbabilities.count)
                #expect(row.logProbabilities.allSatisfy { $0 <= 0 && $0.isFinite })
                let expected = teacherForcedLogProbs(model, prompt: prompts[r], tokens: row.tokens, config: config)
                expectClose(row.logProbabilities, expected.processed, atol: 2e-5, rtol: 0, "\(name) T \(config.temperature) row \(r) processed")
                expectClose(row.modelLogProbabilities, expected.raw, atol: 2e-5, rtol: 0, "\(name) T \(config.temperature) row \(r) raw")
            }
        }
        // Without filters at T = 1 the sampling distribution is the model's.
        let plain = model.generate(prompts: prompts, config: GenerationConfig(maxNewTokens: 6, temperature: 1, seed: 1))
        for row in plain { expectClose(row.logProbabilities, row.modelLogProbabilities, atol: 1e-5, rtol: 0, "\(name) T 1") }
    }

    /// Sampled ids are exactly those generate() gave before it ran through the training layers
    /// (same per-row random streams, bit-identical logits).
    @Test func sampledIdsAreUnchangedByTheRedesign() throws {
        for c in try loadCases("sampled_before_redesign.json", as: PinnedSample.self) {
            let model = try loadTinyModel(c.model)
            let config = GenerationConfig(maxNewTokens: c.maxNewTokens, temperature: c.temperature, topK: c.topK, topP: c.topP,
                                          minP: c.minP, repetitionPenalty: c.repetitionPenalty, eosTokenIDs: Set(c.eosTokenIds),
                                          seed: c.seed)
            #expect(generate(model: model, prompts: c.prompts, config: config) == c.expected, "\(c.model) \(c.name)")
        }
    }

    /// A row's tokens depend on its prompt, the seed and its stream, not on the rest of the batch:
    /// alone, or beside other prompts in another order, it samples the same tokens.
    @Test(arguments: ["llama_tied_gqa", "gpt2"])
    func eachRowSamplesFromItsOwnStream(_ name: String) throws {
        let model = try loadTinyModel(name)
        let config = GenerationConfig(maxNewTokens: 10, temperature: 1, topK: 40, eosTokenIDs: [2], seed: 42)
        let batch = model.generate(prompts: prompts, config: config, streams: [11, 12, 13])
        for (r, prompt) in prompts.enumerated() {
            let alone = model.generate(prompts: [prompt], config: config, streams: [11 + UInt64(r)])[0]
            #expect(alone.tokens == batch[r].tokens, "\(name) row \(r) alone")
            expectClose(alone.logProbabilities, batch[r].logProbabilities, atol: 1e-5, rtol: 0, "\(name) row \(r) alone")
        }
        let mixed = model.generate(prompts: [prompts[2], [9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9], prompts[0]], config: config,
                                   streams: [13, 99, 11])
        #expect(mixed[0].tokens == batch[2].tokens && mixed[2].tokens == batch[0].tokens, "\(name) reordered batch")
        // By default row i draws from stream i.
        let numbered = model.generate(prompts: prompts, config: config)
        #expect(numbered == model.generate(prompts: prompts, config: config, streams: [0, 1, 2]))
        #expect(numbered[0].tokens == model.generate(prompts: [prompts[0]], config: config)[0].tokens)
        // Different streams really differ.
        #expect(numbered.map(\.tokens) != batch.map(\.tokens))
    }

    /// Repeated prompts are prefilled once and continued from copies of that cache row: every
    /// row still samples what it samples alone, with the same log-probs.
    @Test(arguments: ["llama_tied_gqa", "qwen2", "gpt2"])
    func repeatedPromptsShareOnePrefill(_ name: String) throws {
        let model = try loadTinyModel(name)
        let config = GenerationConfig(maxNewTokens: 8, temperature: 1, topK: 40, eosTokenIDs: [2], seed: 7)
        let rows = [prompts[1], prompts[1], prompts[0], prompts[1], prompts[0]]
        let batch = model.generate(prompts: rows, config: config, streams: [3, 4, 5, 6, 7])
        for (r, prompt) in rows.enumerated() {
            let alone = model.generate(prompts: [prompt], config: config, streams: [3 + UInt64(r)])[0]
            #expect(alone.tokens == batch[r].tokens, "\(name) row \(r)")
            expectClose(alone.logProbabilities, batch[r].logProbabilities, atol: 1e-5, rtol: 0, "\(name) row \(r)")
            expectClose(alone.modelLogProbabilities, batch[r].modelLogProbabilities, atol: 1e-5, rtol: 0, "\(name) row \(r) raw")
        }
        // Rows of one prompt on different streams still differ.
        #expect(batch[0].tokens != batch[1].tokens || batch[0].tokens != batch[3].tokens)
    }

    /// A model that conforms with the training forward alone still generates (by recomputing the
    /// history every step) and gets the cached path's tokens and log-probs.
    @Test(arguments: ["qwen2", "gpt2"])
    func modelsWithoutACachedForwardStillGenerate(_ name: String) throws {
        let model = try loadTinyModel(name)
        for config in [GenerationConfig(maxNewTokens: 8, eosTokenIDs: [2]),
                       GenerationConfig(maxNewTokens: 8, temperature: 0.9, topP: 0.9, eosTokenIDs: [2], seed: 3)] {
            let cached = model.generate(prompts: prompts, config: config)
            let recomputed = HistoryOnly(model).generate(prompts: prompts, config: config)
            #expect(cached.map(\.tokens) == recomputed.map(\.tokens), "\(name) T \(config.temperature)")
            for (a, b) in zip(cached, recomputed) {
                expectClose(a.logProbabilities, b.logProbabilities, atol: 1e-5, rtol: 0, "\(name) processed")
                expectClose(a.modelLogProbabilities, b.modelLogProbabilities, atol: 1e-5, rtol: 0, "\(name) raw")
            }
        }
    }
}
