// The real SmolLM2-135M-Instruct Q4_1 GGUF (fetched by scripts/fetch-assets.sh) as a file: header,
// metadata, tokenizer entries. Its mapping onto Hugging Face names and configuration is checked
// against transformers in AlignModelsTests (LlamaWeightMappingTests.swift).
import AlignKernels
import Foundation
import Testing
@testable import AlignModelIO

private let smolLM2URL: URL = {
    let cache = ProcessInfo.processInfo.environment["ALIGN_CACHE"]
        ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/align").path
    return URL(fileURLWithPath: cache).appendingPathComponent("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
}()

private let smolLM2Present = FileManager.default.fileExists(atPath: smolLM2URL.path)

@Suite("SmolLM2 GGUF (real file)", .enabled(if: smolLM2Present, "SmolLM2 GGUF absent: run scripts/fetch-assets.sh"))
struct SmolLM2Tests {
    @Test("metadata: llama architecture, vocabulary, chat template")
    func metadata() throws {
        let file = try GGUFFile(url: smolLM2URL)
        #expect(file.version == 3)
        #expect(file.architecture == "llama")
        #expect(file.tensors.count == 272)
        let tokens = try #require(file.metadata["tokenizer.ggml.tokens"]?.stringArrayValue)
        #expect(tokens.count == 49152)
        #expect(file.metadata["tokenizer.ggml.merges"]?.arrayValue?.count == 48900)
        let template = try #require(file.metadata["tokenizer.chat_template"]?.stringValue)
        #expect(template.contains("<|im_start|>"))
        #expect(file.metadata["tokenizer.ggml.eos_token_id"]?.intValue == 2)
        #expect(tokens[2] == "<|im_end|>")
    }
}
