import AlignKernels
import AlignNN
import AlignModels
import AlignOptim
import AlignTensor
@testable import AlignTraining
import Foundation
import Testing
import TestSupport

/// The full first DPO step on the tiny Llama against TRL 1.16 (Tests/Fixtures/dpo): the same
/// collated batch, policy `models/llama`, reference either a frozen copy or `models/llama_tied_gqa`.
@Suite struct DPOStepTests {
    static func batch() throws -> TokenRows {
        let f = try GoldenFile("dpo/logps.safetensors")
        return TokenRows(ids: try f.ints("input_ids"), attentionMask: try f.tensor("attention_mask").toArray(),
                         completionMask: try f.tensor("completion_mask").toArray(), rows: 16, length: 64)
    }

    static func model(_ name: String) throws -> LlamaForCausalLM {
        try LlamaForCausalLM(directory: fixturesDirectory.appendingPathComponent("models/\(name)"))
    }

    static func trlMetrics(_ group: String) throws -> [String: Double] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: fixturesDirectory.appendingPathComponent("dpo/metrics.json"))) as! [String: Any]
        return ((json["first_step_metrics"] as! [String: Any])[group] as! [String: Any])["sigmoid"] as! [String: Double]
    }

    @Test func sequenceLogProbsMatchTRL() throws {
        let f = try GoldenFile("dpo/logps.safetensors")
        let policy = try Self.model("llama"), reference = try Self.model("llama_tied_gqa")
        let rows = try Self.batch()
        let ours = withNoGrad { SequenceLogProbs.compute(model: policy, rows: rows).logps }.toArray()
        let expected = try f.tensor("distinct_ref.policy_chosen_logps_f64").toArray() + f.tensor("distinct_ref.policy_rejected_logps_f64").toArray()
        expectClose(ours, expected, atol: 1e-4, rtol: 1e-5, "policy log-probs")
        let ref = DPOLoss.referenceLogProbs(model: reference, batch: rows)
        expectClose(ref.chosen + ref.rejected,
                    try f.tensor("distinct_ref.ref_chosen_logps_f64").toArray() + f.tensor("distinct_ref.ref_rejected_logps_f64").toArray(),
                    atol: 1e-4, rtol: 1e-5, "reference log-probs")
    }

    @Test(arguments: ["frozen_copy", "distinct_ref"])
    func oneSGDStepMatchesTRL(_ group: String) throws {
        let policy = try Self.model("llama")
        let reference = try Self.model(group == "frozen_copy" ? "llama" : "llama_tied_gqa")
        let rows = try Self.batch()
        let objective = DPOLoss(loss: PreferenceLossConfiguration(terms: [.init(.sigmoid)], beta: 0.1))
        let ref = DPOLoss.referenceLogProbs(model: reference, batch: rows)
        let (loss, metrics, _) = try objective.evaluate(policy: policy, batch: rows, reference: ref)
        loss.backward()
        let params = policy.namedParameters()
        let norm = clipGradientNorm(params.map(\.parameter), maxNorm: 1e6)
        let trl = try Self.trlMetrics(group)
        let m = metrics.averages
        for key in ["loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected",
                    "logits/chosen", "logits/rejected", "entropy", "mean_token_accuracy"] {
            expectClose([Float(m[key]!)], [Float(trl[key]!)], atol: 2e-5, rtol: 1e-5, "\(group) \(key)")
        }
        #expect(Float(m["rewards/accuracies"]!) == Float(trl["rewards/accuracies"]!))
        expectClose([norm], [Float(trl["grad_norm"]!)], atol: 1e-5, rtol: 1e-4, "\(group) grad_norm")
        SGD(parameters: params, learningRate: 0.01).step()
        let after = try GoldenFile("dpo/sgd_step.\(group).safetensors")
        for (name, p) in params {
            expectClose(p.value, try after.tensor(name), atol: 1e-6, rtol: 1e-5, "\(group) \(name) after one SGD step")
        }
    }
}

/// Packing rows end to end (no padding computed) gives the padded computation's log-probs and
/// gradients.
@Suite struct PackingTests {
    /// Hides the model's packed path, so SequenceLogProbs pads.
    final class PaddedOnly: CausalLanguageModel {
        let base: LlamaForCausalLM
        init(_ base: LlamaForCausalLM) { self.base = base }
        var vocabularySize: Int { base.vocabularySize }
        var hiddenSize: Int { base.hiddenSize }
        var maxSequenceLength: Int { base.maxSequenceLength }
        func hiddenStates(ids: [Int32], batch: Int, seq: Int, attentionMask: [Float]?, positions: [Int32]?) -> Tensor {
            base.hiddenStates(ids: ids, batch: batch, seq: seq, attentionMask: attentionMask, positions: positions)
        }
        func logits(fromHidden h: Tensor) -> Tensor { base.logits(fromHidden: h) }
        func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) { base.forEachParameter(prefix: prefix, visit) }
    }

    @Test func packedEqualsPadded() throws {
        let model = try DPOStepTests.model("llama")
        let rows = try DPOStepTests.batch()
        let packed = SequenceLogProbs.compute(model: model, rows: rows).logps
        packed.sum().backward()
        let packedGrads = model.namedParameters().map { $0.parameter.grad!.toArray() }
        model.zeroGrad()
        let padded = SequenceLogProbs.compute(model: PaddedOnly(model), rows: rows).logps
        padded.sum().backward()
        expectClose(packed.toArray(), padded.toArray(), atol: 1e-4, rtol: 1e-5, "log-probs")
        for ((name, p), g) in zip(model.namedParameters(), packedGrads) {
            expectClose(g, p.grad!.toArray(), atol: 1e-5, rtol: 1e-3, "gradient of \(name)")
        }
    }

    /// Sharing each pair's prompt (computed once, attended to by both completions) gives the
    /// padded computation's log-probs and gradients, and really computes fewer rows.
    @Test func sharedPromptEqualsPadded() throws {
        let model = try DPOStepTests.model("llama")
        let rows = try DPOStepTests.batch()
        let weights = randomTensor([rows.rows], seed: 7, low: 0.5, high: 1.5)
        let shared = SequenceLogProbs.compute(model: model, rows: rows, sharingPairPrefixes: true).logps
        (shared * weights).sum().backward()
        let sharedGrads = model.namedParameters().map { $0.parameter.grad!.toArray() }
        model.zeroGrad()
        let padded = SequenceLogProbs.compute(model: PaddedOnly(model), rows: rows).logps
        (padded * weights).sum().backward()
        expectClose(shared.toArray(), padded.toArray(), atol: 1e-4, rtol: 1e-5, "log-probs")
        for ((name, p), g) in zip(model.namedParameters(), sharedGrads) {
            expectClose(g, p.grad!.toArray(), atol: 1e-5, rtol: 1e-3, "gradient of \(name)")
        }
        let layout = SequenceLogProbs.packedLayout(rows, sharingPairPrefixes: true)
        let unshared = SequenceLogProbs.packedLayout(rows, sharingPairPrefixes: false)
        #expect(layout.packing.groups.allSatisfy { $0.prefix > 0 && $0.branches.count == 2 })
        #expect(layout.ids.count < unshared.ids.count, "\(layout.ids.count) rows shared vs \(unshared.ids.count)")
    }
}
