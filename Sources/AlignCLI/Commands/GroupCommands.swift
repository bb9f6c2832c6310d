import AlignHub
import AlignTraining
import ArgumentParser
import Foundation

/// `align grpo`: Group Relative Policy Optimization as TRL 1.16's GRPOTrainer. A thin layer over
/// ``GroupRelativeObjective``; its settings are ``GRPOConfiguration/settings``.
struct GRPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpo",
        abstract: "GRPO: num_generations completions per prompt, group-normalised rewards, clipped token loss.",
        discussion: """
            --data: prompts (JSON Lines with "prompt" or "messages", other string fields such as "answer" passed to \
            the rewards; or one per line). --batch-size counts completions (a multiple of --num-generations), as \
            TRL's per_device_train_batch_size. Several --reward sources are summed with --reward-weights. \
            Writes OUTPUT/metrics.jsonl with TRL's names (reward, reward_std, frac_reward_zero_std, kl, entropy, \
            clip_ratio/*, completions/mean_length, ...).

            """ + GRPOConfiguration.helpText)

    @OptionGroup var common: TrainingOptions
    @OptionGroup var online: OnlineOptions

    func run() throws { try runTraining { try train() } }

    func train() throws {
        try configureThreads(common.threads)
        let (config, run) = try common.resolve(GRPOConfiguration.self)
        let objective = try makeGroupObjective(.grpo(lossType: config.lossType, scaleRewards: config.scaleRewards), training: config.training,
                                               sampling: config.sampling, adapter: config.adapter, run: run, online: online)
        let summary = try TrainingCommand.train(objective, run: run, method: "grpo",
                                                describe: "\(config.training.batchSize * config.training.gradientAccumulationSteps) completions, \(config.sampling.numGenerations) per prompt")
        TrainingCommand.printDone(summary, run: run, [("reward", "reward", 4), ("reward std", "reward_std", 4)])
    }
}

/// `align rloo`: REINFORCE Leave-One-Out as TRL 1.16's RLOOTrainer.
struct RLOOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rloo",
        abstract: "RLOO: leave-one-out baselines over num_generations completions per prompt, KL in the reward.",
        discussion: """
            --data as for grpo. The reward of each completion is lowered by beta × its summed KL to the reference; \
            its baseline is the mean reward of the other completions of its prompt; the loss clips the \
            sequence-level ratio. Writes OUTPUT/metrics.jsonl with TRL's names.

            """ + RLOOConfiguration.helpText)

    @OptionGroup var common: TrainingOptions
    @OptionGroup var online: OnlineOptions

    func run() throws { try runTraining { try train() } }

    func train() throws {
        try configureThreads(common.threads)
        let (config, run) = try common.resolve(RLOOConfiguration.self)
        let objective = try makeGroupObjective(.rloo(normalizeAdvantages: config.normalizeAdvantages), training: config.training,
                                               sampling: config.sampling, adapter: config.adapter, run: run, online: online)
        let summary = try TrainingCommand.train(objective, run: run, method: "rloo",
                                                describe: "\(config.training.batchSize * config.training.gradientAccumulationSteps) completions, \(config.sampling.numGenerations) per prompt")
        TrainingCommand.printDone(summary, run: run, [("reward", "reward", 4), ("kl", "kl", 4)])
    }
}

/// The objective both commands build.
func makeGroupObjective(_ method: GroupRelativeObjective.Method, training: TrainingConfiguration, sampling: GroupSamplingSettings,
                        adapter: AdapterConfiguration, run: TrainingRun, online: OnlineOptions) throws -> GroupRelativeObjective {
    let setup = try OnlineSetup.load(run: run, online: online, adapter: adapter, seed: training.seed, maxPromptLength: sampling.maxPromptLength)
    let reference = sampling.beta != 0 ? try setup.reference(online) : nil
    if sampling.beta == 0, online.refModel != nil { note("note: beta is 0, so --ref-model is not loaded") }
    let objective = try GroupRelativeObjective(method: method, training: training, sampling: sampling, policy: setup.bundle.model,
                                               reference: reference, rewards: try WeightedRewards(sources: setup.rewards, weights: sampling.rewardWeights),
                                               prompts: setup.prompts, eosIDs: setup.eosIDs, padID: setup.bundle.padID,
                                               decode: setup.decode) { try setup.bundle.save(to: $0) }
    objective.dump = online.dumpRollouts.map { RolloutDump(url: URL(fileURLWithPath: $0)) }
    objective.log = { note($0) }
    return objective
}
