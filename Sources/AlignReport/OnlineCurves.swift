import Foundation

/// The training curves of online runs (`align ppo`, `grpo`, `rloo`), drawn from the metric names
/// their `metrics.jsonl` uses (TRL's): what a reader checks first is whether the reward rises while
/// the KL to the reference stays bounded, then the clipping and value-fit diagnostics.
extension TrainingReport {
    /// The curves for `method` (`"ppo"`, `"grpo"` or `"rloo"`), or nil for any other method. One
    /// chart of every reward source's mean is added for the `rewards/NAME/mean` keys found in `logRows`.
    public static func onlineCurves(method: String, logRows: [[String: Double]]) -> [Curve]? {
        let blue = trainColor, green = chosenColor, red = rejectedColor, amber = evalColor
        var sources: [String] = []
        for row in logRows {
            for key in row.keys.sorted() where key.hasPrefix("rewards/") && key.hasSuffix("/mean") && !sources.contains(key) {
                sources.append(key)
            }
        }
        let palette = [green, amber, red, "#7c3aed", "#0891b2", "#db2777"]
        let sourceCurve = Curve(
            title: "Reward sources", yLabel: "mean score",
            keys: sources.enumerated().map { i, key in
                (key, String(key.dropFirst("rewards/".count).dropLast("/mean".count)), palette[i % palette.count])
            },
            caption: "Mean raw score of each --reward source (before weighting).", optional: true)
        let common: [Curve] = [
            Curve(title: "Learning rate", yLabel: "learning rate", keys: [("learning_rate", "lr", blue)],
                  caption: "Scheduled learning rate (linear decay by default, as TRL).", optional: true),
            Curve(title: "Gradient norm", yLabel: "‖g‖", keys: [("grad_norm", "grad norm", blue)],
                  caption: "Global gradient norm before clipping.", optional: true),
            Curve(title: "Throughput", yLabel: "tokens / s",
                  keys: [("generation_tokens_per_second", "generation", amber), ("tokens_per_second", "training", blue)],
                  caption: "Sampling throughput (new tokens per second) and training throughput (prompt + completion tokens per second).",
                  optional: true),
        ]
        switch method {
        case "ppo":
            return [
                Curve(title: "RLHF reward", yLabel: "reward",
                      keys: [("objective/rlhf_reward", "score − KL penalty", blue), ("objective/scores", "score", green)],
                      caption: "Mean score of the sampled responses and the RLHF objective (score + non-score reward); both should rise.",
                      optional: false),
                Curve(title: "KL from the reference", yLabel: "nats per response", keys: [("objective/kl", "KL", red)],
                      caption: "Summed per-token KL(π‖π_ref) of the sampled responses; the penalty keeps it bounded.", optional: false),
                Curve(title: "Non-score reward", yLabel: "reward", keys: [("objective/non_score_reward", "−kl_coef·KL", red)],
                      caption: "The KL penalty's share of the reward (summed per response).", optional: true),
                Curve(title: "KL coefficient", yLabel: "kl_coef", keys: [("objective/kl_coef", "kl_coef", blue)],
                      caption: "The KL coefficient (moves only with the adaptive controller, --kl-target).", optional: true),
                Curve(title: "Losses", yLabel: "loss",
                      keys: [("loss/policy_avg", "policy", blue), ("loss/value_avg", "value", amber)],
                      caption: "Clipped policy loss and clipped value loss, averaged over the PPO epochs and mini-batches.", optional: false),
                Curve(title: "Clipping", yLabel: "fraction", keys: [("policy/clipfrac_avg", "policy", blue), ("val/clipfrac_avg", "value", amber)],
                      yIncludes: 0...1, caption: "Share of tokens whose ratio (policy) or value prediction (value) was clipped.", optional: true),
                Curve(title: "Approximate KL per update", yLabel: "approx KL", keys: [("policy/approxkl_avg", "approx KL", blue)],
                      caption: "½·(log ratio)² averaged over tokens: how far each update moves the policy.", optional: true),
                Curve(title: "Entropy", yLabel: "nats", keys: [("objective/entropy", "per response", blue)],
                      caption: "Summed token entropy of the sampled responses (falls as the policy sharpens).", optional: true),
                Curve(title: "Response length", yLabel: "tokens", keys: [("completions/mean_length", "mean", blue)],
                      caption: "Mean response length after stop-token truncation.", optional: true),
                sourceCurve,
            ] + common
        case "grpo", "rloo":
            return [
                Curve(title: "Reward", yLabel: "reward", keys: [("reward", "mean", blue), ("reward_std", "std", amber)],
                      caption: "Mean (weighted) reward of the step's completions and its standard deviation; the mean should rise.",
                      optional: false),
                sourceCurve,
                Curve(title: "KL from the reference", yLabel: "nats per token", keys: [("kl", "KL", red)],
                      caption: method == "grpo" ? "Mean per-token k3 estimate of KL(π‖π_ref) (only with beta > 0)."
                          : "Mean per-token KL(π‖π_ref) of the rollouts (only with beta > 0).",
                      optional: true),
                Curve(title: "Loss", yLabel: "loss", keys: [("loss", "loss", blue)],
                      caption: "The clipped surrogate loss of the step (near 0 on-policy: advantages are centred).", optional: false),
                Curve(title: "Clipping", yLabel: "fraction",
                      keys: [("clip_ratio/region_mean", "either", blue), ("clip_ratio/low_mean", "low", green), ("clip_ratio/high_mean", "high", red)],
                      yIncludes: 0...1, caption: method == "grpo" ? "Share of tokens whose ratio was clipped." : "Share of sequences whose ratio was clipped.",
                      optional: true),
                Curve(title: "Groups without signal", yLabel: "fraction", keys: [("frac_reward_zero_std", "zero-std groups", blue)],
                      yIncludes: 0...1, caption: "Share of prompts whose completions all scored the same (no advantage, no gradient).",
                      optional: true),
                Curve(title: "Entropy", yLabel: "nats per token", keys: [("entropy", "entropy", blue)],
                      caption: "Mean token entropy of the completions under the policy.", optional: true),
                Curve(title: "Completion length", yLabel: "tokens",
                      keys: [("completions/mean_length", "mean", blue), ("completions/mean_terminated_length", "terminated", green)],
                      caption: "Mean completion length, and among those that ended with EOS.", optional: true),
                Curve(title: "Truncated completions", yLabel: "fraction", keys: [("completions/clipped_ratio", "no EOS", blue)],
                      yIncludes: 0...1, caption: "Share of completions cut at max_completion_length.", optional: true),
            ] + common
        default:
            return nil
        }
    }
}
