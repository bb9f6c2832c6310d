import AlignData
import AlignHub
import AlignKernels
import AlignSettings
import AlignTraining
import ArgumentParser
import Foundation

/// `align sft`: supervised fine-tuning on prompt/completion, `messages` or `text` rows. A thin layer
/// over ``SFTTrainer``.
struct SFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sft",
        abstract: "Supervised fine-tuning (next-token loss) on demonstrations.",
        discussion: """
            Data rows: {"prompt","completion"} (loss on the completion only by default), {"messages"} \
            (rendered with the chat template) or {"text"}. Writes OUTPUT/metrics.jsonl (loss, \
            mean_token_accuracy, num_tokens, tokens_per_second), OUTPUT/checkpoint-N every --save-steps, \
            and the model in Hugging Face layout in OUTPUT.
            """)

    @OptionGroup var common: TrainingOptions

    @Option(help: "Longest example in tokens (the row length when packing).") var maxLength: Int?
    @Option(help: "keep_start or keep_end.") var truncationMode: String?
    @Option(help: "true: loss on completion tokens only; false: on the prompt too (default: true for prompt/completion data).")
    var completionOnly: Bool?
    @Flag(help: "Pack examples into rows of --max-length tokens (best-fit decreasing).") var packing = false
    @Flag(help: "Skip malformed data rows (counted) instead of stopping.") var skipBadRows = false
    @Flag(help: "Also write the model as OUTPUT/model.gguf (F32).") var saveGguf = false

    func extraOverrides() -> FlagSettings {
        var o = FlagSettings()
        o.put("max_length", "--max-length", maxLength)
        o.put("truncation_mode", "--truncation-mode", truncationMode)
        o.put("completion_only_loss", "--completion-only", completionOnly)
        if packing { o.put("packing", "--packing", true) }
        if skipBadRows { o.put("skip_bad_rows", "--skip-bad-rows", true) }
        return o
    }

    func run() throws { try runTraining { try train() } }

    func train() throws {
        try configureThreads(common.threads)
        let (config, run) = try common.resolve(SFTConfiguration.self, extra: extraOverrides())
        let modelPath = try run.modelPath
        let dataURL = try run.dataURL, evalDataURL = try run.evalDataURL
        note("loading \(run.model)")
        let bundle = try ModelBundle(path: modelPath)
        let encoder = try ExampleEncoder(tokenizer: bundle.tokenizer, chatTemplate: bundle.chatTemplate)
        let options = PreparationOptions(maxLength: config.maxLength,
                                         truncationMode: config.truncationMode == "keep_end" ? .keepEnd : .keepStart)
        func prepare(_ url: URL, _ name: String) throws -> [TokenizedSequence] {
            let dataset = try LanguageModelingDataset(contentsOf: url, options: ReadOptions(skipBadRows: config.skipBadRows))
            if dataset.report.skippedRows > 0 { note("\(name): skipped \(dataset.report.skippedRows) malformed rows") }
            let (sequences, summary) = try dataset.tokenizedForSFT(encoder: encoder, options: options,
                                                                   completionOnlyLoss: config.completionOnlyLoss,
                                                                   packed: config.packing && name == "train")
            note("\(name): \(summary.inputExamples) examples (\(dataset.format)), \(summary.keptExamples) kept, \(summary.truncatedExamples) truncated, \(summary.droppedExamples) dropped")
            for warning in summary.warnings { note("warning: \(warning)") }
            return sequences
        }
        let train = try prepare(dataURL, "train")
        let eval = try evalDataURL.map { try prepare($0, "eval") } ?? []
        let trainer = try SFTTrainer(model: bundle.model, configuration: config, trainSequences: train, evalSequences: eval,
                                     padID: bundle.padID) { try bundle.save(to: $0) }
        note("training \(config.training.totalSteps(examples: trainer.trainExampleCount)) steps: lr \(config.training.learningRate), \(config.training.batchSize)×\(config.training.gradientAccumulationSteps) \(config.packing ? "packed rows" : "examples") per step, \(Threads.count) threads")
        let summary = try trainer.train(outputDirectory: run.outputURL, resume: run.resume, onLog: try run.reportHook())
        run.writeModelCard(method: "sft", metrics: summary.lastMetrics)
        if saveGguf { try bundle.saveGGUF(to: run.outputURL.appendingPathComponent("model.gguf")) }
        let m = summary.lastMetrics
        print(String(format: "done: %d steps in %.1f s; loss %.4f, token accuracy %.3f → %@", summary.steps, summary.seconds,
                     m["loss"] ?? .nan, m["mean_token_accuracy"] ?? .nan, run.outputURL.path))
    }
}
