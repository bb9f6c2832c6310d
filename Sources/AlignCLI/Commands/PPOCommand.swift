import AlignHub
import AlignModels
import AlignTraining
import ArgumentParser
import Foundation

/// `align ppo`: PPO with a value model and a KL penalty to the reference, as TRL's PPO trainer. A
/// thin layer over ``PPOObjective``; its settings are ``PPOConfiguration/settings``.
struct PPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ppo",
        abstract: "PPO (RLHF) against a reward model, VADER or an external scorer, with a value model and a KL penalty.",
        discussion: """
            --data: prompts (JSON Lines with "prompt" or "messages", or one per line). Each rollout is \
            per_device_train_batch_size × gradient_accumulation_steps prompts, trained on for num_ppo_epochs × \
            num_mini_batches optimiser steps (max_steps, logging_steps and save_steps count those steps). The value \
            model is the reward model when --reward is a folder (as TRL), else --value-model, else the policy's body \
            with a zero score head; it is saved in OUTPUT/value_model/. Writes OUTPUT/metrics.jsonl with TRL's names \
            (objective/kl, objective/scores, policy/approxkl_avg, loss/value_avg, val/ratio, episode, ...).

            """ + PPOConfiguration.helpText)

    @OptionGroup var common: TrainingOptions
    @OptionGroup var online: OnlineOptions
    @Option(help: "Value model: a sequence-classification folder (default: the reward model folder, else the policy's body with a zero head).")
    var valueModel: String?

    func run() throws { try runTraining { try train() } }

    func train() throws {
        try configureThreads(common.threads)
        let (config, run) = try common.resolve(PPOConfiguration.self)
        let setup = try OnlineSetup.load(run: run, online: online, adapter: config.adapter, seed: config.training.seed,
                                         maxPromptLength: config.maxPromptLength)
        guard setup.rewards.count == 1 else { throw ValidationErrorMessage("ppo takes one --reward") }
        let reference = try setup.reference(online)
        let rewardFolder = online.reward[0] == "vader" || online.reward[0].hasPrefix("cmd:") || ["arithmetic", "format"].contains(online.reward[0]) ? nil : online.reward[0]
        let valuePath = valueModel ?? rewardFolder
        let value: RewardModel
        if let valuePath {
            note("value model: \(valuePath)")
            value = try RewardModelBundle(path: try resolveModelPath(valuePath, flag: "--value-model")).model
        } else {
            note("value model: the policy's body with a zero score head")
            value = try RewardModelBundle.zeroHeadValueModel(path: try run.modelPath)
        }
        let objective = try PPOObjective(policy: setup.bundle.model, reference: reference, valueModel: value,
                                         rewards: try WeightedRewards(sources: setup.rewards), configuration: config, prompts: setup.prompts,
                                         eosID: setup.bundle.tokenizer.eosTokenID.map(Int32.init), padID: setup.bundle.padID,
                                         decode: setup.decode) { try setup.bundle.save(to: $0) }
        objective.dump = online.dumpRollouts.map { RolloutDump(url: URL(fileURLWithPath: $0)) }
        objective.log = { note($0) }
        let summary = try TrainingCommand.train(objective, run: run, method: "ppo",
                                                describe: "rollouts of \(config.rolloutSize) prompts × \(config.updatesPerRollout) updates")
        TrainingCommand.printDone(summary, run: run, [("score", "objective/scores", 4), ("kl", "objective/kl", 4), ("value loss", "loss/value_avg", 4)])
    }
}
