import AlignData
import AlignHub
import AlignJSON
import AlignModels
import AlignReport
import AlignSentiment
import AlignTensor
import AlignTraining
import Foundation

/// The DPO paper's controlled-sentiment experiment, scaled to a laptop: a language model completes
/// movie-review prefixes, VADER scores the reviews, the better of two samples per prompt becomes
/// "chosen", and DPO moves the model toward positive continuations. Held-out prompts measure the
/// reward and KL(π‖π_ref) before and after, each with a bootstrap confidence interval over the
/// prompts, and `report.html` shows what happened.
///
/// With ``Settings/frontier`` it draws the paper's Figure 2 instead: DPO at every β, PPO at every
/// `kl_coef` and GRPO, all against the VADER reward, every policy evaluated the same way (same
/// held-out prompts, sampler and seed), written to `frontier.json` and the report's reward–KL plot.
public final class SentimentDemo {
    /// Sizes and hyper-parameters. The defaults fit the 10-minute budget on 2 cores.
    public struct Settings: Sendable {
        public var trainPrompts = 256
        public var evalPrompts = 64
        /// Samples per held-out prompt: averaging over several keeps the reward estimate's noise
        /// below the effect being measured.
        public var evalSamplesPerPrompt = 2
        /// Samples per prompt; the best and the worst by reward form the pair, so more samples
        /// give clearer preferences for the same training cost.
        public var samplesPerPrompt = 4
        public var maxNewTokens = 20
        public var temperature: Float = 1
        /// One run per β; several draw the reward–KL frontier.
        public var betas: [Float] = [0.1]
        public var learningRate: Float = 5e-5
        /// One pass over ~250 pairs. Measured on 2 cores: 128 prompts × 2 epochs at 3e-5 moved the
        /// held-out reward within its noise (+0.05 at KL 1.7); 256 prompts × 1 epoch at 5e-5 gave
        /// +0.14 with a 67 % win rate at KL 2.5 nats, in 5.9 minutes.
        public var epochs: Double = 1
        public var batchSize = 8
        /// Evaluations during training (reward–KL points), besides the final one.
        public var intermediateEvaluations = 1
        public var seed: UInt64 = 0
        public var sampleBatchSize = 16
        /// Every interval: a percentile bootstrap over the held-out prompts.
        public var bootstrap = BootstrapSettings()
        /// Also train PPO (one run per `ppoKLCoefs`) and GRPO, and draw all points as one frontier.
        public var frontier = false
        /// PPO's per-token KL coefficients, one run each.
        public var ppoKLCoefs: [Float] = [0.05, 0.2]
        /// PPO's other settings (TRL's names and defaults, changed as ``demoPPO`` says);
        /// `response_length`, `temperature` and `seed` follow the demo's.
        public var ppo = Settings.demoPPO
        /// GRPO's settings (``demoGRPO``); `max_completion_length`, `temperature` and `seed` follow the demo's.
        public var grpo = Settings.demoGRPO
        public init() {}

        /// The larger version: more data, longer training and a β sweep.
        public static var full: Settings {
            var s = Settings()
            s.trainPrompts = 512; s.evalPrompts = 192; s.epochs = 1; s.betas = [0.05, 0.1, 0.3, 1.0]
            s.intermediateEvaluations = 3
            return s
        }

        /// `--frontier`: two β for DPO, two `kl_coef` for PPO, one GRPO run, one evaluation per run.
        public static var frontierSweep: Settings {
            var s = Settings()
            s.frontier = true
            s.betas = [0.1, 0.5]
            s.intermediateEvaluations = 0
            return s
        }

        /// PPO for the demo: 8 rollouts of 16 prompts, 2 PPO epochs each (16 optimiser steps), a
        /// constant learning rate of 1e-5 (TRL's 3e-6 barely moves a policy in 16 steps) and the
        /// response cut at EOS.
        public static var demoPPO: PPOConfiguration {
            var c = PPOConfiguration()
            c.training.batchSize = 16
            c.numPPOEpochs = 2
            c.training.maxSteps = 16
            c.training.learningRate = 1e-5
            c.training.lrScheduler = .constant
            c.training.loggingSteps = 2
            c.stopToken = "eos"
            return c
        }

        /// GRPO for the demo: 4 completions for each of 4 prompts per step, 16 steps, β 0.04 (a KL
        /// penalty, as DeepSeekMath's GRPO; TRL's default 0 would leave KL unchecked), learning
        /// rate 1e-5, constant.
        public static var demoGRPO: GRPOConfiguration {
            var c = GRPOConfiguration()
            c.training.batchSize = 16
            c.sampling.numGenerations = 4
            c.sampling.beta = 0.04
            c.training.maxSteps = 16
            c.training.learningRate = 1e-5
            c.training.lrScheduler = .constant
            c.training.loggingSteps = 1
            return c
        }
    }

    /// What the demo reports.
    public struct Result: Sendable {
        public var before: Double, after: Double, kl: Double, winRate: Double, seconds: Double
        public var report: URL
        /// Bootstrap intervals of the reward change (after − before, paired by prompt) and of the KL.
        public var rewardChangeInterval: ClosedRange<Double>?, klInterval: ClosedRange<Double>?
        public var confidence: Double
        /// Every evaluated policy (also in OUTPUT/frontier.json).
        public var points: [FrontierPoint]

        /// The headline: `mean reward: BEFORE -> AFTER (KL K nats, win rate W%)`, then the intervals
        /// (`; 95% CI: change +0.12 [+0.03, +0.21], KL [2.1, 2.9]`). Scripts may parse the prefix.
        public var headline: String {
            var line = String(format: "mean reward: %.4f -> %.4f (KL %.3f nats, win rate %.0f%%)", before, after, kl, winRate * 100)
            if let change = rewardChangeInterval, let klCI = klInterval {
                line += String(format: "; %.0f%% CI: change %+.4f [%+.4f, %+.4f], KL [%.3f, %.3f]", confidence * 100, after - before,
                               change.lowerBound, change.upperBound, klCI.lowerBound, klCI.upperBound)
                if change.contains(0) { line += " (the change is within evaluation noise)" }
            }
            return line
        }
    }

    let settings: Settings
    let modelPath: String
    let cache: URL
    let output: URL
    let log: (String) -> Void
    let started = Date()

    public init(settings: Settings, modelPath: String, cacheDirectory: URL, outputDirectory: URL, log: @escaping (String) -> Void) {
        self.settings = settings
        self.modelPath = modelPath
        self.cache = cacheDirectory
        self.output = outputDirectory
        self.log = log
    }

    func elapsed() -> String { String(format: "%5.0fs", Date().timeIntervalSince(started)) }

    /// The held-out prompts with the reference's samples: every policy is measured against them
    /// with one sampler, one seed, one reward and one bootstrap.
    struct HeldOut {
        let prompts: [String]
        let reference: ModelBundle
        let samples: [SampledCompletion]
        let scores: [Double]
        let reward: RewardFunction
        let settings: Settings

        var meanReward: Double { scores.reduce(0, +) / Double(max(scores.count, 1)) }
        var rewardInterval: ClosedRange<Double>? {
            settings.bootstrap.meanInterval(PolicyEvaluator.promptMeans(scores, prompts: prompts.count))
        }

        func evaluate(_ policy: ModelBundle) throws -> (PolicyEvaluation, EvaluationIntervals) {
            let s = settings
            let e = try PolicyEvaluator.evaluate(policy: policy, reference: reference, prompts: prompts, referenceSamples: samples,
                                                 referenceScores: scores, reward: reward, maxNewTokens: s.maxNewTokens,
                                                 temperature: s.temperature, seed: s.seed &+ 2, batchSize: s.sampleBatchSize)
            return (e, e.intervals(referenceScores: scores, bootstrap: s.bootstrap))
        }
    }

    public func run() throws -> Result {
        let fm = FileManager.default
        try fm.createDirectory(at: output, withIntermediateDirectories: true)
        let s = settings
        guard !s.betas.isEmpty || s.frontier else { throw WorkflowError("give at least one β") }

        // 1. Prompts: review prefixes of 2–8 words, disjoint train and held-out reviews.
        let snippets = try MovieReviewSnippets(cacheDirectory: cache)
        let split = snippets.prompts(seed: s.seed, heldOutFraction: 0.1)
        let trainPrompts = Array(split.train.prefix(s.trainPrompts)).map(\.text)
        let evalPrompts = Array(split.heldOut.prefix(s.evalPrompts)).map(\.text)
        log("\(elapsed()) prompts: \(trainPrompts.count) train, \(evalPrompts.count) held out (from \(snippets.snippets.count) snippets)")
        let vader = try VaderSentiment(cacheDirectory: cache)
        let reward: RewardFunction = vader.reviewReward

        // 2. The reference model (also the starting policy).
        log("\(elapsed()) loading \(modelPath)")
        let reference = try ModelBundle(path: modelPath)
        reference.model.freeze()

        // 3. DPO, once per β, on pairs judged from the reference's samples.
        var points: [FrontierPoint] = []
        var runs: [(points: Range<Int>, rows: [[String: Double]], beta: Float?)] = []
        var pairCount = 0
        var heldOut: HeldOut?
        if !s.betas.isEmpty {
            let pairs = try judgedPairs(reference: reference, prompts: trainPrompts, reward: reward)
            pairCount = pairs.count
            heldOut = try sampleHeldOut(reference: reference, prompts: evalPrompts, reward: reward)
            for beta in s.betas {
                let first = points.count
                let rows = try trainDPO(beta: beta, pairs: pairs, heldOut: heldOut!, points: &points)
                runs.append((first..<points.count, rows, beta))
            }
        }
        let held = try heldOut ?? sampleHeldOut(reference: reference, prompts: evalPrompts, reward: reward)

        // 4. The frontier's online runs: PPO per kl_coef, then GRPO, against the same VADER reward
        // (scored on the first line, as the held-out sampler cuts continuations).
        if s.frontier {
            let source = FunctionRewardSource.vader(vader, firstLine: true)
            for kl in s.ppoKLCoefs {
                var c = s.ppo
                c.klCoef = kl
                c.responseLength = s.maxNewTokens; c.temperature = s.temperature; c.training.seed = s.seed
                let first = points.count
                let policy = try ModelBundle(path: modelPath)
                let objective = try OnlineRuns.ppo(modelPath: modelPath, policy: policy, reference: reference, reward: source,
                                                   configuration: c, prompts: trainPrompts)
                let rows = try trainOnline(objective, method: "ppo", label: "kl_coef \(kl)", settings: c.changedSettingValues,
                                           policy: policy, heldOut: held, directory: String(format: "model-ppo-kl-%g", kl), points: &points)
                runs.append((first..<points.count, rows, nil))
            }
            var g = s.grpo
            g.sampling.maxCompletionLength = s.maxNewTokens; g.sampling.temperature = s.temperature; g.training.seed = s.seed
            let first = points.count
            let policy = try ModelBundle(path: modelPath)
            let objective = try OnlineRuns.grpo(policy: policy, reference: reference, reward: source, configuration: g, prompts: trainPrompts)
            let rows = try trainOnline(objective, method: "grpo", label: "β \(g.sampling.beta)", settings: g.changedSettingValues,
                                       policy: policy, heldOut: held, directory: "model-grpo", points: &points)
            runs.append((first..<points.count, rows, nil))
        }

        // 5. The headline policy: DPO at β 0.1 when swept, else the first run; its last evaluation.
        let headlineRun = runs.first { $0.beta == 0.1 } ?? runs[0]
        let final = points[headlineRun.points.upperBound - 1]
        return try writeResults(points: points, final: final, beta: headlineRun.beta, rows: headlineRun.rows, heldOut: held,
                                pairCount: pairCount, trainPromptCount: trainPrompts.count)
    }

    /// Samples the reference on the training prompts and judges the samples into DPO pairs.
    func judgedPairs(reference: ModelBundle, prompts: [String], reward: RewardFunction) throws -> [PreferencePair] {
        let s = settings
        log("\(elapsed()) sampling \(s.samplesPerPrompt) continuations of \(prompts.count) prompts")
        var lastShown = Date.distantPast
        let progress: (Int, Int) -> Void = { done, total in
            if Date().timeIntervalSince(lastShown) > 5 || done == total {
                lastShown = Date()
                self.log("\(self.elapsed())   \(done)/\(total) samples")
            }
        }
        let trainSamples = try CompletionSampler.sample(
            bundle: reference, prompts: prompts, perPrompt: s.samplesPerPrompt, maxNewTokens: s.maxNewTokens,
            temperature: s.temperature, seed: s.seed, batchSize: s.sampleBatchSize, progress: progress)
        let scored = zip(prompts, trainSamples).map { prompt, samples in
            ScoredPrompt(prompt: prompt, completions: samples.map { ScoredCompletion(text: $0.text, score: reward(prompt, $0.text)) })
        }
        let judged = PreferencePairBuilder().pairs(from: scored)
        try writeJSONLines(judged.pairs, to: output.appendingPathComponent("pairs.jsonl"))
        log("\(elapsed()) judged with VADER: \(judged.pairs.count) pairs (\(judged.droppedTies) ties dropped)")
        guard !judged.pairs.isEmpty else { throw WorkflowError("no preference pairs: every sample pair tied") }
        return judged.pairs
    }

    /// The reference's held-out samples: the "before" numbers and the win-rate baseline.
    func sampleHeldOut(reference: ModelBundle, prompts: [String], reward: @escaping RewardFunction) throws -> HeldOut {
        let s = settings
        log("\(elapsed()) sampling the reference on \(prompts.count) held-out prompts")
        let samples = try CompletionSampler.sample(bundle: reference, prompts: prompts, perPrompt: s.evalSamplesPerPrompt,
                                                   maxNewTokens: s.maxNewTokens, temperature: s.temperature,
                                                   seed: s.seed &+ 1, batchSize: s.sampleBatchSize).flatMap { $0 }
        let expanded = prompts.flatMap { [String](repeating: $0, count: s.evalSamplesPerPrompt) }
        let held = HeldOut(prompts: prompts, reference: reference, samples: samples,
                           scores: zip(expanded, samples).map { reward($0, $1.text) }, reward: reward, settings: s)
        log("\(elapsed()) before: mean reward \(Self.withInterval(held.meanReward, held.rewardInterval))")
        return held
    }

    /// `0.3235 [0.28, 0.37]`.
    static func withInterval(_ value: Double, _ ci: ClosedRange<Double>?, digits: Int = 4) -> String {
        String(format: "%.\(digits)f", value) + (ci.map { String(format: " [%.3f, %.3f]", $0.lowerBound, $0.upperBound) } ?? "")
    }

    /// Evaluates `policy` on the held-out prompts, logs the numbers and appends the point.
    func addPoint(method: String, label: String, step: Int, settings: JSONValue, policy: ModelBundle, heldOut: HeldOut,
                  trainSeconds: Double, to points: inout [FrontierPoint]) throws {
        let (e, ci) = try heldOut.evaluate(policy)
        log("\(elapsed())   \(method.uppercased()) \(label), step \(step): mean reward \(Self.withInterval(e.meanReward, ci.reward)), KL \(Self.withInterval(e.klNats, ci.kl, digits: 3)) nats, win rate \(String(format: "%.0f%%", e.winRate * 100))")
        points.append(FrontierPoint(method: method, label: label, step: step, settings: settings, evaluation: e, intervals: ci,
                                    trainSeconds: trainSeconds))
    }

    /// The trainer's progress lines worth showing: messages and the last step's line.
    func progressLogger(total: Int) -> (String) -> Void {
        { line in if !line.hasPrefix("[") || line.contains("/\(total) ") { self.log("\(self.elapsed())   \(line)") } }
    }

    /// One DPO run at `beta`, evaluated during and after training; returns its metrics rows.
    func trainDPO(beta: Float, pairs judged: [PreferencePair], heldOut: HeldOut, points: inout [FrontierPoint]) throws -> [[String: Double]] {
        let s = settings
        let reference = heldOut.reference
        let dataset = PreferenceDataset(examples: judged.map {
            PreferenceExample(prompt: .text($0.prompt), chosen: .text($0.chosen), rejected: .text($0.rejected))
        })
        let encoder = try ExampleEncoder(tokenizer: reference.tokenizer, chatTemplate: nil)
        let (pairs, summary) = try dataset.tokenizedForDPO(encoder: encoder, options: PreparationOptions(maxLength: 128))
        for w in summary.warnings { log("  note: \(w)") }
        let policy = try ModelBundle(path: modelPath)
        var config = DPOConfiguration()
        config.loss = PreferenceLossConfiguration(terms: [.init(.sigmoid)], beta: beta)
        config.maxLength = 128
        config.training.learningRate = s.learningRate
        config.training.batchSize = s.batchSize
        config.training.numTrainEpochs = s.epochs
        config.training.lrScheduler = .constant
        config.training.warmupSteps = 0
        config.precomputeRefLogProbs = true
        config.training.loggingSteps = 1
        config.training.maxGradNorm = 1
        config.training.seed = s.seed
        let runDir = s.betas.count == 1 && !s.frontier ? output.appendingPathComponent("model")
            : output.appendingPathComponent(String(format: "model-beta-%g", beta))
        let trainer = try DPOObjective(policy: policy.model, reference: reference.model, configuration: config,
                                       trainPairs: pairs, padID: policy.padID) { try policy.save(to: $0) }
        let total = config.training.totalSteps(examples: pairs.count)
        let evalSteps = Set((1...max(1, s.intermediateEvaluations)).map { total * $0 / (s.intermediateEvaluations + 1) }.filter { $0 > 0 })
        log("\(elapsed()) DPO β=\(beta): \(total) steps of \(s.batchSize) pairs, lr \(s.learningRate)")
        let label = { (step: Int) in
            s.betas.count == 1 && !s.frontier ? "step \(step)" : (step == total ? "β \(beta)" : "β \(beta) · step \(step)")
        }
        var trainSeconds = 0.0
        var since = Date()
        var evaluated: [FrontierPoint] = []   // the trainer's callback escapes, so not `points` itself
        try trainer.train(outputDirectory: runDir, progress: progressLogger(total: total), onStepEnd: { step in
            guard evalSteps.contains(step) && step < total else { return }
            trainSeconds += Date().timeIntervalSince(since)
            try self.addPoint(method: "dpo", label: label(step), step: step, settings: config.changedSettingValues, policy: policy,
                              heldOut: heldOut, trainSeconds: trainSeconds, to: &evaluated)
            since = Date()
        })
        trainSeconds += Date().timeIntervalSince(since)
        try addPoint(method: "dpo", label: label(total), step: total, settings: config.changedSettingValues, policy: policy,
                     heldOut: heldOut, trainSeconds: trainSeconds, to: &evaluated)
        points += evaluated
        return (try? TrainingReport.readMetrics(from: runDir.appendingPathComponent("metrics.jsonl"))) ?? []
    }

    /// One PPO or GRPO run, evaluated once at its end; returns its metrics rows.
    func trainOnline(_ objective: some TrainingObjective, method: String, label: String, settings values: JSONValue, policy: ModelBundle,
                     heldOut: HeldOut, directory: String, points: inout [FrontierPoint]) throws -> [[String: Double]] {
        let runDir = output.appendingPathComponent(directory)
        let total = objective.trainingConfiguration.maxSteps
        log("\(elapsed()) \(method.uppercased()) \(label): \(total) optimiser steps, lr \(objective.trainingConfiguration.learningRate)")
        let started = Date()
        try objective.train(outputDirectory: runDir, progress: progressLogger(total: total))
        try addPoint(method: method, label: label, step: total, settings: values, policy: policy, heldOut: heldOut,
                     trainSeconds: Date().timeIntervalSince(started), to: &points)
        return (try? TrainingReport.readMetrics(from: runDir.appendingPathComponent("metrics.jsonl"))) ?? []
    }

    /// report.html, frontier.json and summary.json.
    func writeResults(points: [FrontierPoint], final: FrontierPoint, beta: Float?, rows: [[String: Double]], heldOut: HeldOut,
                      pairCount: Int, trainPromptCount: Int) throws -> Result {
        let s = settings
        let after = final.evaluation
        let before = heldOut.meanReward
        let samples = (0..<min(12, heldOut.prompts.count)).map { i -> TrainingReport.Sample in
            let j = i * s.evalSamplesPerPrompt
            return TrainingReport.Sample(prompt: heldOut.prompts[i], before: heldOut.samples[j].text, after: after.samples[j].text,
                                         beforeScore: heldOut.scores[j], afterScore: after.scores[j])
        }
        let seconds = Date().timeIntervalSince(started)
        let model = (modelPath as NSString).lastPathComponent
        var settingsRows: [(String, String)] = [
            ("learning rate", "\(s.learningRate)"), ("batch", "\(s.batchSize) pairs"),
            ("epochs", "\(s.epochs)"), ("samples per prompt", "\(s.samplesPerPrompt)"),
            ("max new tokens", "\(s.maxNewTokens)"), ("temperature", "\(s.temperature)"),
            ("held-out prompts", "\(heldOut.prompts.count) × \(s.evalSamplesPerPrompt) samples"),
            ("β sweep", s.betas.map { "\($0)" }.joined(separator: ", ")),
            ("intervals", "\(Int(s.bootstrap.confidence * 100))% percentile bootstrap over held-out prompts, \(s.bootstrap.resamples) resamples, seed \(s.bootstrap.seed)"),
            ("seed", "\(s.seed)"),
        ]
        if s.frontier {
            settingsRows.append(("PPO kl_coef sweep", s.ppoKLCoefs.map { "\($0)" }.joined(separator: ", ")))
        }
        let report = TrainingReport(
            metadata: .init(title: s.frontier ? "Align demo: the reward–KL frontier of DPO, PPO and GRPO on positive movie-review continuations"
                                : "Align demo: DPO toward positive movie-review continuations",
                            model: model,
                            dataset: "Rotten Tomatoes snippets (VADER 3.3.2 archive): \(pairCount) pairs from \(trainPromptCount) prompts",
                            objective: (beta.map { "DPO (sigmoid), β = \($0)" } ?? "\(final.methodName) \(final.label)")
                                + (s.frontier ? " (headline); frontier: \(points.count) points" : ""),
                            settings: settingsRows, wallTimeSeconds: seconds),
            logRows: rows,
            before: .init(meanReward: before, winRate: 0.5, klNats: 0, promptCount: heldOut.prompts.count,
                          rewardInterval: heldOut.rewardInterval, confidence: s.bootstrap.confidence),
            after: .init(meanReward: after.meanReward, winRate: after.winRate, klNats: after.klNats, promptCount: heldOut.prompts.count,
                         rewardInterval: final.intervals.reward, klInterval: final.intervals.kl,
                         rewardChangeInterval: final.intervals.rewardChange, confidence: s.bootstrap.confidence),
            checkpoints: points.map(\.checkpoint), samples: samples,
            rewardDescription: "VADER compound sentiment of prompt + continuation, in [−1, 1]")
        let reportURL = output.appendingPathComponent("report.html")
        try report.write(to: reportURL)
        let evaluation: JSONValue = .object([
            ("prompts", .integer(heldOut.prompts.count)), ("samples_per_prompt", .integer(s.evalSamplesPerPrompt)),
            ("max_new_tokens", .integer(s.maxNewTokens)), ("temperature", .double(Double(s.temperature))),
            ("seed", .integer(Int(s.seed &+ 2))), ("reference_seed", .integer(Int(s.seed &+ 1))),
            ("stop", .string("first line break or EOS")),
        ])
        try FrontierFile(model: model, evaluation: evaluation, bootstrap: s.bootstrap, referenceReward: before,
                         referenceRewardInterval: heldOut.rewardInterval, points: points)
            .write(to: output.appendingPathComponent("frontier.json"))
        let result = Result(before: before, after: after.meanReward, kl: after.klNats, winRate: after.winRate, seconds: seconds,
                            report: reportURL, rewardChangeInterval: final.intervals.rewardChange, klInterval: final.intervals.kl,
                            confidence: s.bootstrap.confidence, points: points)
        var summaryJSON: [String: Any] = ["mean_reward_before": before, "mean_reward_after": after.meanReward,
                                          "kl_nats": after.klNats, "win_rate": after.winRate, "method": final.method,
                                          "point": final.label, "pairs": pairCount, "seconds": seconds, "confidence": s.bootstrap.confidence]
        if let beta { summaryJSON["beta"] = Double(beta) }
        if let ci = final.intervals.rewardChange { summaryJSON["reward_change_ci"] = [ci.lowerBound, ci.upperBound] }
        if let ci = final.intervals.kl { summaryJSON["kl_nats_ci"] = [ci.lowerBound, ci.upperBound] }
        try JSONSerialization.data(withJSONObject: summaryJSON, options: [.prettyPrinted, .sortedKeys])
            .write(to: output.appendingPathComponent("summary.json"))
        return result
    }
}

/// Writes Codable rows as JSON Lines.
public func writeJSONLines<T: Encodable>(_ rows: [T], to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var data = Data()
    for row in rows {
        data.append(try encoder.encode(row))
        data.append(0x0A)
    }
    try data.write(to: url, options: .atomic)
}
