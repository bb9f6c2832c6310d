import AlignData
import AlignHub
import AlignKernels
import AlignSettings
import AlignTraining
import ArgumentParser
import Foundation

/// `align reward`: trains a Bradley–Terry reward model and saves it in Hugging Face's
/// sequence-classification layout. A thin layer over ``RewardTrainer``.
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
            """)

    @OptionGroup var common: TrainingOptions

    @Option(help: "Drop pairs longer than this many tokens.") var maxLength: Int?
    @Option(help: "c in c·E[(r_w + r_l)²], which keeps rewards centred on 0.") var centerRewardsCoefficient: Float?
    @Flag(help: "Skip malformed data rows (counted) instead of stopping.") var skipBadRows = false

    func extraOverrides() -> FlagSettings {
        var o = FlagSettings()
        o.put("max_length", "--max-length", maxLength)
        o.put("center_rewards_coefficient", "--center-rewards-coefficient", centerRewardsCoefficient)
        if skipBadRows { o.put("skip_bad_rows", "--skip-bad-rows", true) }
        return o
    }

    func run() throws { try runTraining { try train() } }

    func train() throws {
        try configureThreads(common.threads)
        let (config, run) = try common.resolve(RewardConfiguration.self, extra: extraOverrides())
        let modelPath = try run.modelPath
        let dataURL = try run.dataURL, evalDataURL = try run.evalDataURL
        note("loading \(run.model)")
        let bundle = try RewardModelBundle(path: modelPath, seed: config.training.seed)
        let model = bundle.model
        let encoder = try ExampleEncoder(tokenizer: bundle.tokenizer, chatTemplate: bundle.chatTemplate)
        func prepare(_ url: URL, _ name: String) throws -> [TokenizedPair] {
            let dataset = try PreferenceDataset(contentsOf: url, options: ReadOptions(skipBadRows: config.skipBadRows))
            if dataset.report.skippedRows > 0 { note("\(name): skipped \(dataset.report.skippedRows) malformed rows") }
            let (pairs, summary) = try dataset.tokenizedForReward(encoder: encoder, maxLength: config.maxLength)
            note("\(name): \(summary.inputExamples) pairs (\(dataset.format)), \(summary.keptExamples) kept, \(summary.droppedExamples) dropped (longer than max_length)")
            for warning in summary.warnings { note("warning: \(warning)") }
            return pairs
        }
        let train = try prepare(dataURL, "train")
        let eval = try evalDataURL.map { try prepare($0, "eval") } ?? []
        let trainer = try RewardTrainer(model: model, configuration: config, trainPairs: train, evalPairs: eval) {
            try bundle.save(to: $0)
        }
        note("training \(config.training.totalSteps(examples: train.count)) steps: lr \(config.training.learningRate), \(config.training.batchSize)×\(config.training.gradientAccumulationSteps) pairs per step, \(Threads.count) threads")
        let summary = try trainer.train(outputDirectory: run.outputURL, resume: run.resume, onLog: try run.reportHook())
        run.writeModelCard(method: "reward", metrics: summary.lastMetrics)
        let m = summary.lastMetrics
        print(String(format: "done: %d steps in %.1f s; loss %.4f, accuracy %.2f, margin %.4f → %@", summary.steps, summary.seconds,
                     m["loss"] ?? .nan, m["accuracy"] ?? .nan, m["margin"] ?? .nan, run.outputURL.path))
    }
}
