import AlignHub
import AlignModels
import AlignWorkflows
import Foundation
import Testing
import TestSupport

/// CompletionSampler is text in, text out over the model's own generate(), for every architecture.
@Suite struct CompletionSamplerTests {
    @Test(arguments: ["gpt2", "llama"])
    func samplesThroughTheModelsGenerate(_ name: String) throws {
        let bundle = try ModelBundle(path: fixturesDirectory.appendingPathComponent("models/\(name)").path)
        let prompts = ["the cat likes", "a dog"]
        let samples = try CompletionSampler.sample(bundle: bundle, prompts: prompts, perPrompt: 2, maxNewTokens: 6,
                                                   temperature: 1, topK: 20, seed: 4, stopAtNewline: false)
        #expect(samples.map(\.count) == [2, 2])
        // The same rows straight through generate(): one chunk, seed as the sampler derives it.
        let encoded = prompts.map { bundle.tokenizer.encode($0, addSpecialTokens: true).map(Int32.init) }
        let rows = encoded.flatMap { [$0, $0] }
        let eos = bundle.tokenizer.eosTokenID.map { Set([Int32($0)]) } ?? []
        let direct = bundle.model.generate(prompts: rows, config: GenerationConfig(
            maxNewTokens: 6, temperature: 1, topK: 20, eosTokenIDs: eos, padTokenID: bundle.padID, seed: 4))
        for (i, row) in direct.enumerated() {
            let ids = row.finishReason == .endOfSequence ? Array(row.tokens.dropLast()) : row.tokens
            let sample = samples[i / 2][i % 2]
            #expect(sample.ids == ids, "\(name) row \(i)")
            #expect(sample.text == bundle.tokenizer.decode(ids.map(Int.init), skipSpecialTokens: true))
        }
    }
}
