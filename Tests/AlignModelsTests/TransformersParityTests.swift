import AlignKernels
import AlignModelIO
import AlignModels
import AlignTensor
import Foundation
import Testing
import TestSupport

/// Tiny random Hugging Face checkpoints (scripts/fixtures/make_tiny_models.py) loaded from their
/// folders and run against the logits and log-probs transformers produced for the same ids.
@Suite struct TransformersParityTests {
    @Test(arguments: ["llama", "llama_tied_gqa", "qwen2", "mistral"])
    func logitsAndLogProbsMatchTransformers(_ name: String) throws {
        let folder = fixturesDirectory.appendingPathComponent("models/\(name)")
        let model = try LlamaForCausalLM(directory: folder)
        let expected = try GoldenFile("models/\(name)/expected.safetensors")
        let ids = try expected.ints("input_ids"), mask = try expected.tensor("attention_mask").toArray()
        let (batch, seq) = (2, 9)
        let logits = withNoGrad { model(ids: ids, batch: batch, seq: seq, attentionMask: mask) }
        // Compare real (unpadded) positions; transformers' values at padding are arbitrary.
        let vocab = model.configuration.vocabSize
        let rowMask = mask.flatMap { [Float](repeating: $0, count: vocab) }
        let ours = zip(logits.toArray(), rowMask).map { $1 == 0 ? 0 : $0 }
        let theirs = zip(try expected.tensor("logits").toArray(), rowMask).map { $1 == 0 ? 0 : $0 }
        expectClose(ours, theirs, atol: 1e-4, rtol: 1e-4, "\(name) logits")
        // Summed log-probs of tokens 4..8 (targets shifted by one, completion mask applied).
        let completion = try expected.tensor("completion_mask").toArray()
        var targets = [Int32](repeating: -100, count: batch * seq)
        for b in 0..<batch { for t in 0..<(seq - 1) where completion[b * seq + t + 1] != 0 {
            targets[b * seq + t] = ids[b * seq + t + 1]
        } }
        let tokenLogps = logits.logSoftmaxGather(targets: targets).reshaped([batch, seq]).sum(axis: 1)
        expectClose(tokenLogps.toArray(), try expected.tensor("seq_logps_f64").toArray(), atol: 1e-4, rtol: 1e-4, "\(name) sequence log-probs")
    }

    @Test func missingTensorIsNamed() throws {
        let folder = fixturesDirectory.appendingPathComponent("models/llama")
        let configuration = try LlamaConfiguration(contentsOf: folder.appendingPathComponent("config.json"))
        #expect(throws: ModelError.self) {
            _ = try LlamaForCausalLM(configuration) { name, shape in
                if name == "model.norm.weight" { throw ModelError.missingWeight(name) }
                return Tensor.zeros(shape)
            }
        }
    }
}
