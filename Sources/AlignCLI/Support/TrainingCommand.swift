import AlignData
import AlignDistributed
import AlignHub
import AlignKernels
import AlignModels
import AlignNN
import AlignTraining
import Foundation

/// The steps every training command shares, so a command is only what differs: which data
/// reader and tokenisation, which objective, and the one-line summary it prints.
enum TrainingCommand {
    /// Reads and tokenises the training split and, when given, the evaluation split: `read` turns a
    /// file into the prepared examples with its read report, format and preparation summary; the
    /// counts are printed as `train: 12 pairs (…), 12 kept, …`.
    static func prepareSplits<Item>(_ run: TrainingRun, unit: String, dropped: String,
                                    read: (URL, _ isTraining: Bool) throws -> (items: [Item], report: ReadReport, format: DatasetFormat, summary: PreparationSummary))
        throws -> (train: [Item], eval: [Item]) {
        func prepare(_ url: URL, _ name: String) throws -> [Item] {
            let (items, report, format, summary) = try read(url, name == "train")
            if report.skippedRows > 0 {
                note("\(name): skipped \(report.skippedRows) malformed rows (first: \(report.skippedReasons.first.map { "\($0)" } ?? ""))")
            }
            note("\(name): \(summary.inputExamples) \(unit) (\(format)), \(summary.keptExamples) kept, \(summary.droppedExamples) dropped (\(dropped)), \(summary.truncatedExamples) truncated")
            for warning in summary.warnings { note("warning: \(warning)") }
            return items
        }
        let train = try prepare(try run.dataURL, "train")
        let eval = try run.evalDataURL.map { try prepare($0, "eval") } ?? []
        return (train, eval)
    }

    /// Loads the policy of a training run and, when the run trains adapters (``AdapterConfiguration``
    /// on, or `--adapter DIR`), attaches them and freezes the base: new ones seeded by the run's
    /// seed, or the folder's (then trainable, and kept frozen as the reference's starting point).
    /// Every trainer command loads its policy here, so each gets adapters by declaring
    /// ``AdapterConfiguration`` in its configuration.
    static func loadPolicy(_ run: TrainingRun, adapter: AdapterConfiguration, seed: UInt64) throws -> ModelBundle {
        var policy = try ModelBundle(path: try run.modelPath)
        policy.baseModelName = run.model
        try attachAdapters(to: policy.model, run: run, adapter: adapter, seed: seed)
        return policy
    }

    /// The adapter half of ``loadPolicy(_:adapter:seed:)``, for any model (a reward model's body).
    static func attachAdapters(to model: some AlignNN.Module, run: TrainingRun, adapter: AdapterConfiguration, seed: UInt64) throws {
        if let path = run.adapter {
            let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
            guard PEFTAdapter.isAdapterFolder(url) else {
                throw ValidationErrorMessage("--adapter \(path): no \(PEFTAdapter.configFile) there (not a PEFT adapter folder)")
            }
            let c = try PEFTAdapter.load(into: model, from: url)
            model.freezeAdaptersAsReference()
            note("adapter \(path): r \(c.rank), alpha \(c.alpha)\(c.useDoRA ? ", DoRA" : "")\(c.useRSLoRA ? ", rsLoRA" : ""), \(model.adaptedLinears().count) layers; base frozen")
        } else if adapter.enabled {
            let layers = try model.attachAdapters(adapter.lora, seed: seed)
            let trainable = model.adapterParameters().reduce(0) { $0 + $1.parameter.value.count }
            note("LoRA r \(adapter.lora.rank), alpha \(adapter.loraAlpha)\(adapter.useDoRA ? ", DoRA" : "")\(adapter.useRSLoRA ? ", rsLoRA" : "") on \(layers.count) layers: \(trainable) trainable parameters; base frozen")
        }
    }

    /// The reference model of DPO, KTO (and PPO): `--ref-model` when given; with adapters, the
    /// policy itself under its reference adapters (``AdapterReference``: no second copy of the base
    /// weights); otherwise a second, frozen load of the policy's weights.
    static func reference(for policy: ModelBundle, refModel: String?) throws -> any CausalLanguageModel {
        if refModel == nil && policy.model.hasAdapters { return AdapterReference(policy.model) }
        let path = try refModel.map { try resolveModelPath($0, flag: "--ref-model") }
        let reference = try policy.withModel(loadedFrom: path)
        reference.model.freeze()
        return reference.model
    }

    /// Runs the objective's training loop into the output folder, then writes the model card and,
    /// when asked, `model.gguf`; returns the summary for the command's closing line.
    static func train(_ objective: TrainingObjective, run: TrainingRun, method: String, describe: String,
                      ggufFrom bundle: ModelBundle? = nil) throws -> Trainer.Summary {
        let c = objective.trainingConfiguration
        note("training \(Trainer(objective: objective, configuration: c, outputDirectory: run.outputURL).totalSteps()) steps: \(describe), lr \(c.learningRate), \(c.batchSize)×\(c.gradientAccumulationSteps) per step, \(Threads.count) threads")
        // Under mpirun only rank 0 writes: metrics, TensorBoard, checkpoints, the model, its card.
        let isRoot = !Distributed.launchedByMPI || Distributed.world.isRoot
        let summary = try objective.train(outputDirectory: run.outputURL, resume: run.resume, onLog: isRoot ? try run.reportHook() : nil)
        guard isRoot else { return summary }
        run.writeModelCard(method: method, metrics: summary.lastMetrics)
        run.writeTrainingReport(method: method, configuration: c, summary: summary)
        if let bundle { try bundle.saveGGUF(to: run.outputURL.appendingPathComponent("model.gguf")) }
        return summary
    }

    /// `done: N steps in S s; name value, … → OUTPUT`, metrics named as metrics.jsonl names them.
    static func printDone(_ summary: Trainer.Summary, run: TrainingRun, _ metrics: [(label: String, key: String, digits: Int)]) {
        guard Distributed.announcedRank == 0 else { return }
        let m = summary.lastMetrics
        let shown = metrics.map { "\($0.label) " + String(format: "%.\($0.digits)f", m[$0.key] ?? .nan) }.joined(separator: ", ")
        print(String(format: "done: %d steps in %.1f s; ", summary.steps, summary.seconds) + shown + " → " + run.outputURL.path)
    }
}
