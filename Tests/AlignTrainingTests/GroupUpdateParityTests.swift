import AlignModels
import AlignTensor
import AlignTraining
import Foundation
import Testing
import TestSupport

/// One GRPO and one RLOO update against TRL 1.16's GRPOTrainer and RLOOTrainer on the same fixed
/// completions (Tests/Fixtures/online/group_update, made by scripts/fixtures/make_group_update_goldens.py):
/// policy `models/llama`, reference `models/llama_tied_gqa`, 2 prompts × 4 completions, a reward that
/// is a fixed function of the completion ids, SGD lr 0.05, no clipping. Metrics and weights within 1e-4.
@Suite struct GroupUpdateParityTests {
    static let folder = fixturesDirectory.appendingPathComponent("models/llama")

    @Test(arguments: ["grpo", "rloo"])
    func oneUpdateMatchesTRL(kind: String) throws {
        let golden = try Objectives.json("online/group_update/\(kind).json")
        let promptTable = golden["prompts"] as! [String: [NSNumber]]
        let completionTable = golden["completions"] as! [String: [[NSNumber]]]
        let names = promptTable.keys.sorted()
        let queries = names.map { promptTable[$0]!.map { Int32($0.intValue) } }
        let completions = names.map { completionTable[$0]!.map { $0.map { Int32($0.intValue) } } }
        var t = TrainingConfiguration()
        t.batchSize = 8; t.maxSteps = 1; t.learningRate = 0.05; t.optimizer = .sgd; t.lrScheduler = .constant; t.maxGradNorm = 0
        t.loggingSteps = 1
        var s = GroupSamplingSettings(numGenerations: 4, beta: kind == "grpo" ? 0.1 : 0.05)
        s.maxCompletionLength = 5; s.temperature = (golden["temperature"] as! NSNumber).floatValue
        let reward = FunctionRewardSource(name: "reward_func") { (input: RewardInput) -> Double in
            var total = 0
            for id in input.responseIDs { total += Int(id) }
            return Double(total % 7) / 3.0 - 1.0
        }
        let policy = try LlamaForCausalLM(directory: Self.folder)
        let method: GroupRelativeObjective.Method = kind == "grpo" ? .grpo(lossType: .dapo, scaleRewards: .group) : .rloo(normalizeAdvantages: false)
        let reference = try LlamaForCausalLM(directory: fixturesDirectory.appendingPathComponent("models/llama_tied_gqa"))
        var prompts: [OnlinePrompt] = []
        for (i, q) in queries.enumerated() { prompts.append(OnlinePrompt(ids: q, text: names[i], location: names[i])) }
        let objective = try GroupRelativeObjective(method: method, training: t, sampling: s, policy: policy, reference: reference,
                                                   rewards: try WeightedRewards(sources: [reward]), prompts: prompts,
                                                   eosIDs: [2], padID: 0, decode: { _ in "" }, saveModel: { _ in })
        objective.generateOverride = { (asked: [[Int32]]) -> [GeneratedSequence] in
            var served: [Int: Int] = [:]
            var out: [GeneratedSequence] = []
            for q in asked {
                let p = queries.firstIndex(of: q)!
                let i = served[p, default: 0]
                served[p] = i + 1
                let tokens = completions[p][i]
                let zeros = [Float](repeating: 0, count: tokens.count)
                let reason: FinishReason = tokens.last == 2 ? .endOfSequence : .maxNewTokens
                out.append(GeneratedSequence(tokens: tokens, logProbabilities: zeros, modelLogProbabilities: zeros, finishReason: reason))
            }
            return out
        }
        let dir = Objectives.temporaryDirectory()
        try objective.train(outputDirectory: dir, progress: { _ in })
        let row = try JSONSerialization.jsonObject(with: Data(String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").last!.utf8)) as! [String: Any]
        let trl = golden["metrics"] as! [String: Any]
        var keys = ["reward", "reward_std", "frac_reward_zero_std", "kl", "entropy", "clip_ratio/region_mean", "rewards/reward_func/mean",
                    "grad_norm", "loss"]
        if kind == "grpo" { keys += ["completions/mean_length", "completions/clipped_ratio", "completions/mean_terminated_length"] }
        for key in keys {
            Objectives.expectMetric(row[key] as? Double, trl[key], "\(kind) \(key)", rtol: 1e-4, atol: 1e-4)
        }
        // GRPO's gradient includes TRL 1.16's default `use_bias_correction_kl`: β·ρ·k3 with ρ = 1 in
        // value but differentiable, which adds β·k3 per token to ∂loss/∂log π (1 % of the norm here).
        let after = try GoldenFile("online/group_update/\(kind)_after.safetensors")
        for (name, p) in policy.trainableParameters() {
            expectClose(p.value, try after.tensor(name), atol: 1e-4, rtol: 1e-4)
        }
    }

    /// `use_bias_correction_kl` (TRL 1.16's default) multiplies k3 by ρ = exp(log π − log π_old): on
    /// policy its value is 1, so the loss and the logged KL are unchanged, but ∂loss/∂log π gains β·k3
    /// per token (÷ the step's tokens for dapo). Off, the gradient is β·(1 − π_ref/π) − A alone.
    @Test func biasCorrectedKLAddsBetaK3ToTheGradient() throws {
        let logprobs: [Float] = [-1.2, -0.7, -2.3, -0.4, -1.9], ref: [Float] = [-1.0, -1.5, -2.0, -0.3, -2.6]
        let advantages: [Float] = [0.8, -0.5], lengths = [2, 3], beta: Float = 0.1
        var results: [(loss: Float, kl: Double, grad: [Float])] = []
        for corrected in [false, true] {
            let p = Parameter(Tensor(shape: [5], values: logprobs))
            let (loss, stats) = GRPOLoss.evaluate(.init(logprobs: p.value, oldLogprobs: nil, refLogprobs: ref, advantages: advantages, lengths: lengths),
                                                  lossType: .dapo, beta: beta, epsilonLow: 0.2, epsilonHigh: 0.2, stepTokens: 5,
                                                  maxCompletionLength: 3, biasCorrectionKL: corrected)
            loss.backward()
            results.append((stats.loss, stats.klSum, p.grad!.toArray()))
        }
        #expect(abs(results[0].loss - results[1].loss) < 1e-6)
        #expect(abs(results[0].kl - results[1].kl) < 1e-5)
        let perTokenAdvantage: [Float] = [0.8, 0.8, -0.5, -0.5, -0.5]
        for i in 0..<5 {
            let d = ref[i] - logprobs[i], k3 = exp(d) - d - 1
            let plain = (-perTokenAdvantage[i] + beta * (1 - exp(d))) / 5
            #expect(abs(results[0].grad[i] - plain) < 1e-6, "token \(i) without correction")
            #expect(abs(results[1].grad[i] - (plain + beta * k3 / 5)) < 1e-6, "token \(i) with correction")
        }
    }
}
