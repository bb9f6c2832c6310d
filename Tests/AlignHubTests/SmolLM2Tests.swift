import AlignHub
import AlignModels
import AlignTemplates
import AlignTensor
import Foundation
import Testing
import TestSupport

/// The real model end to end: SmolLM2-135M-Instruct (GGUF Q4_1, dequantised), its tokenizer and
/// chat template straight from the file, and greedy generation with the KV cache.
@Suite struct SmolLM2Tests {
    @Test(.enabled(if: hasSmolLM2, "run scripts/fetch-assets.sh to fetch SmolLM2"))
    func greedyChatAnswersParis() throws {
        let bundle = try ModelBundle(path: smolLM2GGUF.path)
        let llama = try #require(bundle.model as? LlamaForCausalLM)
        let template = try #require(bundle.chatTemplate)
        let text = try template.render(messages: [["role": "user", "content": "What is the capital of France?"]],
                                       addGenerationPrompt: true)
        #expect(text.hasSuffix("<|im_start|>assistant\n"))
        let ids = bundle.tokenizer.encode(text, addSpecialTokens: false).map(Int32.init)
        let eos = Set([Int32(try #require(bundle.tokenizer.eosTokenID))])
        let out = withNoGrad {
            generate(model: llama, prompts: [ids], config: GenerationConfig(maxNewTokens: 12, eosTokenIDs: eos, padTokenID: bundle.padID))
        }[0]
        let answer = bundle.tokenizer.decode(out.map(Int.init), skipSpecialTokens: true)
        #expect(answer.contains("Paris"), "answer: \(answer)")
    }
}
