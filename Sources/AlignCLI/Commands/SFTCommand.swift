import AlignData
import AlignHub
import AlignTraining
import ArgumentParser
import Foundation

/// `align sft`: supervised fine-tuning on prompt/completion, `messages` or `text` rows. A thin layer
/// over ``SFTObjective``; its settings are ``SFTConfiguration/settings``.
struct SFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sft",
        abstract: "Supervised fine-tuning (next-token loss) on demonstrations.",
        discussion: """
            Data rows: {"prompt","completion"} (loss on the completion only by default), {"messages"} \
            (rendered with the chat template) or {"text"}. Writes OUTPUT/metrics.jsonl (loss, \
            mean_token_accuracy, num_tokens, tokens_per_second), OUTPUT/checkpoint-N every --save-steps, \
            and the model in Hugging Face layout in OUTPUT.

            """ + SFTConfiguration.helpText)

    @OptionGroup var common: TrainingOptions
    @Flag(help: "Also write the model as OUTPUT/model.gguf (F32).") var saveGguf = false

    func run() throws { try runTraining { try train() } }

    func train() throws {
        try configureThreads(common.threads)
        let (config, run) = try common.resolve(SFTConfiguration.self)
        note("loading \(run.model)")
        let bundle = try TrainingCommand.loadPolicy(run, adapter: config.adapter, seed: config.training.seed)
        let encoder = try ExampleEncoder(tokenizer: bundle.tokenizer, chatTemplate: bundle.chatTemplate)
        let options = PreparationOptions(maxLength: config.maxLength, truncationMode: config.truncationMode)
        let (train, eval) = try TrainingCommand.prepareSplits(run, unit: "examples", dropped: "nothing left to train on") { url, isTraining in
            let dataset = try LanguageModelingDataset(contentsOf: url, options: ReadOptions(skipBadRows: config.skipBadRows))
            let (sequences, summary) = try dataset.tokenizedForSFT(encoder: encoder, options: options, completionOnlyLoss: config.completionOnlyLoss,
                                                                   packed: config.packing && isTraining)
            return (sequences, dataset.report, dataset.format, summary)
        }
        let objective = try SFTObjective(model: bundle.model, configuration: config, trainSequences: train, evalSequences: eval,
                                         padID: bundle.padID) { try bundle.save(to: $0) }
        let summary = try TrainingCommand.train(objective, run: run, method: "sft", describe: config.packing ? "packed rows" : "examples",
                                                ggufFrom: saveGguf ? bundle : nil)
        TrainingCommand.printDone(summary, run: run, [("loss", "loss", 4), ("token accuracy", "mean_token_accuracy", 3)])
    }
}
