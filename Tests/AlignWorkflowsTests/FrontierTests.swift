import AlignJSON
import AlignReport
import AlignSentiment
@testable import AlignWorkflows
import Foundation
import Testing
import TestSupport

/// The demo's frontier: per-prompt intervals, frontier.json, and a tiny end-to-end run.
@Suite struct FrontierTests {
    static func evaluation(scores: [Double], kl: [Double], prompts: Int) -> PolicyEvaluation {
        PolicyEvaluation(meanReward: scores.reduce(0, +) / Double(scores.count), referenceMeanReward: 0, winRate: 0.5,
                         klNats: kl.reduce(0, +) / Double(kl.count), promptCount: prompts,
                         samples: scores.map { _ in SampledCompletion(text: "x", ids: [1]) }, scores: scores, sampleKL: kl)
    }

    @Test func promptMeansAverageEachPromptsSamples() {
        #expect(PolicyEvaluator.promptMeans([1, 3, 5, 7, 0, 0], prompts: 3) == [2, 6, 0])
        #expect(PolicyEvaluator.promptMeans([], prompts: 3) == [])
    }

    @Test func intervalsResamplePromptsAndPairTheChange() throws {
        // Prompt difficulty varies a lot, but the policy beats the reference by exactly 0.1 on every
        // prompt: the paired change's interval is the point 0.1, while the reward's is wide.
        let reference = [-0.8, -0.6, 0.0, 0.2, 0.5, 0.7, -0.3, -0.1]
        let policy = reference.map { $0 + 0.1 }
        let e = Self.evaluation(scores: policy, kl: [1, 1, 2, 2, 3, 3, 4, 4], prompts: 4)
        let ci = e.intervals(referenceScores: reference, bootstrap: BootstrapSettings(resamples: 500, seed: 1))
        let change = try #require(ci.rewardChange)
        #expect(abs(change.lowerBound - 0.1) < 1e-12 && abs(change.upperBound - 0.1) < 1e-12)
        let reward = try #require(ci.reward), kl = try #require(ci.kl)
        #expect(reward.contains(e.meanReward) && reward.upperBound - reward.lowerBound > 0.2)
        #expect(kl.contains(e.klNats) && kl.lowerBound >= 1 && kl.upperBound <= 4)
        #expect(ci == e.intervals(referenceScores: reference, bootstrap: BootstrapSettings(resamples: 500, seed: 1)))
    }

    @Test func frontierJSONHasOneEntryPerPointWithIntervalsAndSettings() throws {
        let e = Self.evaluation(scores: [0.5, 0.1], kl: [0.2, 0.4], prompts: 1)
        let point = FrontierPoint(method: "ppo", label: "kl_coef 0.05", step: 16, settings: .object([("kl_coef", .double(0.05))]),
                                  evaluation: e, intervals: EvaluationIntervals(reward: 0.1...0.5, kl: 0.2...0.4, rewardChange: nil),
                                  trainSeconds: 12.5)
        let file = FrontierFile(model: "m.gguf", evaluation: .object([("prompts", .integer(1))]), bootstrap: BootstrapSettings(),
                                referenceReward: 0.2, referenceRewardInterval: 0.1...0.3, points: [point, point])
        let parsed = try JSONReader.parse(JSONWriter.bytes(file.json, indent: 2))
        guard case .object(let top) = parsed else { Issue.record("not an object"); return }
        #expect(top.map(\.key) == ["model", "reward", "evaluation", "bootstrap", "reference", "points"])
        #expect(parsed["bootstrap"]?["resamples"] == .integer(2000))
        #expect(parsed["reference"]?["mean_reward_ci"] == .array([.double(0.1), .double(0.3)]))
        guard case .array(let points)? = parsed["points"], case .object(let first)? = points.first else {
            Issue.record("no points"); return
        }
        #expect(points.count == 2)
        #expect(first.map(\.key) == ["method", "label", "step", "mean_reward", "mean_reward_ci", "kl_nats", "kl_nats_ci",
                                     "reward_change", "reward_change_ci", "win_rate", "train_seconds", "settings"])
        #expect(points[0]["kl_nats_ci"] == .array([.double(0.2), .double(0.4)]))
        #expect(points[0]["reward_change_ci"] == .null)
        #expect(points[0]["settings"]?["kl_coef"] == .double(0.05))
        #expect(point.settingsText == "kl_coef 0.05")
        #expect(point.checkpoint.group == "PPO" && point.checkpoint.klInterval == 0.2...0.4)
    }

    @Test func headlineKeepsItsPrefixAndAddsTheInterval() {
        var r = SentimentDemo.Result(before: 0.3235, after: 0.4439, kl: 2.529, winRate: 0.61, seconds: 1, report: URL(fileURLWithPath: "/r"),
                                     rewardChangeInterval: -0.02...0.25, klInterval: 2.1...2.9, confidence: 0.95, points: [])
        #expect(r.headline.hasPrefix("mean reward: 0.3235 -> 0.4439 (KL 2.529 nats, win rate 61%); 95% CI: change +0.1204 [-0.0200, +0.2500], KL [2.100, 2.900]"))
        #expect(r.headline.hasSuffix("(the change is within evaluation noise)"))
        r.rewardChangeInterval = nil
        #expect(r.headline == "mean reward: 0.3235 -> 0.4439 (KL 2.529 nats, win rate 61%)")
    }

    /// The whole frontier on the tiny Llama fixture: DPO, PPO and GRPO points, each evaluated with
    /// intervals, frontier.json and a report with error bars. Needs the VADER assets.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: MovieReviewSnippets.file(in: VaderSentiment.defaultCacheDirectory).path),
                   "movie-review snippets not in the asset cache; run scripts/fetch-assets.sh"))
    func tinyFrontierEndToEnd() throws {
        var s = SentimentDemo.Settings.frontierSweep
        s.trainPrompts = 16; s.evalPrompts = 4; s.samplesPerPrompt = 4; s.evalSamplesPerPrompt = 2; s.maxNewTokens = 4
        s.betas = [0.1]; s.batchSize = 4; s.ppoKLCoefs = [0.1]; s.bootstrap.resamples = 200
        s.ppo.training.batchSize = 4; s.ppo.training.maxSteps = 2
        s.grpo.training.batchSize = 4; s.grpo.sampling.numGenerations = 2; s.grpo.training.maxSteps = 1
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("frontier-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let demo = SentimentDemo(settings: s, modelPath: fixturesDirectory.appendingPathComponent("models/llama").path,
                                 cacheDirectory: VaderSentiment.defaultCacheDirectory, outputDirectory: output, log: { _ in })
        let r = try demo.run()
        #expect(r.points.map(\.method) == ["dpo", "ppo", "grpo"])
        for p in r.points {
            let reward = try #require(p.intervals.reward), kl = try #require(p.intervals.kl)
            #expect(reward.contains(p.evaluation.meanReward) && kl.contains(p.evaluation.klNats), "\(p.method)")
        }
        #expect(r.points.dropFirst().map(\.step) == [2, 1])
        #expect(r.headline.hasPrefix("mean reward: "))
        #expect(r.headline.contains("95% CI: change "))
        let json = try JSONReader.parse(Array(try Data(contentsOf: output.appendingPathComponent("frontier.json"))))
        guard case .array(let points)? = json["points"] else { Issue.record("frontier.json has no points"); return }
        #expect(points.count == 3)
        #expect(points[1]["settings"]?["kl_coef"] == .number(JSONNumber(text: "0.1")))
        let html = try String(contentsOf: r.report, encoding: .utf8)
        #expect(html.components(separatedBy: "<g class=\"error-bar\">").count - 1 == 4)
        for name in ["DPO", "PPO", "GRPO"] { #expect(html.contains("<th>\(name)</th>")) }
    }
}
