import AlignData
import AlignHub
import AlignTemplates
import AlignTokenizers
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
            --model is a causal-LM folder (a fresh score head is initialised) or a sequence-classification \
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
        let source = URL(fileURLWithPath: try run.modelPath)
        guard source.pathExtension.lowercased() != "gguf" else {
            throw ValidationErrorMessage("align reward needs a Hugging Face folder (a reward model is saved in the sequence-classification layout)")
        }
        note("loading \(run.model)")
        let tokenizer = try Tokenizer(directory: source)
        var context: [String: TemplateValue] = [:]
        if let bos = tokenizer.bosToken { context["bos_token"] = .string(bos) }
        if let eos = tokenizer.eosToken { context["eos_token"] = .string(eos) }
        let chatTemplate = try tokenizer.chatTemplate.map { try ChatTemplate($0, defaultContext: context, origin: tokenizer.chatTemplateOrigin) }
        let model = try RewardModel(directory: source, padTokenID: Int32(tokenizer.padTokenID ?? tokenizer.eosTokenID ?? 0),
                                    seed: config.training.seed)
        let encoder = try ExampleEncoder(tokenizer: tokenizer, chatTemplate: chatTemplate)
        let (train, eval) = try TrainingCommand.prepareSplits(run, unit: "pairs", dropped: "longer than max_length") { url, _ in
            let dataset = try PreferenceDataset(contentsOf: url, options: ReadOptions(skipBadRows: config.skipBadRows))
            let (pairs, summary) = try dataset.tokenizedForReward(encoder: encoder, maxLength: config.maxLength)
            return (pairs, dataset.report, dataset.format, summary)
        }
        let objective = try RewardObjective(model: model, configuration: config, trainPairs: train, evalPairs: eval) {
            try model.save(to: $0, sourceDirectory: source)
        }
        let summary = try TrainingCommand.train(objective, run: run, method: "reward", describe: "Bradley–Terry")
        TrainingCommand.printDone(summary, run: run, [("loss", "loss", 4), ("accuracy", "accuracy", 2), ("margin", "margin", 4)])
    }
}
