import AlignJSON
import AlignKernels
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// GRPO and RLOO (TRL 1.16) on the shared ``Trainer`` loop: each optimiser step's batch is
/// `per_device_train_batch_size × gradient_accumulation_steps` completions, `num_generations` per
/// prompt (consecutive rows share a prompt, as TRL's `RepeatSampler` lays them out), generated and
/// scored in ``prepareStep(_:examples:)`` and trained on for `num_iterations` steps.
public final class GroupRelativeObjective: TrainingObjective {
    /// Which algorithm, with its own settings.
    public enum Method: Sendable {
        case grpo(lossType: GRPOLossType, scaleRewards: RewardScaling)
        case rloo(normalizeAdvantages: Bool)

        var name: String { if case .grpo = self { return "grpo" } else { return "rloo" } }
    }

    public let method: Method
    public let training: TrainingConfiguration
    public let sampling: GroupSamplingSettings
    public let policy: any CausalLanguageModel
    /// The frozen reference; nil when β is 0 (GRPO's default holds none).
    public let reference: (any CausalLanguageModel)?
    public let rewards: WeightedRewards
    public let prompts: [OnlinePrompt]
    let eosIDs: Set<Int32>
    let padID: Int32
    let decode: ([Int32]) -> String
    let saveModelHandler: (URL) throws -> Void
    public var dump: RolloutDump?
    public var log: ((String) -> Void)?
    /// Replaces sampling (parity checks feed fixed completions): one prompt per row → its completion.
    public var generateOverride: (([[Int32]]) -> [GeneratedSequence])?

    var batch: Batch?
    var pendingMetrics = StepMetrics()
    var lastStep = -1
    var resumedThrough: Int?

    public init(method: Method, training: TrainingConfiguration, sampling: GroupSamplingSettings, policy: any CausalLanguageModel,
                reference: (any CausalLanguageModel)?, rewards: WeightedRewards, prompts: [OnlinePrompt], eosIDs: Set<Int32>, padID: Int32,
                decode: @escaping ([Int32]) -> String, saveModel: @escaping (URL) throws -> Void) throws {
        try sampling.validate(training)
        guard !prompts.isEmpty else { throw TrainingError.invalidConfiguration("no prompts") }
        if sampling.beta != 0 && reference == nil {
            throw TrainingError.invalidSetting(key: "beta", message: "beta \(sampling.beta) needs a reference model")
        }
        for p in prompts where p.ids.count + sampling.maxCompletionLength > policy.maxSequenceLength {
            throw TrainingError.invalidSetting(key: "max_completion_length", message: "\(p.location): the prompt (\(p.ids.count) tokens) plus max_completion_length (\(sampling.maxCompletionLength)) exceeds the model's \(policy.maxSequenceLength) positions")
        }
        self.method = method; self.training = training; self.sampling = sampling; self.policy = policy; self.reference = reference
        self.rewards = rewards; self.prompts = prompts; self.eosIDs = eosIDs; self.padID = padID; self.decode = decode
        self.saveModelHandler = saveModel
    }

    public var trainingConfiguration: TrainingConfiguration { training }
    public var trainExampleCount: Int { prompts.count }
    public var evalExampleCount: Int { 0 }
    var completionsPerStep: Int { training.batchSize * training.gradientAccumulationSteps }
    public var onlineSchedule: OnlineSchedule? {
        OnlineSchedule(promptsPerBatch: completionsPerStep / sampling.numGenerations, updatesPerBatch: sampling.numIterations)
    }
    public var trainableParameters: [(name: String, parameter: Parameter)] { policy.trainableParameters() }
    public func prepare(log: (String) -> Void) throws { try dump?.start(keepThrough: resumedThrough) }

    /// One generated batch.
    struct Batch: Codable {
        var index: Int
        var promptIndices: [Int]   // per completion row
        var completions: [[Int32]]
        /// Rollout log-probs per row (nil rows: not computed, GRPO trained once per batch).
        var oldLogprobs: [[Float]]?
        var refLogprobs: [[Float]]?
        var advantages: [Float]
    }

    var epsilonHigh: Float { sampling.epsilonHigh ?? sampling.epsilon }

    public func prepareStep(_ step: Int, examples: [Int]) throws {
        lastStep = step
        let index = step / sampling.numIterations
        if let batch, batch.index == index { return }
        batch = try makeBatch(index: index, firstStep: step - step % sampling.numIterations, prompts: examples)
    }

    /// Per-row forward log-probs at the sampling temperature, no gradient.
    func logprobs(_ model: any CausalLanguageModel, queries: [[Int32]], completions: [[Int32]]) -> [[Float]] {
        let flat: [Float] = withNoGrad { ResponseRows(queries: queries, responses: completions).logProbs(model: model, temperature: sampling.temperature).logps.toArray() }
        var out: [[Float]] = [], offset = 0
        for c in completions { out.append(Array(flat[offset..<(offset + c.count)])); offset += c.count }
        return out
    }

    func makeBatch(index: Int, firstStep: Int, prompts promptIDs: [Int]) throws -> Batch {
        let G = sampling.numGenerations
        let rowsPrompt = promptIDs.flatMap { [Int](repeating: $0, count: G) }
        let queries = rowsPrompt.map { prompts[$0].ids }
        let config = GenerationConfig(maxNewTokens: sampling.maxCompletionLength, temperature: sampling.temperature, eosTokenIDs: eosIDs,
                                      padTokenID: padID, seed: OnlineSupport.batchSeed(training.seed, index))
        let started = Date()
        let generated = generateOverride?(queries) ?? policy.generate(prompts: queries, config: config)
        let seconds = Date().timeIntervalSince(started)
        let completions = generated.map(\.tokens)
        let tokens = completions.reduce(0) { $0 + $1.count }
        // RLOO always takes the ratio against the rollout's own forward; GRPO only when a batch is
        // trained on more than once (else the ratio is 1 and the sampler's log-probs serve the dump).
        let needOld: Bool = { if case .rloo = method { return true }; return sampling.numIterations > 1 }()
        let old = needOld ? logprobs(policy, queries: queries, completions: completions) : nil
        let ref = reference.map { logprobs($0, queries: queries, completions: completions) }
        let inputs = (0..<queries.count).map { r in
            RewardInput(prompt: prompts[rowsPrompt[r]].text, completion: decode(completions[r]), queryIDs: queries[r], responseIDs: completions[r],
                        fields: prompts[rowsPrompt[r]].fields)
        }
        let (perSource, raw) = try rewards.score(inputs)
        var m = StepMetrics()
        var advantages: [Float]
        var groupStd: [Float]
        switch method {
        case .grpo(_, let scale):
            (advantages, groupStd) = RolloutMath.grpoAdvantages(raw, groupSize: G, scaling: scale)
            if scale == .batch { groupStd = [Float](repeating: RolloutMath.std(raw[...]), count: raw.count) }
        case .rloo(let normalize):
            var shaped = raw
            if sampling.beta != 0, let old, let ref {
                var klTokens = 0.0, klSum = 0.0
                for r in 0..<shaped.count {
                    let kl = zip(old[r], ref[r]).reduce(Float(0)) { $0 + ($1.0 - $1.1) }
                    shaped[r] -= sampling.beta * kl
                    klSum += Double(kl); klTokens += Double(old[r].count)
                }
                m.add("kl", sum: klSum, weight: max(klTokens, 1))
            }
            advantages = RolloutMath.rlooAdvantages(shaped, groupSize: G)
            if normalize {
                let mean = advantages.reduce(0, +) / Float(advantages.count)
                let s = RolloutMath.std(advantages[...])
                advantages = advantages.map { ($0 - mean) / (s + 1e-4) }
            }
            groupStd = (0..<raw.count).map { RolloutMath.std(raw[($0 / G * G)..<($0 / G * G + G)]) }
        }
        let n = Double(raw.count)
        m.add("reward", Double(raw.reduce(0, +)) / n)
        m.add("reward_std", Double(RolloutMath.std(raw[...])))
        m.add("frac_reward_zero_std", Double(groupStd.filter { abs($0) <= 1e-8 }.count) / n)
        for (source, s) in zip(rewards.sources, perSource) {
            m.add("rewards/\(source.name)/mean", Double(s.reduce(0, +)) / n)
            m.add("rewards/\(source.name)/std", Double(RolloutMath.std(s[...])))
        }
        let lengths = completions.map { Double($0.count) }
        m.add("completions/mean_length", lengths.reduce(0, +) / n)
        m.add("completions/min_length", lengths.min() ?? 0)
        m.add("completions/max_length", lengths.max() ?? 0)
        let terminated = generated.filter { $0.finishReason == .endOfSequence }.map { Double($0.tokens.count) }
        m.add("completions/clipped_ratio", 1 - Double(terminated.count) / n)
        if !terminated.isEmpty { m.add("completions/mean_terminated_length", terminated.reduce(0, +) / Double(terminated.count)) }
        m.add("generation_tokens_per_second", Double(tokens) / max(seconds, 1e-9))
        pendingMetrics = m
        log?(String(format: "batch %d: %d completions, %d tokens in %.2f s (%.0f tok/s), reward %.4f", index + 1, raw.count, tokens, seconds,
                    Double(tokens) / max(seconds, 1e-9), Double(raw.reduce(0, +)) / n))
        if let dump {
            let rows: [JSONValue] = (0..<raw.count).map { r in
                .object([
                    ("step", .integer(firstStep + 1)), ("query_ids", OnlineSupport.ids(queries[r])), ("response_ids", OnlineSupport.ids(completions[r])),
                    ("logprobs", OnlineSupport.numbers(old?[r] ?? generated[r].logProbabilities)),
                    ("ref_logprobs", ref.map { OnlineSupport.numbers($0[r]) } ?? .null),
                    ("score", OnlineSupport.number(raw[r])), ("group", .integer(r / G)),
                    ("reward", OnlineSupport.number(raw[r])), ("advantage", OnlineSupport.number(advantages[r])),
                ])
            }
            try dump.append(rows)
        }
        return Batch(index: index, promptIndices: rowsPrompt, completions: completions, oldLogprobs: old, refLogprobs: ref, advantages: advantages)
    }

    /// Every completion of the batch, each optimiser step.
    public func updateExamples(_ step: Int, batch: [Int]) -> [Int] { Array(0..<completionsPerStep) }

    public func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics) {
        guard let batch else { throw TrainingError.invalidConfiguration("\(method.name): no batch prepared") }
        let queries = examples.map { prompts[batch.promptIndices[$0]].ids }
        let completions = examples.map { batch.completions[$0] }
        let lengths = completions.map(\.count)
        let (logps, entropies) = ResponseRows(queries: queries, responses: completions).logProbs(model: policy, temperature: sampling.temperature, entropy: true)
        var m = pendingMetrics
        pendingMetrics = StepMetrics()
        let advantages = examples.map { batch.advantages[$0] }
        let loss: Tensor
        switch method {
        case .grpo(let lossType, _):
            let stepTokens = stepExamples.reduce(0) { $0 + batch.completions[$1].count }
            let (l, s) = GRPOLoss.evaluate(.init(logprobs: logps, oldLogprobs: batch.oldLogprobs.map { o in examples.flatMap { o[$0] } },
                                                 refLogprobs: batch.refLogprobs.map { r in examples.flatMap { r[$0] } },
                                                 advantages: advantages, lengths: lengths),
                                           lossType: lossType, beta: sampling.beta, epsilonLow: sampling.epsilon, epsilonHigh: epsilonHigh,
                                           stepTokens: stepTokens, maxCompletionLength: sampling.maxCompletionLength,
                                           biasCorrectionKL: sampling.useBiasCorrectionKL)
            loss = lossType == .dapo ? l : l * scale
            if sampling.beta != 0 { m.add("kl", sum: s.klSum, weight: s.tokens) }
            m.add("clip_ratio/low_mean", sum: s.lowClipped, weight: s.tokens)
            m.add("clip_ratio/high_mean", sum: s.highClipped, weight: s.tokens)
            m.add("clip_ratio/region_mean", sum: s.regionClipped, weight: s.tokens)
            m.add("loss", Double(s.loss))
        case .rloo:
            guard let old = batch.oldLogprobs else { throw TrainingError.invalidConfiguration("rloo: no rollout log-probs") }
            let oldSums = examples.map { old[$0].reduce(0, +) }
            let (l, s) = RLOOLoss.evaluate(logprobs: logps, lengths: lengths, oldSequenceLogprobs: oldSums, advantages: advantages,
                                           epsilonLow: sampling.epsilon, epsilonHigh: epsilonHigh)
            loss = l * scale
            m.add("clip_ratio/low_mean", sum: s.lowClipped, weight: s.sequences)
            m.add("clip_ratio/high_mean", sum: s.highClipped, weight: s.sequences)
            m.add("clip_ratio/region_mean", sum: s.regionClipped, weight: s.sequences)
            m.add("loss", Double(s.loss))
        }
        if let entropies, !entropies.isEmpty { m.add("entropy", sum: Double(entropies.reduce(0, +)), weight: Double(entropies.count)) }
        guard loss.item().isFinite else { throw TrainingError.nonFinite(step: 0, what: "the \(method.name) loss", examples: examples.map(describeExample)) }
        return (loss, m)
    }

    public func evaluationMetrics(examples: [Int]) throws -> StepMetrics { StepMetrics() }

    public func tokenCount(examples: [Int]) -> Int {
        guard let batch else { return 0 }
        return examples.reduce(0) { $0 + prompts[batch.promptIndices[$1]].ids.count + batch.completions[$1].count }
    }

    public func describeExample(_ index: Int) -> String {
        guard let batch, index < batch.promptIndices.count else { return "completion \(index)" }
        return "\(prompts[batch.promptIndices[index]].location) (completion \(index))"
    }

    public func saveModel(to directory: URL) throws { try saveModelHandler(directory) }
    public func loadModel(from directory: URL) throws { try policy.loadWeights(from: directory) }

    struct State: Codable { var batch: Batch?; var stepsDone: Int }

    public func checkpointState() -> JSONValue? { try? OnlineSupport.encode(State(batch: batch, stepsDone: lastStep + 1)) }

    public func restoreCheckpointState(_ state: JSONValue) throws {
        guard let s = try OnlineSupport.decode(State.self, from: state) else { throw TrainingError.invalidConfiguration("\(method.name) checkpoint state unreadable") }
        batch = s.batch; resumedThrough = s.stepsDone; lastStep = s.stepsDone - 1
    }
}
