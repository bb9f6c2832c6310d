import AlignDistributed
import AlignJSON
import AlignKernels
import AlignSettings
import AlignTraining
import ArgumentParser
import Foundation

/// Flags every training command shares, spelled as TRL spells them (kebab-case). Each is
/// optional: only flags given on the command line override the YAML config and the defaults.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Model to train: a Hugging Face folder, a .gguf file, or a Hub id (org/name[@revision]) in the local Hugging Face cache (YAML: model_name_or_path).")
    var model: String?

    @Option(help: "Training data: JSON Lines or a JSON array, or a folder / cached Hub dataset id (org/name[@revision]) holding the --split file (YAML: dataset_name).")
    var data: String?

    @Option(help: "Output folder: metrics.jsonl, checkpoint-N/, the final model (YAML: output_dir).")
    var output: String?

    @Option(help: "Evaluation data, scored every --eval-steps and at the end (a file, folder or cached Hub dataset id).")
    var evalData: String?

    @Option(help: "Split of --data to read when it is a folder or Hub dataset id (default train; YAML: dataset_train_split).")
    var split: String?

    @Option(help: "Split of --eval-data to read when it is a folder or Hub dataset id (default test; YAML: dataset_test_split).")
    var evalSplit: String?

    @Option(help: "Where to report metrics besides metrics.jsonl: none or tensorboard, comma list (default none; YAML: report_to). TensorBoard files go to OUTPUT/runs/.")
    var reportTo: String?

    @Option(help: "YAML config with snake_case keys (TRL names); command-line flags override it.")
    var config: String?

    @Flag(help: "Continue from the newest checkpoint-N in --output.")
    var resume = false

    @Option(help: "Start from this PEFT adapter folder (adapter_config.json + adapter_model.safetensors; its r, alpha and targets win) and train it further; the reference is a frozen copy of it.")
    var adapter: String?

    @Option(help: "Threads for kernels and BLAS (default: all cores; under mpirun, cores ÷ ranks on this host).") var threads: Int?

    /// Every other flag: the command's settings (`--beta 0.1`, `--no-shuffle`), parsed against the
    /// configuration's declaration (``SettingsDeclaration/parseFlags(_:)``) and listed in the
    /// command's help from the same table.
    @Argument(parsing: .allUnrecognized, help: .hidden) var settingFlags: [String] = []

    /// Decodes and validates a command's configuration — defaults, then the YAML file (Align's or
    /// TRL's keys), then the setting flags — and settles the model, data and output paths (flags
    /// win over `model_name_or_path`, `dataset_name`, `output_dir`). Errors name the file and line
    /// or the flag; TRL keys Align ignores are noted once each.
    func resolve<T: SettingsDeclaration>(_ type: T.Type) throws -> (T, TrainingRun) {
        var sources = SettingSources()
        let flags = try T.parseFlags(settingFlags)
        if let config { try sources.add(file: SettingsFile(path: config), knownKeys: T.knownKeys) }
        for warning in sources.warnings { note("warning: " + warning) }
        for (key, flag, value) in flags { sources.set(key, value, source: flag) }
        // Settings first: a bad value is reported before anything about paths or files.
        let configuration = try sources.decode(type)
        func path(_ flagValue: String?, _ flag: String, _ key: String) throws -> String {
            if let flagValue { return flagValue }
            if let (value, _) = try sources.runString(key) { return value }
            throw ValidationErrorMessage("give \(flag) (or \(key) in the --config file)")
        }
        var model = try path(self.model, "--model", "model_name_or_path")
        if self.model == nil, let (revision, _) = try sources.runString("model_revision"), revision != "main" { model += "@" + revision }
        let data = try path(self.data, "--data", "dataset_name")
        let output = try path(self.output, "--output", "output_dir")
        // A split names a file of a dataset folder or Hub snapshot; a dataset file is read whole.
        let split = try self.split ?? sources.runString("dataset_train_split")?.value ?? "train"
        let evalSplit = try self.evalSplit ?? sources.runString("dataset_test_split")?.value ?? "test"
        var reportTo = self.reportTo ?? "none"
        if self.reportTo == nil, let report = sources.runValues["report_to"] {
            let names: [String]
            switch report.value {
            case .string(let s): names = [s]
            case .array(let items): names = items.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
            default: names = []
            }
            for name in names where !["none", "tensorboard"].contains(name) {
                note("warning: \(report.source): report_to \(name) is ignored: Align writes metrics.jsonl and report.html (and TensorBoard event files with --report-to tensorboard)")
            }
            reportTo = names.filter { ["none", "tensorboard"].contains($0) }.joined(separator: ",")
        }
        _ = try ReportDestination.parse(reportTo)
        var run = TrainingRun(model: model, data: data, output: output, evalData: evalData, resume: resume,
                              split: split, evalSplit: evalSplit, reportTo: reportTo)
        run.adapter = adapter
        var arguments: [(String, JSONValue)] = [("model_name_or_path", .string(model)), ("dataset_name", .string(data)), ("output_dir", .string(output))]
        if let evalData { arguments.append(("eval_dataset_name", .string(evalData))) }
        if let adapter { arguments.append(("adapter", .string(adapter))) }
        if case .object(let values) = configuration.settingValues { arguments += values }
        run.arguments = .object(arguments)
        try run.validateOutput()
        return (configuration, run)
    }
}

/// What a training command trains, on what, and where it writes, once flags and config agree.
struct TrainingRun {
    /// Model path (folder or .gguf) or Hub id.
    let model: String
    /// Training data path.
    let data: String
    /// Output folder as given.
    let output: String
    /// Evaluation data path, if any.
    let evalData: String?
    /// Continue from the newest checkpoint.
    let resume: Bool
    /// The split of `data` read when it is a folder or a Hub dataset id.
    var split = "train"
    /// The split of `evalData` read when it is a folder or a Hub dataset id.
    var evalSplit = "test"
    /// `--report-to` (a comma list of ``ReportDestination`` names).
    var reportTo = "none"
    /// `--adapter`: a PEFT adapter folder training starts from.
    var adapter: String?
    /// Every resolved setting (YAML keys) plus the model, data and output paths: what
    /// `OUTPUT/training_args.json` records, as TRL's `training_args.bin` does.
    var arguments: JSONValue = .object([])

    /// Writes ``arguments`` to `OUTPUT/training_args.json` (indented; keys as in YAML configs), so a
    /// finished or interrupted run says how it was made and a sweep can tabulate its settings.
    func writeArguments() throws {
        try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
        try Data(JSONWriter.bytes(arguments, indent: 2) + [0x0A]).write(to: outputURL.appendingPathComponent("training_args.json"), options: .atomic)
    }

    /// Checks the output path before anything is loaded: an existing file there (not a folder)
    /// would otherwise fail only when the first checkpoint is written.
    func validateOutput() throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: outputURL.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ValidationErrorMessage("--output \(output): is an existing file; give a folder (it is created if missing)")
        }
    }

    var outputURL: URL { URL(fileURLWithPath: (output as NSString).expandingTildeInPath) }
    /// The model as a local path (a Hub id resolved through the Hugging Face cache).
    var modelPath: String { get throws { try resolveModelPath(model, flag: "--model") } }
    /// The training data file (a folder or Hub dataset id resolved to its `split` file).
    var dataURL: URL { get throws { try resolveDataFile(data, split: split, flag: "--data") } }
    /// The evaluation data file, if any (resolved as `dataURL`, with `evalSplit`).
    var evalDataURL: URL? { get throws { try evalData.map { try resolveDataFile($0, split: evalSplit, flag: "--eval-data") } } }
}

/// Sets the kernel and BLAS thread count from `--threads` (1...1024). Without it the default stays
/// (`ALIGN_NUM_THREADS`, else every core), except under `mpirun`, where the ranks on one host share
/// its cores: cores ÷ local ranks each (read from the launcher's environment, before MPI starts).
func configureThreads(_ threads: Int?) throws {
    guard let threads else {
        if Distributed.launchedByMPI && ProcessInfo.processInfo.environment["ALIGN_NUM_THREADS"] == nil {
            Threads.configure(max(1, ProcessInfo.processInfo.activeProcessorCount / Distributed.announcedLocalSize))
        }
        return
    }
    guard (1...1024).contains(threads) else { throw ValidationErrorMessage("--threads \(threads): must be in 1...1024") }
    Threads.configure(threads)
}

/// Prints a line on standard error (under `mpirun`, on rank 0 only: the ranks would repeat it).
func note(_ message: String) {
    guard Distributed.announcedRank == 0 else { return }
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Runs a training command's body with the CLI's conventions for training errors: after Ctrl-C
/// (the trainer has saved a checkpoint) it says so and exits with 130, as a shell expects of an
/// interrupted program; any other training error becomes a one-line message.
///
/// Under `mpirun` MPI starts here, and a rank that fails for any reason prints
/// `align: rank R of N failed: …` and aborts the whole job (`MPI_Abort`, exit status 1), so the
/// other ranks never wait on it; Open MPI's launcher names a rank that died of a signal itself.
func runTraining(_ body: () throws -> Void) throws {
    let world: (any Communicator)? = Distributed.launchedByMPI ? Distributed.world : nil
    do { try body() } catch let error as TrainingError {
        if case .interrupted = error { note(error.description); throw ExitCode(130) }
        abortJob(world, ValidationErrorMessage(error.description))
        throw ValidationErrorMessage(error.description)
    } catch {
        abortJob(world, error)
        throw error
    }
}

/// In a job of several ranks: names this rank and `error` on standard error, then ends every rank.
private func abortJob(_ world: (any Communicator)?, _ error: Error) {
    guard let world, world.isDistributed else { return }
    let message = (error as? ValidationErrorMessage)?.description ?? "\(error)"
    FileHandle.standardError.write(Data("align: rank \(world.rank) of \(world.size) failed: \(message)\n".utf8))
    world.abort(code: 1)
}

