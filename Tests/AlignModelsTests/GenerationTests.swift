import AlignKernels
import AlignNN
import AlignModels
import AlignTensor
import Foundation
import Testing
import TestSupport

/// One case of Tests/Fixtures/generation/<model>.json (scripts/fixtures/make_generation_goldens.py).
struct GenerationCase: Decodable {
    var name: String
    var prompts: [[Int32]]
    var maxNewTokens: Int
    var repetitionPenalty: Float
    var eosTokenIds: [Int32]
    var expected: [[Int32]]
    enum CodingKeys: String, CodingKey {
        case name, prompts, expected
        case maxNewTokens = "max_new_tokens", repetitionPenalty = "repetition_penalty", eosTokenIds = "eos_token_ids"
    }
}

private struct GenerationGoldens: Decodable {
    var model: String
    var cases: [GenerationCase]
}

/// A tiny checkpoint of Tests/Fixtures/models: GPT-2 for "gpt2", the Llama family otherwise.
func loadTinyModel(_ name: String) throws -> any CausalLanguageModel {
    let folder = fixturesDirectory.appendingPathComponent("models/\(name)")
    return name == "gpt2" ? try GPT2LMHeadModel(directory: folder) : try LlamaForCausalLM(directory: folder)
}

func loadGenerationGoldens(_ name: String) throws -> [GenerationCase] {
    let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent("generation/\(name).json"))
    return try JSONDecoder().decode(GenerationGoldens.self, from: data).cases
}

/// Index of the largest value (the first of equal maxima).
private func argmax(_ x: UnsafePointer<Float>, _ n: Int) -> Int32 {
    var best = 0
    for i in 1..<n where x[i] > x[best] { best = i }
    return Int32(best)
}

@Suite struct GenerationTests {
    // MARK: Cached forward = full forward

    /// Feeds `chunks` (token counts per call; prefill first) through the cache greedily and checks
    /// each call's logits against the full-sequence forward at the same positions.
    private func checkCachedLogits(_ name: String, prompts: [[Int32]], chunks: [Int], steps: Int) throws {
        let model = try loadTinyModel(name)
        let vocab = model.vocabularySize
        let batch = prompts.count, width = prompts.map(\.count).max()!
        var rows = prompts.map { [Int32](repeating: 0, count: width - $0.count) + $0 }
        var masks = prompts.map { [Float](repeating: 0, count: width - $0.count) + [Float](repeating: 1, count: $0.count) }
        let cache = KVCache(for: model, batch: batch, capacity: width + steps)
        // Every position's logits as the cache produced them, (batch, position) → vocab row.
        var cached = [[[Float]]](repeating: [], count: batch)
        var start = 0
        withNoGrad {
            for count in chunks {
                let ids = rows.flatMap { $0[start..<(start + count)] }
                let mask = masks.flatMap { $0[start..<(start + count)] }
                let logits = model.logits(appending: ids, mask: mask, to: cache, allPositions: true)
                #expect(logits.shape == [batch, count, vocab])
                for b in 0..<batch { for t in 0..<count {
                    cached[b].append(Array(UnsafeBufferPointer(start: logits.pointer + (b * count + t) * vocab, count: vocab)))
                } }
                start += count
            }
            #expect(start == width, "chunks must cover the prompt")
            for _ in 0..<steps {
                let next = (0..<batch).map { argmax(cached[$0].last!, vocab) }
                for b in 0..<batch { rows[b].append(next[b]); masks[b].append(1) }
                let logits = model.logits(appending: next, to: cache)
                #expect(logits.shape == [batch, vocab])
                for b in 0..<batch { cached[b].append(Array(UnsafeBufferPointer(start: logits.pointer + b * vocab, count: vocab))) }
            }
        }
        #expect(cache.length == width + steps)
        let seq = width + steps
        // Positions counted over the real tokens, as the cache numbers them (GPT-2's forward
        // would otherwise start every row at 0, padding included).
        let mask = masks.flatMap { $0 }
        let positions = LlamaForCausalLM.defaultPositions(batch: batch, seq: seq, attentionMask: mask)
        let full = withNoGrad {
            model.logits(fromHidden: model.hiddenStates(ids: rows.flatMap { $0 }, batch: batch, seq: seq,
                                                        attentionMask: mask, positions: positions))
        }
        for b in 0..<batch {
            for t in 0..<seq where masks[b][t] != 0 {
                let expected = Array(UnsafeBufferPointer(start: full.pointer + (b * seq + t) * vocab, count: vocab))
                expectClose(cached[b][t], expected, atol: 1e-5, rtol: 1e-5, "\(name) row \(b) position \(t)")
            }
        }
    }

    @Test(arguments: ["llama", "llama_tied_gqa", "qwen2", "mistral", "gpt2"])
    func cachedLogitsMatchFullForwardOnLeftPaddedBatch(_ name: String) throws {
        try checkCachedLogits(name, prompts: [[5, 17, 99, 140, 3, 250, 61], [44, 8, 201], [7, 7, 123, 90, 11]],
                              chunks: [7], steps: 8)
    }

    @Test(arguments: ["llama_tied_gqa", "gpt2"])
    func cachedLogitsMatchWhenThePromptArrivesInChunks(_ name: String) throws {
        // Later chunks of several tokens exercise the cached kernel with many queries and a past.
        try checkCachedLogits(name, prompts: [[5, 17, 99, 140, 3, 250, 61, 12, 13], [44, 8, 201, 77, 9, 31]],
                              chunks: [3, 4, 2], steps: 4)
    }

    @Test(arguments: [12, 40, 64, 72])
    func cachedAttentionKernelMatchesFullAttention(_ d: Int) {
        // Random q/k/v with GQA (4 heads on 2), left padding in row 1; the cached kernel over the
        // last 3 queries equals rows of the full causal kernel. Head sizes: 12 (a SIMD tail of 4),
        // 40 (a 32-float register block and one of 8), 64 (one 64-float block), 72 (64 + 8).
        let (batch, seq, heads, kvHeads) = (2, 9, 4, 2)
        let q = randomTensor([batch, seq, heads * d], seed: 1), k = randomTensor([batch, seq, kvHeads * d], seed: 2)
        let v = randomTensor([batch, seq, kvHeads * d], seed: 3)
        let mask = Tensor(shape: [batch, seq], values: [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1])
        let full = Tensor.empty([batch, seq, heads * d]), lse = Tensor.empty([batch * heads * seq])
        Kernels.attention(q: q.pointer, k: k.pointer, v: v.pointer, keyMask: mask.pointer,
                          shape: AttentionShape(batch: batch, seq: seq, heads: heads, kvHeads: kvHeads, headDim: d),
                          out: full.pointer, lse: lse.pointer)
        // A cache with spare slots (capacity 11) holding all 9 keys; queries are the last 3.
        let capacity = 11, past = 6, queries = seq - past
        let keys = Tensor.zeros([batch, capacity, kvHeads * d]), values = Tensor.zeros([batch, capacity, kvHeads * d])
        let cacheMask = Tensor.zeros([batch, capacity])
        for b in 0..<batch {
            (keys.pointer + b * capacity * kvHeads * d).update(from: k.pointer + b * seq * kvHeads * d, count: seq * kvHeads * d)
            (values.pointer + b * capacity * kvHeads * d).update(from: v.pointer + b * seq * kvHeads * d, count: seq * kvHeads * d)
            (cacheMask.pointer + b * capacity).update(from: mask.pointer + b * seq, count: seq)
        }
        let newQ = Tensor.empty([batch, queries, heads * d])
        for b in 0..<batch {
            (newQ.pointer + b * queries * heads * d).update(from: q.pointer + (b * seq + past) * heads * d, count: queries * heads * d)
        }
        let out = Tensor.empty([batch, queries, heads * d])
        Kernels.cachedAttention(q: newQ.pointer, keys: keys.pointer, values: values.pointer, keyMask: cacheMask.pointer,
                                past: past, shape: CachedAttentionShape(batch: batch, queries: queries, heads: heads,
                                                                        kvHeads: kvHeads, headDim: d, capacity: capacity),
                                out: out.pointer)
        var expected = [Float]()
        for b in 0..<batch {
            expected += Array(UnsafeBufferPointer(start: full.pointer + (b * seq + past) * heads * d, count: queries * heads * d))
        }
        expectClose(out.toArray(), expected, atol: 1e-6, rtol: 1e-5, "cached attention")
    }

    @Test func skinnyLinearMatchesSgemm() {
        // k = 45: one 32-wide block, one 8-wide block and a scalar tail; rows 1...9 and the larger
        // counts cover the four-row passes and the leftover rows, n = 70 both two-row weight
        // pairs and (over the threads' pieces) a lone last row.
        let (n, k) = (70, 45)
        let w = randomTensor([n, k], seed: 4), bias = randomTensor([n], seed: 5)
        for rows in Array(1...9) + [15, 16, 17, 24, 31, 32, 40, 57] {
            let x = randomTensor([rows, k], seed: UInt64(10 + rows))
            let expected = x.linear(weight: w, bias: bias)
            let y = Tensor.empty([rows, n])
            Kernels.skinnyLinear(x.pointer, rows: rows, k: k, weight: w.pointer, n: n, bias: bias.pointer, y.pointer)
            expectClose(y.toArray(), expected.toArray(), atol: 1e-5, rtol: 1e-5, "\(rows) rows")
        }
    }

    // MARK: Greedy parity with transformers

    @Test(arguments: ["llama", "llama_tied_gqa", "qwen2", "mistral", "gpt2"])
    func greedyGenerationMatchesTransformers(_ name: String) throws {
        let model = try loadTinyModel(name)
        for c in try loadGenerationGoldens(name) {
            let config = GenerationConfig(maxNewTokens: c.maxNewTokens, repetitionPenalty: c.repetitionPenalty,
                                          eosTokenIDs: Set(c.eosTokenIds))
            let got = generate(model: model, prompts: c.prompts, config: config)
            #expect(got == c.expected, "\(name) \(c.name)")
            // Each row alone gives the same tokens as in the padded batch.
            for (row, prompt) in c.prompts.enumerated() where c.name == "left_padded" {
                #expect(generate(model: model, prompts: [prompt], config: config) == [c.expected[row]], "\(name) \(c.name) row \(row) alone")
            }
        }
    }

    @Test func stopCallbackEndsOnlyItsRow() throws {
        let model = try loadTinyModel("qwen2")
        let c = try loadGenerationGoldens("qwen2")[0]
        let config = GenerationConfig(maxNewTokens: c.maxNewTokens, eosTokenIDs: Set(c.eosTokenIds),
                                      shouldStop: { row, tokens in row == 0 && tokens.count == 3 })
        let got = model.generate(prompts: c.prompts, config: config)
        #expect(got.map(\.tokens) == [Array(c.expected[0].prefix(3)), c.expected[1]])
        #expect(got.map(\.finishReason) == [.stopCondition, .maxNewTokens])
        // The EOS case: row 0 ends on its EOS, row 1 runs to the limit.
        let eos = try loadGenerationGoldens("qwen2")[1]
        let stopped = model.generate(prompts: eos.prompts, config: GenerationConfig(maxNewTokens: eos.maxNewTokens,
                                                                                    eosTokenIDs: Set(eos.eosTokenIds)))
        #expect(stopped.map(\.tokens) == eos.expected)
        #expect(stopped.map(\.finishReason) == [.endOfSequence, .maxNewTokens])
    }

    // MARK: Sampling

    @Test func seededSamplingIsReproducible() throws {
        let model = try loadTinyModel("llama_tied_gqa")
        let prompts: [[Int32]] = [[5, 17, 99, 140], [44, 8]]
        let config = GenerationConfig(maxNewTokens: 12, temperature: 1, seed: 42)
        let first = generate(model: model, prompts: prompts, config: config)
        #expect(first == generate(model: model, prompts: prompts, config: config))
        var other = config
        other.seed = 43
        #expect(first != generate(model: model, prompts: prompts, config: other))
        // Sampling really samples: it leaves the greedy path.
        #expect(first != generate(model: model, prompts: prompts, config: GenerationConfig(maxNewTokens: 12)))
    }

    @Test func topKOneAndTinyTemperatureEqualGreedy() throws {
        let model = try loadTinyModel("mistral")
        let c = try loadGenerationGoldens("mistral")[0]
        let greedy = GenerationConfig(maxNewTokens: c.maxNewTokens, eosTokenIDs: Set(c.eosTokenIds))
        let expected = generate(model: model, prompts: c.prompts, config: greedy)
        #expect(expected == c.expected)
        let topK = GenerationConfig(maxNewTokens: c.maxNewTokens, temperature: 1.5, topK: 1, eosTokenIDs: Set(c.eosTokenIds), seed: 9)
        #expect(generate(model: model, prompts: c.prompts, config: topK) == expected)
        // Greedy margins in the goldens exceed 1e-3, so at T = 1e-5 every rival has weight < e^-100.
        let cold = GenerationConfig(maxNewTokens: c.maxNewTokens, temperature: 1e-5, eosTokenIDs: Set(c.eosTokenIds), seed: 9)
        #expect(generate(model: model, prompts: c.prompts, config: cold) == expected)
    }

    /// Which tokens survive processing (finite logits).
    private func kept(_ logits: [Float], _ config: GenerationConfig, seen: Set<Int32> = []) -> Set<Int> {
        var l = logits
        TokenSampler(config: config).process(&l, seen: seen)
        return Set(l.indices.filter { l[$0] > -.infinity })
    }

    // Probabilities 0.1, 0.5, 0.05, 0.2, 0.15 at indices 0...4.
    private let probabilities: [Float] = [0.1, 0.5, 0.05, 0.2, 0.15]
    private var logits: [Float] { probabilities.map { Foundation.log($0) + 3 } }

    @Test func topPKeepsTheNucleus() {
        // Ascending cumulative mass: 0.05, 0.15, 0.30, 0.50, 1.0; drop while ≤ 1 − p.
        #expect(kept(logits, GenerationConfig(temperature: 1, topP: 0.6)) == [1, 3])
        #expect(kept(logits, GenerationConfig(temperature: 1, topP: 0.75)) == [1, 3, 4])
        #expect(kept(logits, GenerationConfig(temperature: 1, topP: 0.99)) == [0, 1, 2, 3, 4])
        #expect(kept(logits, GenerationConfig(temperature: 1, topP: 0.01)) == [1])
    }

    @Test func minPKeepsTokensNearTheTop() {
        #expect(kept(logits, GenerationConfig(temperature: 1, minP: 0.35)) == [1, 3])
        #expect(kept(logits, GenerationConfig(temperature: 1, minP: 0.25)) == [1, 3, 4])
        #expect(kept(logits, GenerationConfig(temperature: 1, minP: 0.15)) == [0, 1, 3, 4])
    }

    @Test func topKKeepsTiesWithTheKth() {
        #expect(kept(logits, GenerationConfig(temperature: 1, topK: 2)) == [1, 3])
        #expect(kept([1, 3, 3, 2], GenerationConfig(temperature: 1, topK: 1)) == [1, 2])
        #expect(kept([1, 3, 3, 2], GenerationConfig(temperature: 1, topK: 3)) == [1, 2, 3])
    }

    @Test func processorsRunInTransformersOrder() {
        // Repetition penalty, then temperature: [2, −2, 1] with ids 0, 1 seen, penalty 2, T 0.5.
        var l: [Float] = [2, -2, 1]
        TokenSampler(config: GenerationConfig(temperature: 0.5, repetitionPenalty: 2)).process(&l, seen: [0, 1])
        #expect(l == [2, -8, 2])
        // Greedy applies the penalty only: [3, 2.5] with id 0 seen and penalty 1.5 → token 1.
        var sampler = TokenSampler(config: GenerationConfig(repetitionPenalty: 1.5))
        var g: [Float] = [3, 2.5]
        #expect(sampler.next(&g, seen: [0]) == 1)
        // Temperature before top-p: T = 0.5 squares the probabilities before renormalising, so
        // p = 0.8 keeps fewer tokens than at T = 1. Ascending cumulative masses at T = 0.5:
        // 0.008, 0.038, 0.108, 0.231, 1 → keep {1, 3}; at T = 1: 0.05, 0.15, 0.30, … → {1, 3, 4}.
        #expect(kept(logits, GenerationConfig(temperature: 0.5, topP: 0.8)) == [1, 3])
        #expect(kept(logits, GenerationConfig(temperature: 1, topP: 0.8)) == [1, 3, 4])
    }

    @Test func samplingFollowsTheDistribution() {
        var sampler = TokenSampler(config: GenerationConfig(temperature: 1, seed: 5))
        var counts = [Int](repeating: 0, count: probabilities.count)
        let draws = 20_000
        for _ in 0..<draws {
            var l = logits
            counts[Int(sampler.next(&l, seen: []))] += 1
        }
        // Standard error at p = 0.5 is 0.0035; 0.015 is more than 4 of them.
        for (i, p) in probabilities.enumerated() {
            #expect(abs(Float(counts[i]) / Float(draws) - p) < 0.015, "token \(i): \(counts[i]) of \(draws)")
        }
    }
}
