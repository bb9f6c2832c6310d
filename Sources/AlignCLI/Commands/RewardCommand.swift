import AlignData
import AlignHub
import AlignModels
import AlignNN
import AlignTraining
import ArgumentParser
import Foundation

/// `align reward`: trains a Bradley–Terry reward model and saves it in Hugging Face's
/// sequence-classification layout. A thin layer over ``RewardObjective``; its settings are
/// ``RewardConfiguration/settings``.
struct RewardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reward",
        abstract: "Train a Bradley–Terry reward model on preference pairs.",
        discussion: """
            --model is a causal-LM folder or .gguf (a fresh score head is initialised) or a sequence-classification \
            folder (training continues). Data rows: {"prompt","chosen","rejected"} or {"chosen","rejected"}, \
            with an optional numeric "margin". Pairs longer than --max-length are dropped, as TRL does. \
            Writes OUTPUT/metrics.jsonl (loss, accuracy, margin, rewards/chosen, rewards/rejected, ...) and \
            the model as a LlamaForSequenceClassification (or Qwen2/Mistral) folder in OUTPUT.

            """ + RewardConfiguration.helpText)

    @OptionGroup var common: TrainingOptions

    func run() throws { try runTraining { try train() } }

    func train() throws {
        try configureThreads(common.threads)
        let (config, run) = try common.resolve(RewardConfiguration.self)
        note("loading \(run.model)")
        let bundle = try RewardModelBundle(path: try run.modelPath, seed: config.training.seed)
        let model = bundle.model
        model.adapterBaseModelName = run.model
        try TrainingCommand.attachAdapters(to: model, run: run, adapter: config.adapter, seed: config.training.seed)
        // With adapters the score head still trains (PEFT's modules_to_save for SEQ_CLS).
        if model.body.hasAdapters { model.score.weight.requiresGrad = true }
        let encoder = try ExampleEncoder(tokenizer: bundle.tokenizer, chatTemplate: bundle.chatTemplate)
        let (train, eval) = try TrainingCommand.prepareSplits(run, unit: "pairs", dropped: "longer than max_length") { url, _ in
            let dataset = try PreferenceDataset(contentsOf: url, options: ReadOptions(skipBadRows: config.skipBadRows))
            let (pairs, summary) = try dataset.tokenizedForReward(encoder: encoder, maxLength: config.maxLength)
            return (pairs, dataset.report, dataset.format, summary)
        }
        let objective = try RewardObjective(model: model, configuration: config, trainPairs: train, evalPairs: eval) {
            try bundle.save(to: $0)
        }
        let summary = try TrainingCommand.train(objective, run: run, method: "reward", describe: "Bradley–Terry")
        TrainingCommand.printDone(summary, run: run, [("loss", "loss", 4), ("accuracy", "accuracy", 2), ("margin", "margin", 4)])
    }
}
