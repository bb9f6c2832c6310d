import AlignKernels
import AlignModelIO
import AlignModels
import AlignTensor
import Foundation
import Testing
import TestSupport

/// GPT2LMHeadModel against transformers (models/gpt2, gpt2/left_padding) and its own invariants.
@Suite struct GPT2Tests {
    @Test func logitsAndLogProbsMatchTransformers() throws {
        let model = try GPT2LMHeadModel(directory: fixturesDirectory.appendingPathComponent("models/gpt2"))
        let expected = try GoldenFile("models/gpt2/expected.safetensors")
        #expect(model.configuration.activationFunction == "gelu_new" && model.lmHead == nil)
        try expectFixtureParity(try fixtureLogits(model, expected), expected, "gpt2")
    }

    @Test func conv1DWeightsAreTransposedOnLoad() throws {
        let folder = fixturesDirectory.appendingPathComponent("models/gpt2")
        let model = try GPT2LMHeadModel(directory: folder)
        let checkpoint = try CheckpointReader(url: folder)
        let (shape, storage) = try checkpoint.loadFloat32("transformer.h.0.attn.c_attn.weight")
        #expect(shape == [32, 96])
        let linear = model.blocks[0].attn.cAttn.weight.value
        #expect(linear.shape == [96, 32])
        // Linear weight[o, i] is the Conv1D weight[i, o].
        let stored = storage.toArray(), ours = linear.toArray()
        var mismatches = 0
        for o in 0..<96 {
            for i in 0..<32 where ours[o * 32 + i] != stored[i * 96 + o] { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test func activationsAndAttentionScalingFollowTheConfiguration() throws {
        var configuration = GPT2Configuration(vocabSize: 40, nEmbd: 16, nHead: 2, nLayer: 2, nPositions: 32)
        let base = try GPT2LMHeadModel(configuration, seed: 3)
        let ids: [Int32] = [1, 5, 9, 30, 2, 7]
        let reference = withNoGrad { base(ids: ids, batch: 1, seq: 6) }.toArray()
        func variant(_ change: (inout GPT2Configuration) -> Void) throws -> [Float] {
            var c = configuration
            change(&c)
            let model = try GPT2LMHeadModel(c) { name, _ in
                let p = try #require(base.parameter(named: name))
                // Conv1D weights are requested in their (in, out) checkpoint layout.
                return p.value.shape.count == 2 && name.contains(".h.") ? p.value.transposed() : p.value
            }
            return withNoGrad { model(ids: ids, batch: 1, seq: 6) }.toArray()
        }
        #expect(try variant { _ in } == reference)
        for change: (inout GPT2Configuration) -> Void in [{ $0.activationFunction = "gelu" }, { $0.activationFunction = "relu" },
                                                          { $0.scaleAttnByInverseLayerIdx = true }] {
            #expect(try variant(change) != reference)
        }
        configuration.activationFunction = "quick_gelu"
        #expect(throws: ModelError.self) { _ = try GPT2LMHeadModel(configuration, seed: 0) }
    }

    /// The original `gpt2` upload names tensors without the `transformer.` prefix (`h.0.ln_1.weight`,
    /// `wte.weight`) and keeps the `attn.bias` mask buffers; such a folder loads to the same model.
    @Test func legacyUnprefixedCheckpointLoads() throws {
        let source = fixturesDirectory.appendingPathComponent("models/gpt2")
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
        let checkpoint = try CheckpointReader(url: source)
        var tensors = try checkpoint.tensorNames.map { name -> SafetensorsWriter.Tensor in
            let (shape, storage) = try checkpoint.loadFloat32(name)
            return SafetensorsWriter.Tensor(name: String(name.dropFirst("transformer.".count)), shape: shape, storage: storage)
        }
        tensors.append(SafetensorsWriter.Tensor(name: "h.0.attn.bias", shape: [1, 1, 4, 4], values: [Float](repeating: 1, count: 16)))
        try SafetensorsWriter.write(tensors, metadata: [("format", "pt")], to: folder.appendingPathComponent("model.safetensors"))
        let legacy = try GPT2LMHeadModel(directory: folder)
        let expected = try GoldenFile("models/gpt2/expected.safetensors")
        try expectFixtureParity(try fixtureLogits(legacy, expected), expected, "gpt2 (legacy names)")
    }

    /// Training goes through the fused-QKV slices, the learned positions and the tied head: every
    /// parameter receives a gradient, and sampled entries agree with central differences.
    @Test func gradientsMatchFiniteDifferences() throws {
        var configuration = GPT2Configuration(vocabSize: 13, nEmbd: 8, nHead: 2, nLayer: 2, nPositions: 8, nInner: 16)
        configuration.initializerRange = 0.5
        let model = try GPT2LMHeadModel(configuration, seed: 11)
        let ids: [Int32] = [1, 4, 7, 2, 9, 12, 3, 5, 0, 8]
        let targets: [Int32] = [4, 7, 2, 9, -100, 3, 5, 0, 8, -100]
        let mask: [Float] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
        func loss() -> Tensor { model.logits(ids: ids, batch: 2, seq: 5, attentionMask: mask).crossEntropy(targets: targets) }
        model.zeroGrad()
        loss().backward()
        for (name, parameter) in model.namedParameters() {
            let grad = try #require(parameter.grad, "\(name) has no gradient")
            #expect(grad.toArray().contains { $0 != 0 }, "\(name) gradient is all zero")
        }
        let h: Float = 1e-2
        for (name, index) in [("transformer.wte.weight", 37), ("transformer.wpe.weight", 11), ("transformer.h.0.attn.c_attn.weight", 150),
                              ("transformer.h.1.attn.c_attn.weight", 20), ("transformer.h.0.mlp.c_fc.bias", 3), ("transformer.ln_f.weight", 5)] {
            let parameter = try #require(model.parameter(named: name))
            let analytic = parameter.grad!.toArray()[index]
            let original = parameter.value.toArray()
            func lossWith(_ delta: Float) -> Float {
                var values = original
                values[index] += delta
                parameter.assign(Tensor(shape: parameter.shape, values: values))
                return withNoGrad { loss() }.item()
            }
            let numeric = (lossWith(h) - lossWith(-h)) / (2 * h)
            parameter.assign(Tensor(shape: parameter.shape, values: original))
            #expect(abs(numeric - analytic) <= 2e-3 + 2e-2 * abs(analytic), "\(name)[\(index)]: analytic \(analytic), numeric \(numeric)")
        }
    }

    /// transformers' GPT-2 forward numbers positions 0..<seq whatever the mask, so a left-padded
    /// row's tokens sit at shifted positions; with mask-derived positions (as `generate()` passes
    /// them) the row matches the unpadded sequence. Both against transformers (gpt2/left_padding).
    @Test func leftPaddingMatchesTransformers() throws {
        let model = try GPT2LMHeadModel(directory: fixturesDirectory.appendingPathComponent("models/gpt2"))
        let expected = try GoldenFile("gpt2/left_padding.safetensors")
        let ids = try expected.ints("input_ids"), mask = try expected.tensor("attention_mask").toArray()
        let rowMask = mask.flatMap { [Float](repeating: $0, count: 300) }
        func real(_ values: [Float]) -> [Float] { zip(values, rowMask).map { $1 == 0 ? 0 : $0 } }
        let byDefault = withNoGrad { model.logits(fromHidden: model.hiddenStates(ids: ids, batch: 2, seq: 6, attentionMask: mask, positions: nil)) }
        expectClose(real(byDefault.toArray()), real(try expected.tensor("logits_default").toArray()),
                    atol: 1e-4, rtol: 1e-4, "default positions")
        let positions: [Int32] = [0, 1, 2, 3, 4, 5, 0, 0, 0, 1, 2, 3]
        let explicit = withNoGrad { model.logits(fromHidden: model.hiddenStates(ids: ids, batch: 2, seq: 6, attentionMask: mask, positions: positions)) }
        expectClose(real(explicit.toArray()), real(try expected.tensor("logits_mask_positions").toArray()),
                    atol: 1e-4, rtol: 1e-4, "mask-derived positions")
        // The two conventions differ on the padded row, so each comparison above can fail.
        #expect(worstMismatch(real(byDefault.toArray()), real(explicit.toArray()), atol: 1e-3, rtol: 1e-3) != nil)
    }
}
