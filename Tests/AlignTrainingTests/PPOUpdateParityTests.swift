import AlignModels
import AlignTensor
import AlignTraining
import Foundation
import Testing
import TestSupport

/// One PPO rollout and its two updates against TRL's own PPOTrainer (trl 1.12, the last release
/// with `trl/experimental/ppo`) on the same fixed responses: Tests/Fixtures/online/ppo_update, made
/// by scripts/fixtures/make_ppo_update_golden.py. Policy `models/llama`, reference
/// `models/llama_tied_gqa`, reward and value models the llama body with the golden's seeded score
/// head; SGD lr 0.05, two PPO epochs of one mini-batch, missing_eos_penalty 1.
@Suite struct PPOUpdateParityTests {
    static let folder = fixturesDirectory.appendingPathComponent("models/llama")

    @Test func rolloutMetricsAndWeightsMatchTRL() throws {
        let golden = try Objectives.json("online/ppo_update/rollout.json")
        let queries = (golden["queries"] as! [[NSNumber]]).map { $0.map { Int32($0.intValue) } }
        let responses = (golden["responses"] as! [[NSNumber]]).map { $0.map { Int32($0.intValue) } }
        let temperature = (golden["temperature"] as! NSNumber).floatValue
        let head = try GoldenFile("online/ppo_update/score.safetensors").tensor("score.weight")
        func seqClassifier() throws -> RewardModel {
            let m = try RewardModel(directory: Self.folder)
            m.score.weight.assign(head.copy())
            return m
        }
        var c = PPOConfiguration()
        c.training.batchSize = 4; c.training.maxSteps = 2; c.training.learningRate = (golden["learning_rate"] as! NSNumber).floatValue
        c.training.optimizer = .sgd; c.training.lrScheduler = .constant; c.training.maxGradNorm = 0; c.training.loggingSteps = 2
        c.numPPOEpochs = 2; c.numMiniBatches = 1; c.temperature = temperature; c.stopToken = "eos"; c.missingEOSPenalty = 1
        c.responseLength = responses.map(\.count).max()!
        let policy = try LlamaForCausalLM(directory: Self.folder)
        let prompts = queries.enumerated().map { OnlinePrompt(ids: $1, text: "", location: "query \($0)") }
        let objective = try PPOObjective(policy: policy, reference: try LlamaForCausalLM(directory: fixturesDirectory.appendingPathComponent("models/llama_tied_gqa")),
                                         valueModel: try seqClassifier(),
                                         rewards: try WeightedRewards(sources: [RewardModelSource(model: try seqClassifier())]),
                                         configuration: c, prompts: prompts, eosID: 2, padID: 0, decode: { _ in "" }, saveModel: { _ in })
        // TRL records the sampled tokens' log-probs from the generation scores; the golden patched
        // those to the policy's own logits ÷ (temperature + 1e-7), which is what this computes.
        objective.generateOverride = { asked in
            asked.map { q in
                let response = responses[queries.firstIndex(of: q)!]
                let logps = withNoGrad {
                    ResponseRows(queries: [q], responses: [response]).logProbs(model: policy, temperature: temperature + 1e-7).logps.toArray()
                }
                return GeneratedSequence(tokens: response, logProbabilities: logps, modelLogProbabilities: logps,
                                         finishReason: response.last == 2 ? .endOfSequence : .maxNewTokens)
            }
        }
        let dir = Objectives.temporaryDirectory()
        try objective.train(outputDirectory: dir, progress: { _ in })
        let row = try JSONSerialization.jsonObject(with: Data(String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").last!.utf8)) as! [String: Any]
        let trl = golden["metrics"] as! [String: Any]
        for key in ["objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward", "objective/scores",
                    "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg", "val/clipfrac_avg",
                    "val/ratio", "val/ratio_var", "val/num_eos_tokens", "episode"] {
            Objectives.expectMetric(row[key] as? Double, trl[key], key, rtol: 1e-4, atol: 1e-4)
        }
        let after = try GoldenFile("online/ppo_update/after.safetensors")
        for (name, p) in policy.trainableParameters() {
            expectClose(p.value, try after.tensor("policy." + name), atol: 1e-4, rtol: 1e-4)
        }
        for (name, p) in objective.valueModel.trainableParameters() {
            expectClose(p.value, try after.tensor("value." + name), atol: 1e-4, rtol: 1e-4)
        }
    }
}
