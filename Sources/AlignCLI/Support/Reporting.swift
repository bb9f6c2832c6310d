import AlignHub
import AlignJSON
import AlignReport
import AlignTensorBoard
import AlignTraining
import Foundation

/// Where `--report-to` sends metrics besides `metrics.jsonl` (always written). Spelled as
/// transformers' `report_to` values.
enum ReportDestination: String, CaseIterable {
    case none, tensorboard

    /// Parses a comma list (`tensorboard`, `none`, `tensorboard,none`); `none` adds nothing.
    static func parse(_ text: String) throws -> Set<ReportDestination> {
        var out = Set<ReportDestination>()
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let destination = ReportDestination(rawValue: item) else {
                throw ValidationErrorMessage("--report-to \(text): unknown destination \"\(item)\" (known: \(allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if destination != .none { out.insert(destination) }
        }
        return out
    }
}

/// Writes each metrics row to a TensorBoard event file under `OUTPUT/runs/`. The file is created
/// with the first row, so a run that fails while loading leaves no empty run folder. A write error
/// is reported once and ends TensorBoard output only: training goes on and metrics.jsonl keeps
/// every row.
final class TensorBoardReporter {
    private let output: URL
    private let resume: Bool
    private var writer: TensorBoardWriter?
    private var failed = false

    init(output: URL, resume: Bool) {
        self.output = output
        self.resume = resume
    }

    func log(_ row: [String: Double]) {
        guard !failed else { return }
        do {
            if writer == nil { writer = try makeWriter() }
            try writer!.log(row: row)
        } catch {
            failed = true
            note("warning: --report-to tensorboard stopped: \(error); metrics.jsonl still has every row")
        }
    }

    /// A fresh run folder, or on `--resume` a new file in the run folder being continued, starting
    /// with a restart marker at the step after the checkpoint (TensorBoard then drops what a crashed
    /// attempt logged past that checkpoint, as metrics.jsonl's rows are dropped).
    private func makeWriter() throws -> TensorBoardWriter {
        var directory = TensorBoardWriter.runDirectory(output: output)
        var restart: Int?
        if resume {
            if let latest = TensorBoardWriter.latestRunDirectory(output: output) { directory = latest }
            if let checkpoint = Trainer.latestCheckpoint(in: output),
               let step = Int(checkpoint.lastPathComponent.dropFirst("checkpoint-".count)) {
                restart = step + 1
            }
        }
        let writer = try TensorBoardWriter(directory: directory, restartStep: restart)
        note("TensorBoard events: \(writer.fileURL.path)")
        return writer
    }
}

extension TrainingRun {
    /// The `onLog` hook for the `--report-to` destinations, or nil when there are none. Trainers
    /// take one closure; further destinations chain here.
    func reportHook() throws -> (([String: Double]) -> Void)? {
        let destinations = try ReportDestination.parse(reportTo)
        var hooks: [([String: Double]) -> Void] = []
        if destinations.contains(.tensorboard) {
            let reporter = TensorBoardReporter(output: outputURL, resume: resume)
            hooks.append(reporter.log)
        }
        guard !hooks.isEmpty else { return nil }
        return { row in for hook in hooks { hook(row) } }
    }
}

extension TrainingRun {
    /// Writes `OUTPUT/README.md`, a model card as TRL writes one (``ModelCard``). A failure to write
    /// it is a warning: the trained model is already saved.
    func writeModelCard(method: String, metrics: [String: Double]) {
        // Resolution already succeeded, so an argument that is not a local path was a Hub id.
        func isHubID(_ text: String) -> Bool {
            !FileManager.default.fileExists(atPath: (text as NSString).expandingTildeInPath) && HubCache.parseID(text) != nil
        }
        var datasets = [(name: data, isHubID: isHubID(data))]
        if let evalData, evalData != data { datasets.append((evalData, isHubID(evalData))) }
        let card = ModelCard(method: method, baseModel: model, baseModelIsHubID: isHubID(model), datasets: datasets,
                             arguments: CommandLine.arguments, metrics: metrics, modelName: outputURL.lastPathComponent,
                             version: alignVersion)
        let url = outputURL.appendingPathComponent("README.md")
        var text = card.markdown()
        // An adapter folder is PEFT's to load (as PEFT's own cards say).
        if FileManager.default.fileExists(atPath: outputURL.appendingPathComponent("adapter_config.json").path) {
            text = text.replacingOccurrences(of: "library_name: transformers", with: "library_name: peft")
        }
        do { try Data(text.utf8).write(to: url, options: .atomic) } catch {
            note("warning: could not write the model card \(url.path): \(error.localizedDescription)")
        }
    }
}

extension TrainingRun {
    /// Writes `OUTPUT/report.html` with the training curves of an online run (PPO, GRPO, RLOO:
    /// ``TrainingReport/onlineCurves(method:logRows:)``) from its `metrics.jsonl`; nothing for other
    /// methods. A failure is a warning: the trained model is already saved.
    func writeTrainingReport(method: String, configuration: TrainingConfiguration, summary: Trainer.Summary) {
        let url = outputURL.appendingPathComponent("report.html")
        do {
            let rows = try TrainingReport.readMetrics(from: outputURL.appendingPathComponent("metrics.jsonl"))
            guard let curves = TrainingReport.onlineCurves(method: method, logRows: rows) else { return }
            var settings: [(String, String)] = [("command", CommandLine.arguments.dropFirst().joined(separator: " "))]
            if case .object(let values) = configuration.settingValues {
                for (key, value) in values where value != .null {
                    if case .string(let text) = value { settings.append((key, text)) } else {
                        settings.append((key, String(decoding: JSONWriter.bytes(value), as: UTF8.self)))
                    }
                }
            }
            var report = TrainingReport(metadata: .init(title: "\(method.uppercased()): \(outputURL.lastPathComponent)", model: model, dataset: data,
                                                        objective: method.uppercased(), settings: settings, wallTimeSeconds: summary.seconds),
                                        logRows: rows)
            report.curves = curves
            report.rewardDescription = "Training curves from metrics.jsonl (TRL's metric names). The reward is measured on the training prompts' own samples; evaluate held-out prompts with align eval."
            try report.write(to: url)
            note("report: \(url.path)")
        } catch {
            note("warning: could not write \(url.path): \(error)")
        }
    }
}
