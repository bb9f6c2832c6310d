import Foundation
import AlignReport

/// A deterministic, plausible DPO run (IMDb positive-sentiment task) for report tests and for the
/// example page: 300 steps of noisy TRL-style metrics, evaluations every 50 steps, checkpoints on
/// the reward–KL plane and a few samples, one of them full of HTML specials.
enum SyntheticRun {
    /// A small linear congruential generator: same numbers on every platform and run.
    struct LCG {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        /// Roughly normal noise (sum of uniforms), mean 0, standard deviation about `sd`.
        mutating func noise(_ sd: Double) -> Double {
            (next() + next() + next() + next() - 2) * sd * 1.73
        }
    }

    static func rows(steps: Int = 300) -> [[String: Double]] {
        var rng = LCG(state: 42)
        var rows: [[String: Double]] = []
        for step in 1...steps {
            let t = Double(step) / Double(steps)
            let progress = 1 - exp(-3.5 * t)
            let margin = 2.1 * progress + rng.noise(0.35)
            let chosenReward = 0.35 * progress + rng.noise(0.12)
            let lr = step <= 30 ? 5e-7 * Double(step) / 30 : 5e-7 * (1 - Double(step - 30) / Double(steps - 30))
            rows.append([
                "step": Double(step), "epoch": Double(step) / 150,
                "loss": max(0.05, 0.6931 - 0.42 * progress + rng.noise(0.06)),
                "rewards/accuracies": min(1, max(0, 0.5 + 0.37 * progress + rng.noise(0.08))),
                "rewards/margins": margin,
                "rewards/chosen": chosenReward,
                "rewards/rejected": chosenReward - margin,
                "logps/chosen": -121 - 6 * progress + rng.noise(2.5),
                "logps/rejected": -120 - 38 * progress + rng.noise(3),
                "learning_rate": lr,
                "grad_norm": 9 * (1 - 0.5 * progress) + abs(rng.noise(2)),
                "tokens_per_second": 1850 + rng.noise(60),
            ])
            if step % 50 == 0 {
                rows.append([
                    "step": Double(step), "epoch": Double(step) / 150,
                    "eval_loss": 0.6931 - 0.36 * progress,
                    "eval_rewards/accuracies": 0.5 + 0.31 * progress,
                    "eval_rewards/margins": 1.7 * progress,
                    "eval_rewards/chosen": 0.28 * progress,
                    "eval_rewards/rejected": 0.28 * progress - 1.7 * progress,
                    "eval_logps/chosen": -122 - 7 * progress,
                    "eval_logps/rejected": -121 - 33 * progress,
                ])
            }
        }
        return rows
    }

    static func report() -> TrainingReport {
        var report = TrainingReport(metadata: .init(
            title: "DPO: positive continuations of movie reviews",
            model: "SmolLM2-135M (Q4_1 → f32)",
            dataset: "IMDb review prefixes, 512 preference pairs ranked by VADER",
            objective: "DPO (sigmoid), β = 0.1",
            settings: [("beta", "0.1"), ("loss_type", "sigmoid"), ("learning_rate", "5e-7"),
                       ("batch size", "8 (2 × 4 accumulation)"), ("max_length", "96"), ("seed", "42")],
            wallTimeSeconds: 2735, generatedAt: "2026-11-22 23:30 UTC"))
        report.logRows = rows()
        report.before = .init(meanReward: 0.132, winRate: 0.5, klNats: 0, promptCount: 256)
        report.after = .init(meanReward: 0.614, winRate: 0.781, klNats: 3.21, promptCount: 256)
        report.checkpoints = [
            .init(label: "step 50", klNats: 0.62, meanReward: 0.27),
            .init(label: "step 100", klNats: 1.35, meanReward: 0.41),
            .init(label: "step 150", klNats: 1.98, meanReward: 0.50),
            .init(label: "step 200", klNats: 2.51, meanReward: 0.56),
            .init(label: "step 250", klNats: 2.93, meanReward: 0.595),
            .init(label: "step 300", klNats: 3.21, meanReward: 0.614),
        ]
        report.extraComparisons = [.init(name: "Positive share", before: 0.55, after: 0.86, style: .percent)]
        report.samples = [
            .init(prompt: "I went into this movie expecting",
                  before: " very little, and I got even less. The plot was thin and the acting was wooden.",
                  after: " a fun night out, and it delivered: a warm, funny and beautifully acted story.",
                  beforeScore: -0.42, afterScore: 0.91),
            .init(prompt: "The <b>director</b> & \"cast\" didn't",
                  before: " seem to care <script>alert('x')</script> about anything.",
                  after: " disappoint: a wonderful, heartfelt film I'd happily watch again & again.",
                  beforeScore: -0.12, afterScore: 0.88),
            .init(prompt: "This is the kind of film that",
                  before: " makes you wonder why anyone bothered.\nTwo hours I will never get back.",
                  after: " stays with you for days. Great performances, great music, great heart.",
                  beforeScore: -0.35, afterScore: 0.95),
            .init(prompt: "Honestly, the sequel",
                  before: " is about as good as the first one, no more and no less.",
                  after: " is even better than the original, with a lovely ending.",
                  beforeScore: 0.02, afterScore: 0.74),
        ]
        report.rewardDescription = "Reward: VADER compound sentiment score of the continuation, in [−1, 1]; higher is more positive."
        return report
    }
}

extension SyntheticRun {
    /// Awkward input: three log rows (one NaN loss, metrics missing), a negative starting reward,
    /// a β sweep with crowded points, unbreakable and non-Latin sample text.
    static func edgeReport() -> TrainingReport {
        var report = TrainingReport(metadata: .init(title: "Edge cases & <odd> input", model: "tiny", dataset: "3 rows"))
        report.logRows = [
            ["step": 1, "loss": 0.6931, "rewards/accuracies": 0.5, "rewards/margins": 0],
            ["step": 2, "loss": .nan, "rewards/margins": -0.05],
            ["step": 3, "loss": 0.61, "rewards/margins": 0.2, "my_metric": 42],
        ]
        report.before = .init(meanReward: -0.21, winRate: 0.5, klNats: 0, promptCount: 64)
        report.after = .init(meanReward: 0.35, winRate: 0.66, klNats: 12.5, promptCount: 64)
        report.checkpoints = [
            .init(label: "β = 0.5", klNats: 0.8, meanReward: -0.05),
            .init(label: "β = 0.3", klNats: 1.1, meanReward: -0.01),
            .init(label: "β = 0.2", klNats: 1.3, meanReward: 0.02),
            .init(label: "β = 0.1", klNats: 2.9, meanReward: 0.20),
            .init(label: "β = 0.05", klNats: 6.1, meanReward: 0.32),
            .init(label: "β = 0.01", klNats: 12.5, meanReward: 0.35),
        ]
        report.samples = [
            .init(prompt: String(repeating: "unbreakable", count: 12), before: "😀 naïve café — “quotes”",
                  after: "日本語のテキスト\n\nwith blank line", beforeScore: .nan, afterScore: -0.9),
        ]
        report.notes = ["2 log lines could not be read (lines 7, 9)."]
        report.smoothing = 0
        return report
    }
}
