import AlignJSON
import AlignKernels
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// PPO with a value model and a KL penalty to a frozen reference, as TRL's PPO trainer (≤ 1.12,
/// `trl/experimental/ppo`) computes it, on the shared ``Trainer`` loop.
///
/// Mapping onto the loop: one *rollout* is `per_device_train_batch_size × gradient_accumulation_steps`
/// prompts; ``onlineSchedule`` tells the loop to train `num_ppo_epochs × num_mini_batches` optimiser
/// steps on it (one step per mini-batch, each cut into micro-batches of `per_device_train_batch_size`)
/// and to step the learning rate once per rollout. ``prepareStep(_:examples:)`` generates, scores and
/// computes advantages at the first step of each rollout; ``updateExamples(_:batch:)`` hands the loop
/// the step's mini-batch (rollout rows, shuffled per PPO epoch).
///
/// Everything random is a function of the seed and the rollout's index; the current rollout and the
/// KL controller are saved in every checkpoint, so `--resume` mid-rollout continues bit for bit.
public final class PPOObjective: TrainingObjective {
    public let policy: any CausalLanguageModel
    public let reference: any CausalLanguageModel
    public let valueModel: RewardModel
    public let rewards: WeightedRewards
    public let configuration: PPOConfiguration
    public let prompts: [OnlinePrompt]
    let eosID: Int32?
    let padID: Int32
    let decode: ([Int32]) -> String
    let saveModelHandler: (URL) throws -> Void
    /// `--dump-rollouts`.
    public var dump: RolloutDump?
    /// Receives one line per rollout (generation speed); default none.
    public var log: ((String) -> Void)?
    /// Replaces sampling (tests and parity checks feed fixed responses): prompts → responses with
    /// their log-probs at the sampling temperature.
    public var generateOverride: (([[Int32]]) -> [GeneratedSequence])?

    /// The KL coefficient in force (adaptive when `kl_target` is set).
    public private(set) var klCoef: Float
    var rollout: Rollout?
    var pendingRolloutMetrics = StepMetrics()
    /// Micro-batches since the last log (for `val/ratio_var`).
    var windowMicroBatches = 0
    var lastStep = -1
    var resumedThrough: Int?

    /// Subfolder of a checkpoint (and of the output) holding the value model.
    public static let valueModelFolder = "value_model"

    /// - Parameters:
    ///   - eosID: the EOS id (stop token when `stop_token` is eos; `missing_eos_penalty` and
    ///     `val/num_eos_tokens` look for it).
    ///   - padID: the pad id; a generated pad id ends a response, as in TRL.
    ///   - decode: token ids → text for text-based reward sources (special tokens skipped).
    ///   - saveModel: writes the policy in Hugging Face layout.
    public init(policy: any CausalLanguageModel, reference: any CausalLanguageModel, valueModel: RewardModel, rewards: WeightedRewards,
                configuration: PPOConfiguration, prompts: [OnlinePrompt], eosID: Int32?, padID: Int32,
                decode: @escaping ([Int32]) -> String, saveModel: @escaping (URL) throws -> Void) throws {
        try configuration.validate()
        guard !prompts.isEmpty else { throw TrainingError.invalidConfiguration("no prompts") }
        if configuration.stopToken == "eos", eosID == nil {
            throw TrainingError.invalidSetting(key: "stop_token", message: "stop_token eos: the tokenizer has no EOS token")
        }
        for p in prompts where p.ids.count + configuration.responseLength > policy.maxSequenceLength {
            throw TrainingError.invalidSetting(key: "response_length", message: "\(p.location): the prompt (\(p.ids.count) tokens) plus response_length (\(configuration.responseLength)) exceeds the model's \(policy.maxSequenceLength) positions")
        }
        self.policy = policy; self.reference = reference; self.valueModel = valueModel; self.rewards = rewards
        self.configuration = configuration; self.prompts = prompts; self.eosID = eosID; self.padID = padID
        self.decode = decode; self.saveModelHandler = saveModel
        klCoef = configuration.klCoef
    }

    public var trainingConfiguration: TrainingConfiguration { configuration.training }
    public var trainExampleCount: Int { prompts.count }
    public var evalExampleCount: Int { 0 }
    public var onlineSchedule: OnlineSchedule? {
        OnlineSchedule(promptsPerBatch: configuration.rolloutSize, updatesPerBatch: configuration.updatesPerRollout)
    }
    /// The policy's parameters, then the value model's (`value_model.` prefix): one optimiser, as
    /// TRL's `PolicyAndValueWrapper`.
    public var trainableParameters: [(name: String, parameter: Parameter)] {
        policy.trainableParameters() + valueModel.trainableParameters().map { ("value_model." + $0.name, $0.parameter) }
    }

    public func prepare(log: (String) -> Void) throws {
        try dump?.start(keepThrough: resumedThrough)
    }

    // MARK: Rollouts

    /// One rollout and everything the PPO epochs read.
    struct Rollout: Codable {
        var index: Int
        var firstStep: Int
        var promptIndices: [Int]
        /// Response tokens up to and including the last real one (TRL's `postprocessed_response`
        /// without padding), per row.
        var responses: [[Int32]]
        var width: Int
        var sequenceLengths: [Int]
        /// rows × width, as RolloutMath.ppo returns them.
        var logprobs: [Float], values: [Float], advantages: [Float], returns: [Float]
        /// Shuffled row order per PPO epoch.
        var permutations: [[Int]]

        func valueCount(_ r: Int) -> Int { min(sequenceLengths[r] + 2, width) }
        func tokenCount(_ r: Int) -> Int { sequenceLengths[r] + 1 }
    }

    public func prepareStep(_ step: Int, examples: [Int]) throws {
        lastStep = step
        let k = configuration.updatesPerRollout
        let index = step / k
        if let rollout, rollout.index == index { return }
        rollout = try makeRollout(index: index, firstStep: step - step % k, promptIndices: examples)
    }

    func makeRollout(index: Int, firstStep: Int, promptIndices: [Int]) throws -> Rollout {
        let c = configuration
        let seed = OnlineSupport.batchSeed(c.training.seed, index)
        let stop = c.stopToken == "eos" ? eosID : nil
        let temperature = c.temperature + 1e-7
        let generation = GenerationConfig(maxNewTokens: c.responseLength, temperature: temperature, eosTokenIDs: stop.map { [$0] } ?? [],
                                          padTokenID: padID, seed: seed)
        let queries = promptIndices.map { prompts[$0].ids }
        let started = Date()
        let generated = generateOverride?(queries) ?? policy.generate(prompts: queries, config: generation)
        let generatedTokens = generated.reduce(0) { $0 + $1.tokens.count }
        let generationSeconds = Date().timeIntervalSince(started)
        let rows = queries.count
        // TRL pads responses to the batch's longest; a pad id (generated, or an EOS equal to it)
        // marks the end: sequence_length = first pad − 1.
        let width = max(1, generated.map(\.tokens.count).max() ?? 1)
        let sequenceLengths = generated.map { g in (g.tokens.firstIndex(of: padID) ?? g.tokens.count) - 1 }
        let responses = zip(generated, sequenceLengths).map { Array($0.tokens[0..<($1 + 1)]) }
        let forwardRows = ResponseRows(queries: queries, responses: responses)
        let (refFlat, valueFlat): ([Float], [Float]) = withNoGrad {
            (forwardRows.logProbs(model: reference, temperature: temperature).logps.toArray(),
             forwardRows.values(valueModel: valueModel, counts: sequenceLengths.map { min($0 + 2, width) }).toArray())
        }
        // Scores on the truncated responses.
        let inputs = (0..<rows).map { r in
            RewardInput(prompt: prompts[promptIndices[r]].text, completion: decode(responses[r]), queryIDs: queries[r], responseIDs: responses[r],
                        fields: prompts[promptIndices[r]].fields)
        }
        var (perSource, scores) = try rewards.score(inputs)
        let containsEOS = generated.map { g in eosID.map { g.tokens.contains($0) } ?? false }
        if let penalty = c.missingEOSPenalty {
            for r in 0..<rows where !containsEOS[r] { scores[r] -= penalty }
        }
        var logprobs = [Float](repeating: 0, count: rows * width), ref = logprobs, values = logprobs
        var refOffset = 0, valueOffset = 0
        for r in 0..<rows {
            for t in 0..<generated[r].tokens.count { logprobs[r * width + t] = generated[r].logProbabilities[t] }
            for t in 0..<responses[r].count { ref[r * width + t] = refFlat[refOffset + t] }
            refOffset += responses[r].count
            let vc = min(sequenceLengths[r] + 2, width)
            for t in 0..<vc { values[r * width + t] = valueFlat[valueOffset + t] }
            valueOffset += vc
        }
        let math = RolloutMath.ppo(.init(rows: rows, width: width, logprobs: logprobs, refLogprobs: ref, values: values, scores: scores,
                                         sequenceLengths: sequenceLengths),
                                   klCoef: klCoef, estimator: c.klEstimator, gamma: c.gamma, lam: c.lam, whitenRewards: c.whitenRewards)
        var permutations: [[Int]] = []
        var g = RandomGenerator(seed: seed ^ 0x5851_F42D_4C95_7F2D)
        for _ in 0..<c.numPPOEpochs {
            var order = Array(0..<rows)
            g.shuffle(&order)
            permutations.append(order)
        }

        // TRL's rollout metrics (sequence sums averaged over rows).
        func rowSums(_ x: [Float]) -> [Float] { (0..<rows).map { r in x[(r * width)..<((r + 1) * width)].reduce(0, +) } }
        let meanKL = rowSums(math.kl).reduce(0, +) / Float(rows)
        let entropy = (0..<rows).map { r in (0..<width).reduce(Float(0)) { $0 + (math.paddingMask[r * width + $1] ? 0 : -math.logprobs[r * width + $1]) } }
        let nonScore = rowSums(math.nonScoreReward).reduce(0, +) / Float(rows)
        let meanScore = scores.reduce(0, +) / Float(rows)
        var m = StepMetrics()
        m.add("objective/kl", Double(meanKL))
        m.add("objective/entropy", Double(entropy.reduce(0, +) / Float(rows)))
        m.add("objective/non_score_reward", Double(nonScore))
        m.add("objective/rlhf_reward", Double(nonScore + meanScore))
        m.add("objective/scores", Double(meanScore))
        m.add("objective/kl_coef", Double(klCoef))
        m.add("val/num_eos_tokens", Double(generated.reduce(0) { n, g in n + g.tokens.filter { $0 == eosID }.count }))
        m.add("episode", Double((index + 1) * rows))
        m.add("completions/mean_length", Double(responses.map(\.count).reduce(0, +)) / Double(rows))
        if perSource.count > 1 {
            for (source, s) in zip(rewards.sources, perSource) { m.add("rewards/\(source.name)/mean", Double(s.reduce(0, +)) / Double(rows)) }
        }
        m.add("generation_tokens_per_second", Double(generatedTokens) / max(generationSeconds, 1e-9))
        pendingRolloutMetrics = m
        log?(String(format: "rollout %d: %d responses, %d tokens in %.2f s (%.0f tok/s), score %.4f, kl %.4f", index + 1, rows, generatedTokens,
                    generationSeconds, Double(generatedTokens) / max(generationSeconds, 1e-9), meanScore, meanKL))

        if let dump {
            let rowsJSON: [JSONValue] = (0..<rows).map { r in
                let n = responses[r].count, vc = min(sequenceLengths[r] + 2, width), base = r * width
                return .object([
                    ("step", .integer(firstStep + 1)), ("query_ids", OnlineSupport.ids(queries[r])), ("response_ids", OnlineSupport.ids(responses[r])),
                    ("logprobs", OnlineSupport.numbers(math.logprobs[base..<(base + n)])),
                    ("ref_logprobs", OnlineSupport.numbers(math.refLogprobs[base..<(base + n)])),
                    ("score", OnlineSupport.number(scores[r])),
                    ("values", OnlineSupport.numbers(math.values[base..<(base + vc)])),
                    ("rewards", OnlineSupport.numbers(math.rewards[base..<(base + vc)])),
                    ("advantages", OnlineSupport.numbers(math.advantages[base..<(base + n)])),
                    ("returns", OnlineSupport.numbers(math.returns[base..<(base + vc)])),
                    ("kl_coef", OnlineSupport.number(klCoef)),
                ])
            }
            try dump.append(rowsJSON)
        }
        if let target = c.klTarget {
            var controller = AdaptiveKLController(initial: klCoef, target: target, horizon: c.klHorizon)
            controller.update(currentKL: meanKL, episodes: rows)
            klCoef = controller.value
        }
        return Rollout(index: index, firstStep: firstStep, promptIndices: promptIndices, responses: responses, width: width,
                       sequenceLengths: sequenceLengths, logprobs: math.logprobs, values: math.values, advantages: math.advantages,
                       returns: math.returns, permutations: permutations)
    }

    /// The step's mini-batch: rows of the rollout in the PPO epoch's shuffled order.
    public func updateExamples(_ step: Int, batch: [Int]) -> [Int] {
        guard let rollout else { return batch }
        let within = step - rollout.firstStep
        let epoch = within / configuration.numMiniBatches, mini = within % configuration.numMiniBatches
        let size = batch.count / configuration.numMiniBatches
        return Array(rollout.permutations[epoch][(mini * size)..<((mini + 1) * size)])
    }

    // MARK: Loss

    public func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics) {
        guard let rollout else { throw TrainingError.invalidConfiguration("PPO: no rollout prepared") }
        let c = configuration
        let temperature = c.temperature + 1e-7
        let queries = examples.map { prompts[rollout.promptIndices[$0]].ids }
        let rows = ResponseRows(queries: queries, responses: examples.map { rollout.responses[$0] })
        let (logps, entropies) = rows.logProbs(model: policy, temperature: temperature, entropy: true)
        let values = rows.values(valueModel: valueModel, counts: examples.map(rollout.valueCount))
        var oldLogps: [Float] = [], advantages: [Float] = [], oldValues: [Float] = [], returns: [Float] = []
        for r in examples {
            let base = r * rollout.width
            for t in 0..<rollout.tokenCount(r) { oldLogps.append(rollout.logprobs[base + t]); advantages.append(rollout.advantages[base + t]) }
            for t in 0..<rollout.valueCount(r) { oldValues.append(rollout.values[base + t]); returns.append(rollout.returns[base + t]) }
        }
        let (loss, s) = PPOLoss.evaluate(.init(logprobs: logps, oldLogprobs: oldLogps, advantages: advantages, values: values,
                                               oldValues: oldValues, returns: returns, paddedPositions: examples.count * rollout.width),
                                         cliprange: c.cliprange, cliprangeValue: c.cliprangeValue, vfCoef: c.vfCoef)
        guard loss.item().isFinite else {
            throw TrainingError.nonFinite(step: 0, what: "the PPO loss", examples: examples.map(describeExample))
        }
        var m = pendingRolloutMetrics
        pendingRolloutMetrics = StepMetrics()
        m.add("loss", Double(s.policyLoss + c.vfCoef * s.valueLoss))
        m.add("loss/policy_avg", Double(s.policyLoss))
        m.add("loss/value_avg", Double(s.valueLoss))
        m.add("policy/approxkl_avg", Double(s.approxKL))
        m.add("policy/clipfrac_avg", Double(s.policyClipFraction))
        m.add("val/clipfrac_avg", Double(s.valueClipFraction))
        m.add("val/ratio", Double(s.ratio))
        m.add("val/ratio_sq", Double(s.ratio) * Double(s.ratio))
        if let entropies, !entropies.isEmpty { m.add("policy/entropy_avg", Double(entropies.reduce(0, +) / Float(entropies.count))) }
        windowMicroBatches += 1
        return (loss * scale, m)
    }

    public func completeMetrics(_ averages: inout [String: Double]) {
        if let mean = averages["val/ratio"], let square = averages.removeValue(forKey: "val/ratio_sq") {
            let n = Double(windowMicroBatches)
            averages["val/ratio_var"] = n > 1 ? max(0, square - mean * mean) * n / (n - 1) : .nan
        }
        if let lr = averages["learning_rate"] { averages["lr"] = lr }
        windowMicroBatches = 0
    }

    public func evaluationMetrics(examples: [Int]) throws -> StepMetrics { StepMetrics() }

    public func tokenCount(examples: [Int]) -> Int {
        guard let rollout else { return 0 }
        return examples.reduce(0) { $0 + prompts[rollout.promptIndices[$1]].ids.count + rollout.responses[$1].count }
    }

    public func describeExample(_ index: Int) -> String {
        guard let rollout, index < rollout.promptIndices.count else { return "rollout row \(index)" }
        return "\(prompts[rollout.promptIndices[index]].location) (rollout row \(index))"
    }

    // MARK: Saving and resuming

    public func saveModel(to directory: URL) throws {
        try saveModelHandler(directory)
        let valueDirectory = directory.appendingPathComponent(PPOObjective.valueModelFolder)
        try valueModel.save(to: valueDirectory)
    }

    public func loadModel(from directory: URL) throws {
        try policy.loadWeights(from: directory)
        try valueModel.loadWeights(from: directory.appendingPathComponent(PPOObjective.valueModelFolder))
    }

    struct State: Codable {
        var klCoef: Float
        var rollout: Rollout?
        var windowMicroBatches: Int
        var stepsDone: Int
    }

    public func checkpointState() -> JSONValue? {
        try? OnlineSupport.encode(State(klCoef: klCoef, rollout: rollout, windowMicroBatches: windowMicroBatches, stepsDone: lastStep + 1))
    }

    public func restoreCheckpointState(_ state: JSONValue) throws {
        guard let s = try OnlineSupport.decode(State.self, from: state) else {
            throw TrainingError.invalidConfiguration("PPO checkpoint state unreadable")
        }
        klCoef = s.klCoef; rollout = s.rollout; windowMicroBatches = s.windowMicroBatches; resumedThrough = s.stepsDone
        lastStep = s.stepsDone - 1
    }
}
