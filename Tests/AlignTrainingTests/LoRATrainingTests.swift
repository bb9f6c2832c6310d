import AlignKernels
import AlignModelIO
import AlignModels
import AlignNN
import AlignOptim
import AlignTensor
@testable import AlignTraining
import Foundation
import Testing
import TestSupport

/// DPO on adapters: the first step against TRL 1.16 + PEFT 0.21 (Tests/Fixtures/lora/dpo_step,
/// scripts/fixtures/make_lora_dpo_goldens.py), the reference being the same model with adapters
/// off; and the shared trainer's checkpoints and resume with adapters.
@Suite(.serialized) struct LoRATrainingTests {
    static func policy(_ variant: String) throws -> LlamaForCausalLM {
        let model = try DPOStepTests.model("llama")
        try PEFTAdapter.load(into: model, from: fixturesDirectory.appendingPathComponent("lora/llama_\(variant)"))
        return model
    }

    @Test(arguments: ["lora", "dora"])
    func firstDPOStepMatchesTRLWithPEFT(_ variant: String) throws {
        let policy = try Self.policy(variant)
        let reference = AdapterReference(policy)
        let rows = try DPOStepTests.batch()
        let loss = DPOLoss(loss: PreferenceLossConfiguration(terms: [.init(.sigmoid)], beta: 0.1))
        let ref = DPOLoss.referenceLogProbs(model: reference, batch: rows)
        let (value, metrics, _) = try loss.evaluate(policy: policy, batch: rows, reference: ref)
        value.backward()
        let params = policy.trainableParameters()
        #expect(params.allSatisfy { $0.name.contains(".lora_") })
        #expect(policy.namedParameters().allSatisfy { $0.parameter.grad == nil })
        let norm = clipGradientNorm(params.map(\.parameter), maxNorm: 1e6)
        let json = try Objectives.json("lora/dpo_step/metrics.json")
        let trl = (json["first_step_metrics"] as! [String: Any])[variant] as! [String: Any]
        let m = metrics.averages
        for key in ["loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected",
                    "logits/chosen", "logits/rejected", "entropy", "mean_token_accuracy"] {
            Objectives.expectMetric(m[key], trl[key], "\(variant) \(key)", rtol: 1e-4, atol: 1e-4)
        }
        Objectives.expectMetric(m["rewards/accuracies"], trl["rewards/accuracies"], "\(variant) accuracies", rtol: 0, atol: 0)
        Objectives.expectMetric(Double(norm), trl["grad_norm"], "\(variant) grad_norm", rtol: 1e-4, atol: 1e-5)
        let before = params.map { $0.parameter.value.copy() }
        SGD(parameters: params, learningRate: 0.01).step()
        let after = try GoldenFile("lora/dpo_step/\(variant)_after.safetensors")
        let start = try GoldenFile("lora/llama_\(variant)/adapter_model.safetensors")
        for ((name, p), old) in zip(params, before) {
            let key = "base_model.model." + name
            let want = try after.tensor(key).toArray(), from = try start.tensor(key).toArray()
            // The update itself, within 1e-3 of TRL's (relative to its largest entry).
            let ours = zip(p.value.toArray(), old.toArray()).map { $0 - $1 }, theirs = zip(want, from).map { $0 - $1 }
            let scale = max(theirs.map(abs).max() ?? 0, 1e-12)
            expectClose(ours, theirs, atol: 1e-3 * scale, rtol: 0, "\(variant) \(name) update")
        }
    }

    /// DPO on the fixture batch with adapters, the reference the policy with adapters off.
    final class AdapterPairsObjective: TrainingObjective {
        let policy: LlamaForCausalLM
        let reference: AdapterReference
        let inner: FixturePairsObjective
        let objective = DPOLoss(loss: PreferenceLossConfiguration(terms: [.init(.sigmoid)], beta: 0.1))
        var failOnCall: Int?
        private var calls = 0

        init() throws {
            inner = try FixturePairsObjective()
            policy = try DPOStepTests.model("llama")
            // Dropout on, so the saved dropout streams matter for an exact resume.
            try policy.attachAdapters(LoRAConfiguration(rank: 4, alpha: 8, dropout: 0.1, targetModules: ["all-linear"], useDoRA: true), seed: 3)
            reference = AdapterReference(policy)
        }
        var trainExampleCount: Int { 8 }
        var evalExampleCount: Int { 0 }
        var trainingConfiguration: TrainingConfiguration { TrainingConfiguration() }
        var trainableParameters: [(name: String, parameter: Parameter)] { policy.trainableParameters() }
        func prepare(log: (String) -> Void) throws {}
        func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics) {
            calls += 1
            if calls == failOnCall { throw FixturePairsObjective.Crash() }
            let b = inner.batch(examples)
            let ref = DPOLoss.referenceLogProbs(model: reference, batch: b)
            let r = try objective.evaluate(policy: policy, batch: b, reference: ref, scale: scale)
            return (r.loss, r.metrics)
        }
        func evaluationMetrics(examples: [Int]) throws -> StepMetrics { StepMetrics() }
        func tokenCount(examples: [Int]) -> Int { inner.tokenCount(examples: examples) }
        func saveModel(to directory: URL) throws { try PEFTAdapter.save(policy, baseModel: "llama", to: directory) }
        func loadModel(from directory: URL) throws { try policy.loadWeights(from: directory) }
    }

    @Test func adapterCheckpointsResumeBitIdentically() throws {
        var config = TrainingConfiguration()
        config.learningRate = 1e-2; config.batchSize = 4; config.maxSteps = 4; config.saveSteps = 2
        config.loggingSteps = 1; config.warmupSteps = 0
        let tmp = testScratchDirectory
        let straight = try AdapterPairsObjective()
        let baseBefore = straight.policy.namedParameters().map { $0.parameter.value.toArray() }
        try Trainer(objective: straight, configuration: config, outputDirectory: tmp.appendingPathComponent("lora-a-\(UUID())")).train()
        #expect(straight.policy.namedParameters().map { $0.parameter.value.toArray() } == baseBefore, "the base never moves")

        let dir = tmp.appendingPathComponent("lora-b-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let crashing = try AdapterPairsObjective()
        crashing.failOnCall = 3                  // step 3, after checkpoint-2
        #expect(throws: FixturePairsObjective.Crash.self) {
            try Trainer(objective: crashing, configuration: config, outputDirectory: dir).train()
        }
        let checkpoint = dir.appendingPathComponent("checkpoint-2")
        // The checkpoint holds the adapter (PEFT files) and optimiser state for adapter weights only.
        #expect(FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent("adapter_model.safetensors").path))
        #expect(!FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent("model.safetensors").path))
        let optimizer = try SafetensorsFile(url: checkpoint.appendingPathComponent("optimizer.safetensors"))
        #expect(!optimizer.tensorNames.isEmpty && optimizer.tensorNames.allSatisfy { $0.contains(".lora_") })

        let resumed = try AdapterPairsObjective()
        try Trainer(objective: resumed, configuration: config, outputDirectory: dir).train(resume: true)
        let a = straight.policy.adapterParameters(), b = resumed.policy.adapterParameters()
        #expect(a.map(\.name) == b.map(\.name))
        for (x, y) in zip(a, b) { #expect(x.parameter.value.toArray() == y.parameter.value.toArray(), "\(x.name)") }
        // And the final folder is a PEFT adapter that loads back onto a fresh base.
        let fresh = try DPOStepTests.model("llama")
        let c = try PEFTAdapter.load(into: fresh, from: dir)
        #expect(c.useDoRA && c.rank == 4)
    }
}
