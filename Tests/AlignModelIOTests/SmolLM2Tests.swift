// The real SmolLM2-135M-Instruct Q4_1 GGUF (fetched by scripts/fetch-assets.sh), checked against
// transformers' loading of the same file (checksums in Fixtures/smollm2_checksums.json).
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
    @Test("metadata: llama architecture, vocabulary, chat template, config as transformers reads it")
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
        let config = try LlamaConfig(gguf: file)
        let data = try Data(contentsOf: fixturesURL.appendingPathComponent("smollm2_checksums.json"))
        let want = (try JSONSerialization.jsonObject(with: data) as! [String: Any])["config"] as! [String: Any]
        let got = config.huggingFaceDictionary
        for (key, value) in want {
            if let flag = value as? Bool, key == "tie_word_embeddings" {
                #expect(got[key] as? Bool == flag)
            } else {
                #expect(got[key] as? Int == (value as? NSNumber)?.intValue, "\(key)")
            }
        }
        #expect(config.rmsNormEpsilon == 1e-5 && config.ropeTheta == 100_000)
        #expect(config.bosTokenID == 1 && config.eosTokenID == 2)
        #expect(tokens[config.eosTokenID!] == "<|im_end|>")
    }

    @Test("every tensor maps to a Hugging Face name, and sampled tensors match transformers' checksums")
    func checksums() throws {
        let file = try GGUFFile(url: smolLM2URL)
        let config = try LlamaConfig(gguf: file)
        let names = file.tensors.compactMap { LlamaGGUF.huggingFaceName(forGGUFName: $0.name) }
        #expect(names.count == 272)  // tied: no lm_head
        let data = try Data(contentsOf: fixturesURL.appendingPathComponent("smollm2_checksums.json"))
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect(object["tensor_count"] as? Int == names.count + 1)  // transformers lists the tied lm_head too
        let tensors = object["tensors"] as! [String: [String: Any]]
        for (name, want) in tensors {
            #expect(names.contains(name))
            let tensor = try LlamaGGUF.loadTensor(name, from: file, config: config)
            #expect(tensor.shape == (want["shape"] as! [NSNumber]).map(\.intValue), "\(name)")
            var sum = 0.0, squares = 0.0, weighted = 0.0
            let values = UnsafeBufferPointer(start: tensor.storage.pointer, count: tensor.storage.count)
            for i in 0..<values.count {
                let v = Double(values[i])
                sum += v
                squares += v * v
                weighted += v * Double(i % 1013)
            }
            func close(_ a: Double, _ b: Double, _ what: String) {
                #expect(abs(a - b) <= 1e-6 * max(abs(b), 1) + 1e-9 * Double(values.count), "\(name) \(what): \(a) vs \(b)")
            }
            close(sum, (want["sum"] as! NSNumber).doubleValue, "sum")
            close(squares, (want["sum_squares"] as! NSNumber).doubleValue, "sum of squares")
            close(weighted, (want["weighted_sum"] as! NSNumber).doubleValue, "weighted sum")
            let first = (want["first"] as! [NSNumber]).map { Float($0.doubleValue) }
            #expect(Array(values.prefix(first.count)) == first, "\(name)")
        }
    }
}
