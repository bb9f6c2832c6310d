import AlignKernels
import AlignModelIO
import AlignModels
import AlignNN
import AlignTensor
import Foundation
import Testing
import TestSupport

/// LoRA, rsLoRA and DoRA adapters against PEFT 0.21 (scripts/fixtures/make_lora_goldens.py): the
/// adapter folders PEFT wrote load onto the fixture models and give PEFT's logits.
@Suite struct LoRATests {
    static let cases = ["llama_lora", "llama_rslora", "llama_dora", "qwen2_lora", "qwen2_rslora", "qwen2_dora"]

    func base(_ name: String) throws -> LlamaForCausalLM {
        let model = String(name.prefix { $0 != "_" })
        return try LlamaForCausalLM(directory: fixturesDirectory.appendingPathComponent("models/\(model)"))
    }

    func logProbs(_ logits: Tensor) -> [Float] {
        withNoGrad { logits.logSoftmax().toArray() }
    }

    @Test(arguments: cases)
    func peftAdapterGivesPEFTLogits(_ name: String) throws {
        let model = try base(name)
        let folder = fixturesDirectory.appendingPathComponent("lora/\(name)")
        let config = try PEFTAdapter.load(into: model, from: folder)
        #expect(config.rank == 4 && config.alpha == 8)
        #expect(config.useDoRA == name.hasSuffix("dora") && config.useRSLoRA == name.hasSuffix("rslora"))
        let expected = try GoldenFile("lora/\(name)/expected.safetensors")
        let ids = try expected.ints("input_ids")
        let logits = withNoGrad { model(ids: ids, batch: 2, seq: 7) }
        let want = try expected.tensor("logits")
        expectClose(logits.toArray(), want.toArray(), atol: 1e-4, rtol: 1e-4, "\(name) logits")
        expectClose(logProbs(logits), logProbs(want), atol: 1e-4, rtol: 0, "\(name) log-probs")
        // Adapters off: the base model again.
        let plain = try base(name)
        let off = withNoGrad { withAdaptersDisabled { model(ids: ids, batch: 2, seq: 7) } }
        expectClose(off.toArray(), withNoGrad { plain(ids: ids, batch: 2, seq: 7) }.toArray(), atol: 0, rtol: 0, "\(name) disabled")
    }

    @Test(arguments: cases)
    func savedAdapterReloadsAndMerges(_ name: String) throws {
        let model = try base(name)
        try PEFTAdapter.load(into: model, from: fixturesDirectory.appendingPathComponent("lora/\(name)"))
        let dir = testScratchDirectory.appendingPathComponent("lora-\(name)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try PEFTAdapter.save(model, baseModel: "base", to: dir)
        let again = try base(name)
        try PEFTAdapter.load(into: again, from: dir)
        let ids: [Int32] = [1, 20, 33, 44, 5, 6]
        let a = withNoGrad { model(ids: ids, batch: 1, seq: 6) }
        let b = withNoGrad { again(ids: ids, batch: 1, seq: 6) }
        expectClose(b.toArray(), a.toArray(), atol: 0, rtol: 0, "\(name) reloaded")
        again.mergeAdapters()
        #expect(!again.hasAdapters)
        let merged = withNoGrad { again(ids: ids, batch: 1, seq: 6) }
        expectClose(merged.toArray(), a.toArray(), atol: 1e-4, rtol: 1e-4, "\(name) merged")
    }

    @Test(arguments: [false, true])
    func newAdapterStartsAsTheBaseAndOnlyAdaptersGetGradients(_ dora: Bool) throws {
        let model = try base("qwen2")
        let ids: [Int32] = [3, 14, 15, 92, 65, 35]
        let before = withNoGrad { model(ids: ids, batch: 1, seq: 6) }
        let attached = try model.attachAdapters(LoRAConfiguration(rank: 4, alpha: 16, targetModules: ["all-linear"], useDoRA: dora), seed: 7)
        #expect(attached.count == 14)          // 2 layers × 7 projections; never lm_head
        #expect(attached.contains("model.layers.1.mlp.down_proj"))
        let after = model(ids: ids, batch: 1, seq: 6)
        expectClose(after.toArray(), before.toArray(), atol: 1e-5, rtol: 1e-5, "B = 0 leaves the model unchanged")
        let trainable = model.trainableParameters()
        #expect(trainable.count == 14 * (dora ? 3 : 2))
        #expect(trainable.allSatisfy { $0.name.contains(".lora_") })
        after.square().sum().backward()
        #expect(model.namedParameters().allSatisfy { $0.parameter.grad == nil }, "frozen base: no weight gradients")
        // A's gradient is zero while B is zero; B's is not.
        #expect(trainable.filter { $0.name.hasSuffix("lora_B.weight") }.allSatisfy { ($0.parameter.grad?.toArray().contains { $0 != 0 }) ?? false })
    }

    @Test func shortNamesAndFullPathsTarget() throws {
        let model = try base("llama")
        let c = LoRAConfiguration(targetModules: ["model.layers.0.self_attn.q_proj", "up_proj"])
        let attached = try model.attachAdapters(c)
        #expect(attached == ["model.layers.0.self_attn.q_proj", "model.layers.0.mlp.up_proj", "model.layers.1.mlp.up_proj"])
        #expect(throws: LoRAError.self) { try base("llama").attachAdapters(LoRAConfiguration(targetModules: ["qproj"])) }
    }

    /// The merged-weight product that adapted layers use for many rows (training, prefill) gives
    /// the separate path's output, x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ, and the same gradients for x, W, A, B
    /// and the bias; through ``Linear`` too.
    /// Rank 4 runs the adapter products on cblas, rank 16 on the narrow kernels.
    @Test(arguments: [false, true], [4, 16])
    func mergedProductMatchesTheSeparatePath(_ hasBias: Bool, _ r: Int) throws {
        var g = RandomGenerator(seed: 11)
        let (rows, inF, outF, s): (Int, Int, Int, Float) = (40, 12, 10, 0.5)
        #expect(Tensor.lowRankMergePays(rows: rows, inFeatures: inF, outFeatures: outF))     // 40·22 > 12·10
        #expect(!Tensor.lowRankMergePays(rows: 2, inFeatures: inF, outFeatures: outF))
        let x = Parameter(Tensor.randomNormal([rows, inF], generator: &g))
        let w = Parameter(Tensor.randomNormal([outF, inF], generator: &g))
        let a = Parameter(Tensor.randomNormal([r, inF], generator: &g))
        let b = Parameter(Tensor.randomNormal([outF, r], generator: &g))
        let bias = hasBias ? Parameter(Tensor.randomNormal([outF], generator: &g)) : nil
        let probe = Tensor.randomNormal([rows, outF], generator: &g)
        let all = [x, w, a, b] + (bias.map { [$0] } ?? [])
        func valueAndGradients(_ y: Tensor) -> [[Float]] {
            all.forEach { $0.grad = nil }
            (y * probe).sum().backward()
            return [y.toArray()] + all.map { $0.grad?.toArray() ?? [] }
        }
        let fused = valueAndGradients(x.value.lowRankLinear(weight: w.value, bias: bias?.value, a: a.value, b: b.value, scaling: s))
        let separate = valueAndGradients(x.value.linear(weight: w.value, bias: bias?.value)
                                         + (x.value.linear(weight: a.value) * s).linear(weight: b.value))
        for (i, name) in ["y", "dx", "dW", "dA", "dB", "dbias"].prefix(fused.count).enumerated() {
            expectClose(fused[i], separate[i], atol: 1e-4, rtol: 1e-4, name)
        }
        // Through an adapted Linear: many rows take the merged product, a few the separate path.
        let layer = Linear(weight: w.value, bias: bias?.value)
        layer.freeze()
        var ag = RandomGenerator(seed: 5)
        layer.adapter = LoRAAdapter(weight: w.value, configuration: LoRAConfiguration(rank: r, alpha: Float(r) * s), generator: &ag)
        layer.adapter!.b.assign(b.value)
        for n in [rows, 2] {
            let xs = Tensor.randomNormal([n, inF], generator: &g)
            let want = withNoGrad {
                xs.linear(weight: w.value, bias: bias?.value) + (xs.linear(weight: layer.adapter!.a.value) * s).linear(weight: b.value)
            }
            expectClose(withNoGrad { layer(xs) }.toArray(), want.toArray(), atol: 1e-4, rtol: 1e-4, "Linear, \(n) rows")
        }
    }
}
