/// The training curves of a Diffusion-DPO run (`align diffusion-dpo`), from the metric names its
/// `metrics.jsonl` uses (Salesforce `train.py`'s quantities).
extension TrainingReport {
    /// Loss, implicit accuracy, the reward margin, the four denoising errors, learning rate and
    /// gradient norm.
    public static let diffusionDPOCurves: [Curve] = [
        Curve(title: "Loss", yLabel: "loss", keys: [("loss", "loss", trainColor)],
              caption: "Diffusion-DPO loss −log σ(inside); log 2 ≈ 0.693 when policy = reference.", optional: false),
        Curve(title: "Implicit accuracy", yLabel: "accuracy", keys: [("implicit_acc", "implicit_acc", trainColor)], yIncludes: 0...1,
              caption: "Share of pairs whose winner the policy denoises better, relative to the reference (inside > 0).", optional: true),
        Curve(title: "Reward margin", yLabel: "inside", keys: [("reward_margin", "reward_margin", trainColor)],
              caption: "Mean of −½β((mse_θ(w) − mse_θ(l)) − (mse_ref(w) − mse_ref(l))); should grow.", optional: true),
        Curve(title: "Denoising errors", yLabel: "mse",
              keys: [("mse_w", "policy, winner", chosenColor), ("mse_l", "policy, loser", rejectedColor),
                     ("ref_mse_w", "reference, winner", "#6ee7b7"), ("ref_mse_l", "reference, loser", "#fca5a5")],
              caption: "Per-image ε-prediction error on the same t and ε; the policy's winner error should fall relative to its loser's.", optional: true),
        Curve(title: "Learning rate", yLabel: "learning rate", keys: [("learning_rate", "lr", trainColor)],
              caption: "Scheduled learning rate.", optional: true),
        Curve(title: "Gradient norm", yLabel: "‖g‖", keys: [("grad_norm", "grad norm", trainColor)],
              caption: "Global gradient norm before clipping.", optional: true),
    ]
}
