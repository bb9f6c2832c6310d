import AlignHub
import AlignJSON
import AlignReport
import AlignSettings
import AlignTraining
import Foundation

/// One trained policy on the reward–KL plane, evaluated like every other point of the demo.
public struct FrontierPoint: Sendable {
    /// `dpo`, `ppo` or `grpo`.
    public var method: String
    /// What distinguishes it within its method (`β 0.1`, `kl_coef 0.05`, `β 0.1 · step 15`).
    public var label: String
    /// Optimiser steps trained when it was evaluated.
    public var step: Int
    /// The settings of its run that differ from the objective's defaults (TRL's names and
    /// defaults; see ``AlignSettings/SettingsDeclaration/changedSettingValues``).
    public var settings: JSONValue
    public var evaluation: PolicyEvaluation
    public var intervals: EvaluationIntervals
    /// Wall-clock seconds of its run's training (evaluations excluded).
    public var trainSeconds: Double

    public init(method: String, label: String, step: Int, settings: JSONValue, evaluation: PolicyEvaluation,
                intervals: EvaluationIntervals, trainSeconds: Double) {
        self.method = method; self.label = label; self.step = step; self.settings = settings
        self.evaluation = evaluation; self.intervals = intervals; self.trainSeconds = trainSeconds
    }

    /// The method as the report's legend writes it.
    public var methodName: String { method.uppercased() }

    /// The settings as one line (`beta 0.1, learning_rate 5e-05`), for the report's table.
    public var settingsText: String {
        guard case .object(let members) = settings else { return "" }
        return members.map { key, value in
            if case .string(let s) = value { return "\(key) \(s)" }
            return "\(key) \(String(decoding: JSONWriter.bytes(value), as: UTF8.self))"
        }.joined(separator: ", ")
    }

    /// The point as the report's reward–KL plot and table take it.
    public var checkpoint: TrainingReport.Checkpoint {
        .init(label: label, klNats: evaluation.klNats, meanReward: evaluation.meanReward, klInterval: intervals.kl,
              rewardInterval: intervals.reward, group: methodName, details: "\(step) step\(step == 1 ? "" : "s"); " + settingsText)
    }
}

/// `frontier.json`: every point of a demo run with its settings and intervals (fields in the README).
public struct FrontierFile {
    public var model: String
    public var evaluation: JSONValue
    public var bootstrap: BootstrapSettings
    /// The reference's mean reward on the held-out prompts and its interval.
    public var referenceReward: Double
    public var referenceRewardInterval: ClosedRange<Double>?
    public var points: [FrontierPoint]

    public init(model: String, evaluation: JSONValue, bootstrap: BootstrapSettings, referenceReward: Double,
                referenceRewardInterval: ClosedRange<Double>?, points: [FrontierPoint]) {
        self.model = model; self.evaluation = evaluation; self.bootstrap = bootstrap; self.referenceReward = referenceReward
        self.referenceRewardInterval = referenceRewardInterval; self.points = points
    }

    static func interval(_ r: ClosedRange<Double>?) -> JSONValue {
        r.map { .array([.double($0.lowerBound), .double($0.upperBound)]) } ?? .null
    }

    /// The document.
    public var json: JSONValue {
        .object([
            ("model", .string(model)),
            ("reward", .string("VADER compound of prompt + continuation (first line), in [-1, 1]")),
            ("evaluation", evaluation),
            ("bootstrap", .object([("unit", .string("held-out prompt")), ("resamples", .integer(bootstrap.resamples)),
                                   ("confidence", .double(bootstrap.confidence)), ("seed", .integer(Int(bootstrap.seed)))])),
            ("reference", .object([("mean_reward", .double(referenceReward)),
                                   ("mean_reward_ci", Self.interval(referenceRewardInterval)), ("kl_nats", .integer(0))])),
            ("points", .array(points.map { p in
                let e = p.evaluation
                return .object([
                    ("method", .string(p.method)), ("label", .string(p.label)), ("step", .integer(p.step)),
                    ("mean_reward", .double(e.meanReward)), ("mean_reward_ci", Self.interval(p.intervals.reward)),
                    ("kl_nats", .double(e.klNats)), ("kl_nats_ci", Self.interval(p.intervals.kl)),
                    ("reward_change", .double(e.meanReward - e.referenceMeanReward)),
                    ("reward_change_ci", Self.interval(p.intervals.rewardChange)),
                    ("win_rate", .double(e.winRate)), ("train_seconds", .double(p.trainSeconds)),
                    ("settings", p.settings),
                ])
            })),
        ])
    }

    /// Writes ``json`` (indented) to `url`.
    public func write(to url: URL) throws {
        try Data(JSONWriter.bytes(json, indent: 2) + [0x0A]).write(to: url, options: .atomic)
    }
}

/// The online runs of `align demo --frontier`: PPO and GRPO on the demo's training prompts with the
/// VADER reward, through the same objectives as `align ppo` and `align grpo`.
enum OnlineRuns {
    /// The demo's prompts as online prompts (tokenised as the sampler tokenises them).
    static func prompts(_ texts: [String], bundle: ModelBundle) -> [OnlinePrompt] {
        texts.enumerated().map { i, text in
            OnlinePrompt(ids: bundle.tokenizer.encode(text, addSpecialTokens: true).map(Int32.init), text: text,
                         location: "train prompt \(i + 1)")
        }
    }

    static func decoder(_ bundle: ModelBundle) -> ([Int32]) -> String {
        { bundle.tokenizer.decode($0.map(Int.init), skipSpecialTokens: true) }
    }

    /// PPO with a zero-head value model on the policy's body (TRL's choice when the reward is not
    /// a model), trained in `directory`.
    static func ppo(modelPath: String, policy: ModelBundle, reference: ModelBundle, reward: RewardSource,
                    configuration: PPOConfiguration, prompts: [String]) throws -> PPOObjective {
        let value = try RewardModelBundle.zeroHeadValueModel(path: modelPath)
        return try PPOObjective(policy: policy.model, reference: reference.model, valueModel: value,
                                rewards: try WeightedRewards(sources: [reward]), configuration: configuration,
                                prompts: Self.prompts(prompts, bundle: policy), eosID: policy.tokenizer.eosTokenID.map(Int32.init),
                                padID: policy.padID, decode: decoder(policy)) { try policy.save(to: $0) }
    }

    /// GRPO (a reference is held only when β ≠ 0).
    static func grpo(policy: ModelBundle, reference: ModelBundle, reward: RewardSource, configuration c: GRPOConfiguration,
                     prompts: [String]) throws -> GroupRelativeObjective {
        try GroupRelativeObjective(method: .grpo(lossType: c.lossType, scaleRewards: c.scaleRewards), training: c.training,
                                   sampling: c.sampling, policy: policy.model, reference: c.sampling.beta != 0 ? reference.model : nil,
                                   rewards: try WeightedRewards(sources: [reward]), prompts: Self.prompts(prompts, bundle: policy),
                                   eosIDs: policy.tokenizer.eosTokenID.map { [Int32($0)] } ?? [], padID: policy.padID,
                                   decode: decoder(policy)) { try policy.save(to: $0) }
    }
}
