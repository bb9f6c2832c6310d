import AlignData
import AlignHub
import AlignKernels
import AlignSettings
import AlignTraining
import ArgumentParser
import Foundation

/// `align kto`: Kahneman–Tversky Optimization on unpaired (or unpaired-from-paired) feedback. A thin
/// layer over ``KTOTrainer``.
struct KTOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kto",
        abstract: "Align a model to unpaired good/bad feedback with KTO.",
        discussion: """
            Data rows: {"prompt","completion","label": true/false}, or preference rows \
            {"prompt","chosen","rejected"}, each turned into a desirable and an undesirable row. The data \
            order is kept (KTO's KL pairs depend on it) unless shuffle is set in the config. Writes \
            OUTPUT/metrics.jsonl (loss, kl, rewards/chosen, rewards/rejected, ...), checkpoints and the model.
            """)

    @OptionGroup var common: TrainingOptions

    @Option(help: "Frozen reference model (default: a frozen copy of the initial policy).") var refModel: String?
    @Option(help: "β, the strength of the KL regularisation.") var beta: Float?
    @Option(help: "kto or apo_zero_unpaired.") var lossType: String?
    @Option(help: "λ_D, the weight of desirable examples.") var desirableWeight: Float?
    @Option(help: "λ_U, the weight of undesirable examples.") var undesirableWeight: Float?
    @Option(help: "Longest sequence in tokens.") var maxLength: Int?
    @Flag(help: "Skip malformed data rows (counted) instead of stopping.") var skipBadRows = false
    @Flag(help: "Also write the aligned model as OUTPUT/model.gguf (F32).") var saveGguf = false

    func extraOverrides() -> FlagSettings {
        var o = FlagSettings()
        o.put("beta", "--beta", beta)
        o.put("loss_type", "--loss-type", lossType)
        o.put("desirable_weight", "--desirable-weight", desirableWeight)
        o.put("undesirable_weight", "--undesirable-weight", undesirableWeight)
        o.put("max_length", "--max-length", maxLength)
        if skipBadRows { o.put("skip_bad_rows", "--skip-bad-rows", true) }
        return o
    }

    func run() throws { try runTraining { try train() } }

    func train() throws {
        try configureThreads(common.threads)
        // KTOConfiguration keeps the file order by default (KL pairs depend on it); `shuffle: true` in the config changes it.
        let (config, run) = try common.resolve(KTOConfiguration.self, extra: extraOverrides())
        let modelPath = try run.modelPath
        let refModelPath = try refModel.map { try resolveModelPath($0, flag: "--ref-model") }
        let dataURL = try run.dataURL, evalDataURL = try run.evalDataURL
        note("loading \(run.model)")
        let policy = try ModelBundle(path: modelPath)
        // Only the reference's weights are loaded: it shares the policy's tokenizer and chat template.
        let reference = try policy.withModel(loadedFrom: refModelPath)
        reference.model.freeze()
        let encoder = try ExampleEncoder(tokenizer: policy.tokenizer, chatTemplate: policy.chatTemplate)
        let options = PreparationOptions(maxLength: config.maxLength)
        func prepare(_ url: URL, _ name: String) throws -> [TokenizedUnpaired] {
            let dataset = try UnpairedDataset(contentsOf: url, options: ReadOptions(skipBadRows: config.skipBadRows))
            if dataset.report.skippedRows > 0 { note("\(name): skipped \(dataset.report.skippedRows) malformed rows") }
            let (examples, summary) = try dataset.tokenizedForKTO(encoder: encoder, options: options)
            note("\(name): \(summary.inputExamples) examples (\(dataset.format)), \(summary.keptExamples) kept, \(summary.droppedExamples) dropped (prompt alone ≥ max_length), \(summary.truncatedExamples) truncated")
            for warning in summary.warnings { note("warning: \(warning)") }
            return examples
        }
        let train = try prepare(dataURL, "train")
        let eval = try evalDataURL.map { try prepare($0, "eval") } ?? []
        let trainer = try KTOTrainer(policy: policy.model, reference: reference.model, configuration: config,
                                     trainExamples: train, evalExamples: eval, padID: policy.padID) { try policy.save(to: $0) }
        note("training \(config.training.totalSteps(examples: train.count)) steps: \(config.lossType.rawValue), β \(config.beta), λ_D \(config.desirableWeight), λ_U \(config.undesirableWeight), lr \(config.training.learningRate), \(config.training.batchSize)×\(config.training.gradientAccumulationSteps) examples per step, \(Threads.count) threads")
        let summary = try trainer.train(outputDirectory: run.outputURL, resume: run.resume, onLog: try run.reportHook())
        run.writeModelCard(method: "kto", metrics: summary.lastMetrics)
        if saveGguf { try policy.saveGGUF(to: run.outputURL.appendingPathComponent("model.gguf")) }
        let m = summary.lastMetrics
        print(String(format: "done: %d steps in %.1f s; loss %.4f, kl %.4f, rewards chosen %.4f / rejected %.4f → %@", summary.steps,
                     summary.seconds, m["loss"] ?? .nan, m["kl"] ?? .nan, m["rewards/chosen"] ?? .nan, m["rewards/rejected"] ?? .nan,
                     run.outputURL.path))
    }
}
