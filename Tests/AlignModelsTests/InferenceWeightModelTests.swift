import AlignKernels
import AlignModels
import AlignNN
import AlignTensor
import Foundation
import Testing
import TestSupport

private let smolLM2Path: String = {
    let cache = ProcessInfo.processInfo.environment["ALIGN_CACHE"]
        ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/align").path
    return URL(fileURLWithPath: cache).appendingPathComponent("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").path
}()

/// Next-token log-probs of `ids` (one row) under `model`.
private func tokenLogProbs(_ model: some CausalLanguageModel, _ ids: [Int32]) -> [Float] {
    let seq = ids.count
    var targets = [Int32](repeating: -100, count: seq)
    for t in 0..<(seq - 1) { targets[t] = ids[t + 1] }
    let logits = withNoGrad { model.logits(ids: ids, batch: 1, seq: seq) }
    return Array(withNoGrad { logits.logSoftmaxGather(targets: targets) }.toArray().prefix(seq - 1))
}

/// Models held narrow for inference (``Module/holdMatrices(in:)``): forward log-probs within a
/// stated tolerance of fp32, and the cached decoding path consistent with the full forward.
@Suite struct InferenceWeightModelTests {
    /// Per-token log-prob tolerance of the tiny fixtures: f16 keeps 11 significant bits (relative
    /// rounding 2⁻¹¹ per weight), bf16 8 (2⁻⁸), Q8_0 an absolute step of max|block|/127 (measured
    /// 0.027 at most here, more than bf16's); errors of independent roundings average out over
    /// each dot product. The real SmolLM2 numbers are in the README.
    static func tolerance(_ format: ElementFormat) -> Float { format == .f16 ? 2e-3 : format == .bf16 ? 2e-2 : 6e-2 }

    @Test(arguments: ["llama", "llama_tied_gqa", "qwen2", "gpt2"], [ElementFormat.f16, .bf16, .q8_0])
    func forwardStaysWithinToleranceOfFloat32(_ name: String, _ format: ElementFormat) throws {
        let model = try loadTinyModel(name)
        let ids: [Int32] = (0..<24).map { Int32(($0 * 37 + 5) % min(model.vocabularySize, 97)) }
        let want = tokenLogProbs(model, ids)
        model.holdMatrices(in: format)
        // Q8_0 falls back to f16 for matrices whose rows are not whole 32-element blocks.
        #expect(model.matrixFormat == format || (format == .q8_0 && model.matrixFormat == .f16))
        let got = tokenLogProbs(model, ids)
        expectClose(got, want, atol: Self.tolerance(format), rtol: 0, "\(name) \(format) log-probs")
        // Widening back restores fp32 storage (the rounded values).
        model.holdMatrices(in: .f32)
        #expect(model.matrixFormat == .f32)
        expectClose(tokenLogProbs(model, ids), got, atol: 1e-4, rtol: 0, "\(name) widened back")
    }

    /// Decoding on 16-bit weights (skinny kernel, one row per step) equals the full forward on the
    /// same weights (tiled sgemm over many rows), up to accumulation order.
    @Test(arguments: ["llama_tied_gqa", "gpt2"])
    func cachedDecodingMatchesFullForwardOnHalfWeights(_ name: String) throws {
        let model = try loadTinyModel(name)
        model.holdMatrices(in: .f16)
        let prompt: [Int32] = [5, 9, 2, 7, 11, 3, 8, 1, 4, 6, 10, 12, 13, 14, 15, 16, 17, 18, 19]
        let out = model.generate(prompts: [prompt], config: GenerationConfig(maxNewTokens: 6))[0]
        let all = prompt + out.tokens
        let full = tokenLogProbs(model, all)
        // The model's log-prob of each generated token, from the full forward at its position.
        let fromFull = Array(full.suffix(out.tokens.count))
        expectClose(out.modelLogProbabilities, fromFull, atol: 1e-4, rtol: 0, "\(name) cached vs full")
    }

    /// The real SmolLM2-135M-Instruct (Q4_1 GGUF dequantised to fp32, then held narrow): the
    /// per-token log-prob error against fp32 on the fixture's chat exchange (the README quotes it).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: smolLM2Path), "SmolLM2 GGUF absent: run scripts/fetch-assets.sh"))
    func smolLM2LogProbErrorIsSmall() throws {
        let model = try LlamaForCausalLM(gguf: URL(fileURLWithPath: smolLM2Path))
        let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent("gguf/smollm2_logprobs.json"))
        let ids = ((try JSONSerialization.jsonObject(with: data) as! [String: Any])["ids"] as! [NSNumber]).map { Int32($0.intValue) }
        let want = tokenLogProbs(model, ids)
        for (format, tolerance) in [(ElementFormat.f16, Float(0.05)), (.bf16, 0.3), (.q8_0, 0.3)] {
            let reloaded = try LlamaForCausalLM(gguf: URL(fileURLWithPath: smolLM2Path))
            reloaded.holdMatrices(in: format)
            let got = tokenLogProbs(reloaded, ids)
            let errors = zip(got, want).map { abs($0 - $1) }
            let maxError = errors.max()!, meanError = errors.reduce(0, +) / Float(errors.count)
            let sumError = abs(got.reduce(0, +) - want.reduce(0, +))
            print("SmolLM2 \(format) vs fp32 over \(errors.count) tokens: max |Δ log p| \(maxError), mean \(meanError), |Δ Σ log p| \(sumError) (Σ \(want.reduce(0, +)))")
            #expect(maxError <= tolerance, "\(format): max per-token log-prob error \(maxError)")
        }
    }

    @Test func gradientsStillReachTrainableModels() throws {
        // A policy in fp32 trains while a reference copy is held in f16: the policy keeps fp32
        // parameters that require gradients and receive them.
        let policy = try loadTinyModel("llama_tied_gqa"), reference = try loadTinyModel("llama_tied_gqa")
        reference.freeze()
        reference.holdMatrices(in: .f16)
        let ids: [Int32] = [1, 2, 3, 4, 5, 6]
        let refLogits = withNoGrad { reference.logits(ids: ids, batch: 1, seq: ids.count) }
        let loss = (policy.logits(ids: ids, batch: 1, seq: ids.count) - refLogits).square().sum()
        loss.backward()
        let trainable = policy.trainableParameters()
        #expect(!trainable.isEmpty && trainable.allSatisfy { $0.parameter.value.format == .f32 && $0.parameter.grad != nil })
        #expect(reference.trainableParameters().isEmpty)
    }
}
