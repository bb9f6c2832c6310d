import AlignData
import AlignHub
import AlignKernels
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

    /// Runs the objective's training loop into the output folder, then writes the model card and,
    /// when asked, `model.gguf`; returns the summary for the command's closing line.
    static func train(_ objective: TrainingObjective, run: TrainingRun, method: String, describe: String,
                      ggufFrom bundle: ModelBundle? = nil) throws -> Trainer.Summary {
        let c = objective.trainingConfiguration
        note("training \(Trainer(objective: objective, configuration: c, outputDirectory: run.outputURL).totalSteps()) steps: \(describe), lr \(c.learningRate), \(c.batchSize)×\(c.gradientAccumulationSteps) per step, \(Threads.count) threads")
        let summary = try objective.train(outputDirectory: run.outputURL, resume: run.resume, onLog: try run.reportHook())
        run.writeModelCard(method: method, metrics: summary.lastMetrics)
        if let bundle { try bundle.saveGGUF(to: run.outputURL.appendingPathComponent("model.gguf")) }
        return summary
    }

    /// `done: N steps in S s; name value, … → OUTPUT`, metrics named as metrics.jsonl names them.
    static func printDone(_ summary: Trainer.Summary, run: TrainingRun, _ metrics: [(label: String, key: String, digits: Int)]) {
        let m = summary.lastMetrics
        let shown = metrics.map { "\($0.label) " + String(format: "%.\($0.digits)f", m[$0.key] ?? .nan) }.joined(separator: ", ")
        print(String(format: "done: %d steps in %.1f s; ", summary.steps, summary.seconds) + shown + " → " + run.outputURL.path)
    }
}
