import Foundation
import Testing
@testable import AlignReport

/// The training curves `align ppo`, `grpo` and `rloo` put in report.html, from their metric names.
@Suite("Online training curves")
struct OnlineCurvesTests {
    /// `steps` log rows with `keys`, each a smooth function of the step.
    static func rows(_ keys: [String], steps: Int = 30) -> [[String: Double]] {
        (1...steps).map { step in
            var row: [String: Double] = ["step": Double(step)]
            for (i, key) in keys.enumerated() { row[key] = Double(i + 1) * 0.1 + 0.01 * Double(step) }
            return row
        }
    }

    static func body(_ html: String) -> String {
        String(html[html.range(of: "<body>")!.lowerBound..<html.range(of: "</body>")!.upperBound])
            .replacingOccurrences(of: "<col class=\"prompt\">", with: "<col class=\"prompt\"/>")
            .replacingOccurrences(of: "<col>", with: "<col/>")
    }

    @Test("GRPO/RLOO: reward, per-source rewards, KL, clipping, lengths; no DPO charts")
    func group() throws {
        let logRows = Self.rows(["reward", "reward_std", "kl", "loss", "entropy", "frac_reward_zero_std", "clip_ratio/region_mean",
                                 "clip_ratio/low_mean", "clip_ratio/high_mean", "completions/mean_length", "completions/clipped_ratio",
                                 "rewards/arithmetic/mean", "rewards/format/mean", "learning_rate", "grad_norm", "tokens_per_second",
                                 "generation_tokens_per_second"])
        for method in ["grpo", "rloo"] {
            var report = TrainingReport(metadata: .init(title: "GRPO run", model: "m", dataset: "d"), logRows: logRows)
            report.curves = try #require(TrainingReport.onlineCurves(method: method, logRows: logRows))
            let html = report.html()
            for title in ["Reward", "Reward sources", "KL from the reference", "Loss", "Clipping", "Groups without signal", "Entropy",
                          "Completion length", "Truncated completions", "Learning rate", "Gradient norm", "Throughput"] {
                #expect(html.contains("<title>\(title)</title>"), "\(method): chart \(title) missing")
            }
            #expect(!html.contains("<title>Preference accuracy</title>") && !html.contains("<title>Implicit rewards</title>"))
            #expect(html.contains(">arithmetic<") && html.contains(">format<"), "per-source legend missing")
            let check = XMLCheck.check(Self.body(html))
            #expect(check.error == nil, "\(check.error ?? "")")
        }
    }

    @Test("PPO: RLHF reward, KL, losses, clipping; optional charts without data are left out")
    func ppo() throws {
        let logRows = Self.rows(["objective/rlhf_reward", "objective/scores", "objective/kl", "objective/non_score_reward",
                                 "loss/policy_avg", "loss/value_avg", "policy/clipfrac_avg", "val/clipfrac_avg", "policy/approxkl_avg",
                                 "objective/entropy", "learning_rate"])
        var report = TrainingReport(metadata: .init(title: "PPO run", model: "m", dataset: "d"), logRows: logRows)
        report.curves = try #require(TrainingReport.onlineCurves(method: "ppo", logRows: logRows))
        let html = report.html()
        for title in ["RLHF reward", "KL from the reference", "Non-score reward", "Losses", "Clipping", "Approximate KL per update",
                      "Entropy", "Learning rate"] {
            #expect(html.contains("<title>\(title)</title>"), "chart \(title) missing")
        }
        // No rows carry these keys, and the charts are optional.
        for title in ["Reward sources", "Gradient norm", "Throughput", "KL coefficient"] {
            #expect(!html.contains("<title>\(title)</title>"), "empty optional chart \(title) drawn")
        }
        let check = XMLCheck.check(Self.body(html))
        #expect(check.error == nil, "\(check.error ?? "")")
    }

    @Test("Other methods keep the preference curves")
    func others() {
        #expect(TrainingReport.onlineCurves(method: "dpo", logRows: []) == nil)
        let report = TrainingReport(metadata: .init(title: "t", model: "m", dataset: "d"))
        #expect(report.curves.map(\.title) == TrainingReport.preferenceCurves.map(\.title))
    }
}

@Suite struct DiffusionCurvesTests {
    @Test func diffusionRunsDrawTheirOwnMetrics() {
        var report = TrainingReport(metadata: .init(title: "t", model: "m", dataset: "d"))
        report.curves = TrainingReport.diffusionDPOCurves
        report.logRows = (1...4).map { ["step": Double($0), "loss": 0.69 - 0.01 * Double($0), "implicit_acc": 0.5, "reward_margin": 0.1,
                                        "mse_w": 0.02, "mse_l": 0.03, "ref_mse_w": 0.021, "ref_mse_l": 0.029, "learning_rate": 1e-5, "grad_norm": 3] }
        let html = report.html()
        for title in ["Implicit accuracy", "Denoising errors", "Reward margin"] { #expect(html.contains(title)) }
        #expect(!html.contains("Preference accuracy"))
    }
}
