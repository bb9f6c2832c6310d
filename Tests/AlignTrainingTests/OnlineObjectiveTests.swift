import AlignJSON
import AlignModels
import AlignTensor
import AlignTraining
import Foundation
import Testing
import TestSupport

/// PPO, GRPO and RLOO end to end on the tiny Llama fixture: they train, log TRL's metric names,
/// dump rollouts, and resume from a checkpoint written mid-rollout bit for bit.
@Suite struct OnlineObjectiveTests {
    static let folder = fixturesDirectory.appendingPathComponent("models/llama")

    static func prompts() -> [OnlinePrompt] {
        (0..<6).map { (i: Int) -> OnlinePrompt in
            var ids: [Int32] = [1]
            for k in 0..<(2 + i % 3) { ids.append(Int32(10 + 7 * i + k)) }
            return OnlinePrompt(ids: ids, text: "p\(i)", location: "prompt \(i)")
        }
    }

    /// A reward that likes token ids below 100 and short responses.
    static func reward() -> FunctionRewardSource {
        FunctionRewardSource(name: "low_ids") { input in
            Double(input.responseIDs.filter { $0 < 100 }.count) / Double(max(1, input.responseIDs.count))
        }
    }

    static func ppo(_ configure: (inout PPOConfiguration) -> Void = { _ in }) throws -> PPOObjective {
        var c = PPOConfiguration()
        c.training.batchSize = 2; c.training.gradientAccumulationSteps = 2; c.training.maxSteps = 8
        c.training.learningRate = 1e-3; c.training.loggingSteps = 4; c.responseLength = 6; c.stopToken = "eos"
        c.numPPOEpochs = 2; c.numMiniBatches = 2; c.missingEOSPenalty = 0.5; c.klTarget = 1
        configure(&c)
        let value = try RewardModel(directory: folder)
        value.score.weight.assign(.zeros(value.score.weight.value.shape))
        let policy = try LlamaForCausalLM(directory: folder)
        return try PPOObjective(policy: policy, reference: try LlamaForCausalLM(directory: folder),
                                valueModel: value, rewards: try WeightedRewards(sources: [reward()]), configuration: c, prompts: prompts(),
                                eosID: 2, padID: 0, decode: { $0.map(String.init).joined(separator: " ") }) { dir in
            try ModuleWeights.save(policy, to: dir.appendingPathComponent("model.safetensors"))
        }
    }

    static func rows(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    @Test func ppoTrainsLogsDumpsAndResumesExactly() throws {
        let dir = Objectives.temporaryDirectory()
        let straight = try Self.ppo()
        straight.dump = RolloutDump(url: dir.appendingPathComponent("rollouts.jsonl"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try straight.train(outputDirectory: dir.appendingPathComponent("out"), progress: { _ in })
        let metrics = try Self.rows(dir.appendingPathComponent("out/metrics.jsonl"))
        let last = metrics.last!
        for key in ["objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward", "objective/scores",
                    "policy/approxkl_avg", "policy/clipfrac_avg", "policy/entropy_avg", "loss/policy_avg", "loss/value_avg",
                    "val/clipfrac_avg", "val/ratio", "val/ratio_var", "val/num_eos_tokens", "lr", "episode"] {
            #expect(last[key] != nil, "missing \(key)")
        }
        #expect((last["episode"] as! Double) == 8)
        let dumped = try Self.rows(dir.appendingPathComponent("rollouts.jsonl"))
        #expect(dumped.count == 8)   // 2 rollouts × 4 prompts
        #expect(Set(dumped.map { $0["step"] as! Int }) == [1, 5])
        for row in dumped {
            let n = (row["response_ids"] as! [Any]).count
            #expect((row["logprobs"] as! [Any]).count == n && (row["ref_logprobs"] as! [Any]).count == n && (row["advantages"] as! [Any]).count == n)
            #expect((row["values"] as! [Any]).count >= n && (row["rewards"] as! [Any]).count == (row["values"] as! [Any]).count)
        }

        // A run that stops after step 3 (its checkpoint at step 2 is mid-rollout) and resumes.
        struct Stop: Error {}
        let resumedDir = Objectives.temporaryDirectory()
        let first = try Self.ppo { $0.training.saveSteps = 2 }
        first.dump = RolloutDump(url: resumedDir.appendingPathComponent("rollouts.jsonl"))
        try FileManager.default.createDirectory(at: resumedDir, withIntermediateDirectories: true)
        #expect(throws: Stop.self) {
            try first.train(outputDirectory: resumedDir.appendingPathComponent("out"), progress: { _ in }, onStepEnd: { if $0 == 3 { throw Stop() } })
        }
        let second = try Self.ppo { $0.training.saveSteps = 2 }
        second.dump = RolloutDump(url: resumedDir.appendingPathComponent("rollouts.jsonl"))
        try second.train(outputDirectory: resumedDir.appendingPathComponent("out"), resume: true, progress: { _ in })
        for ((name, a), (_, b)) in zip(straight.trainableParameters, second.trainableParameters) {
            #expect(a.value.toArray() == b.value.toArray(), "\(name) differs after resume")
        }
        #expect(second.klCoef == straight.klCoef)
        let resumedRows = try Self.rows(resumedDir.appendingPathComponent("rollouts.jsonl"))
        #expect(resumedRows.count == dumped.count)
        #expect((resumedRows.last!["advantages"] as! [Double]) == (dumped.last!["advantages"] as! [Double]))
    }

    /// A PPO checkpoint lists `value_model/` in its checksums like the policy's files, so a damaged
    /// value model stops the resume with the file named instead of training on from bad weights.
    @Test func ppoCheckpointChecksumsCoverTheValueModel() throws {
        struct Stop: Error {}
        let dir = Objectives.temporaryDirectory()
        #expect(throws: Stop.self) {
            try Self.ppo { $0.training.saveSteps = 2 }.train(outputDirectory: dir, progress: { _ in }, onStepEnd: { if $0 == 3 { throw Stop() } })
        }
        let checkpoint = dir.appendingPathComponent("checkpoint-2")
        let manifest = try JSONReader.parse(Data(contentsOf: checkpoint.appendingPathComponent("checksums.json")))
        for name in ["model.safetensors", "optimizer.safetensors", "trainer_state.json", "value_model/model.safetensors", "value_model/config.json"] {
            #expect(manifest["files"]?[name] != nil, "checksums.json does not list \(name)")
        }
        let weights = checkpoint.appendingPathComponent("value_model/model.safetensors")
        var bytes = [UInt8](try Data(contentsOf: weights))
        bytes[bytes.count - 3] ^= 0x04
        try Data(bytes).write(to: weights)
        #expect {
            try Self.ppo { $0.training.saveSteps = 2 }.train(outputDirectory: dir, resume: true, progress: { _ in })
        } throws: { error in
            "\(error)".contains("checkpoint-2/value_model/model.safetensors: checksum mismatch")
        }
        // A missing value-model file is refused as an incomplete checkpoint.
        try FileManager.default.removeItem(at: weights)
        #expect {
            try Self.ppo { $0.training.saveSteps = 2 }.train(outputDirectory: dir, resume: true, progress: { _ in })
        } throws: { error in
            "\(error)".contains("value_model/model.safetensors") && "\(error)".contains("missing")
        }
    }

    static func group(_ method: GroupRelativeObjective.Method, beta: Float) throws -> GroupRelativeObjective {
        var t = TrainingConfiguration()
        t.batchSize = 4; t.gradientAccumulationSteps = 2; t.maxSteps = 2; t.learningRate = 1e-3; t.loggingSteps = 1
        var s = GroupSamplingSettings(numGenerations: 4, beta: beta)
        s.maxCompletionLength = 6
        return try GroupRelativeObjective(method: method, training: t, sampling: s, policy: try LlamaForCausalLM(directory: folder),
                                          reference: beta == 0 ? nil : try LlamaForCausalLM(directory: folder),
                                          rewards: try WeightedRewards(sources: [reward()]), prompts: prompts(), eosIDs: [2], padID: 0,
                                          decode: { $0.map(String.init).joined(separator: " ") }, saveModel: { _ in })
    }

    @Test(arguments: [("grpo", Float(0)), ("grpo", Float(0.1)), ("rloo", Float(0.05))])
    func groupObjectivesTrainAndLog(name: String, beta: Float) throws {
        let method: GroupRelativeObjective.Method = name == "grpo" ? .grpo(lossType: .dapo, scaleRewards: .group) : .rloo(normalizeAdvantages: false)
        let objective = try Self.group(method, beta: beta)
        let dir = Objectives.temporaryDirectory()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        objective.dump = RolloutDump(url: dir.appendingPathComponent("rollouts.jsonl"))
        try objective.train(outputDirectory: dir.appendingPathComponent("out"), progress: { _ in })
        let metrics = try Self.rows(dir.appendingPathComponent("out/metrics.jsonl"))
        var keys = ["reward", "reward_std", "frac_reward_zero_std", "entropy", "clip_ratio/region_mean", "completions/mean_length", "loss"]
        if beta != 0 { keys.append("kl") }
        for key in keys { #expect(metrics.last![key] != nil, "\(name): missing \(key)") }
        let dumped = try Self.rows(dir.appendingPathComponent("rollouts.jsonl"))
        #expect(dumped.count == 16)
        // Advantages sum to zero within each group (RLOO's leave-one-out and GRPO's centring).
        for g in 0..<4 {
            let a = dumped[(g * 4)..<(g * 4 + 4)].map { $0["advantage"] as! Double }
            #expect(abs(a.reduce(0, +)) < 1e-3)
        }
    }
}
