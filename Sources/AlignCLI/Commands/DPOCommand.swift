import AlignData
import AlignHub
import AlignKernels
import AlignModelIO
import AlignSettings
import AlignTraining
import ArgumentParser
import Foundation

/// `align dpo`: Direct Preference Optimization (and TRL's loss variants, SimPO, ORPO) on a Hugging
/// Face folder or GGUF model. A thin layer over ``DPOTrainer``.
struct DPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dpo",
        abstract: "Align a model to preference pairs with DPO or one of TRL's loss variants.",
        discussion: """
            Data rows: {"prompt","chosen","rejected"} strings or message lists, or implicit-prompt \
            {"chosen","rejected"}. Writes OUTPUT/metrics.jsonl (TRL metric names), OUTPUT/checkpoint-N \
            every --save-steps, and the aligned model in Hugging Face layout in OUTPUT.
            """)

    @OptionGroup var common: TrainingOptions

    @Option(help: "Frozen reference model (default: a frozen copy of the initial policy).")
    var refModel: String?
    @Option(help: "β, the strength of the KL regularisation.") var beta: Float?
    @Option(help: "Comma-separated TRL loss types, e.g. sigmoid or sigmoid,sft.") var lossType: String?
    @Option(help: "Comma-separated weights, one per loss type.") var lossWeights: String?
    @Option(help: "ε for robust / exo_pair / aot, and cDPO for sigmoid.") var labelSmoothing: Float?
    @Option(help: "SimPO's target margin γ.") var simpoGamma: Float?
    @Option(help: "ORPO's odds-ratio weight λ.") var orpoLambda: Float?
    @Option(help: "reverse_kl, forward_kl, js_divergence or alpha_divergence.") var fDivergenceType: String?
    @Option(help: "Longest sequence in tokens.") var maxLength: Int?
    @Option(help: "Cut prompts to this many tokens first (the original DPO repository's rule).") var maxPromptLength: Int?
    @Option(help: "keep_start or keep_end.") var truncationMode: String?
    @Option(help: "trl (prompt+completion tokenised together) or separate.") var tokenization: String?
    @Flag(help: "Compute reference log-probs once before training (cached, keyed by weights, data and settings).")
    var precomputeRef = false
    @Flag(help: "Skip malformed data rows (counted) instead of stopping.") var skipBadRows = false
    @Flag(inversion: .prefixedNo, help: "Compute each pair's prompt once for chosen and rejected (default on; TRL runs it twice).")
    var sharePrompt: Bool?
    @Flag(help: "Also write the aligned model as OUTPUT/model.gguf (F32).") var saveGguf = false

    func extraOverrides() -> FlagSettings {
        var o = FlagSettings()
        o.put("beta", "--beta", beta)
        o.putList("loss_type", "--loss-type", lossType)
        o.putList("loss_weights", "--loss-weights", lossWeights, numeric: true)
        o.put("label_smoothing", "--label-smoothing", labelSmoothing)
        o.put("simpo_gamma", "--simpo-gamma", simpoGamma)
        o.put("orpo_lambda", "--orpo-lambda", orpoLambda)
        o.put("f_divergence_type", "--f-divergence-type", fDivergenceType)
        o.put("max_length", "--max-length", maxLength)
        o.put("max_prompt_length", "--max-prompt-length", maxPromptLength)
        o.put("truncation_mode", "--truncation-mode", truncationMode)
        o.put("tokenization", "--tokenization", tokenization)
        if precomputeRef { o.put("precompute_ref_log_probs", "--precompute-ref", true) }
        if skipBadRows { o.put("skip_bad_rows", "--skip-bad-rows", true) }
        o.put("share_prompt", sharePrompt == false ? "--no-share-prompt" : "--share-prompt", sharePrompt)
        return o
    }

    func run() throws { try runTraining { try train() } }

    func train() throws {
        try configureThreads(common.threads)
        let (config, run) = try common.resolve(DPOConfiguration.self, extra: extraOverrides())
        let modelPath = try run.modelPath
        let refModelPath = try refModel.map { try resolveModelPath($0, flag: "--ref-model") }
        let dataURL = try run.dataURL, evalDataURL = try run.evalDataURL
        note("loading \(run.model)")
        let policy = try ModelBundle(path: modelPath)
        // The reference: a given model, or a second load of the policy's weights, frozen; it shares
        // the policy's tokenizer and chat template, so only its weights are loaded.
        var reference: ModelBundle?
        if config.loss.needsReference && !(config.precomputeRefLogProbs && refModel == nil) {
            reference = try policy.withModel(loadedFrom: refModelPath)
            reference!.model.freeze()
        }
        let encoder = try ExampleEncoder(tokenizer: policy.tokenizer, chatTemplate: policy.chatTemplate)
        let options = PreparationOptions(maxLength: config.maxLength, maxPromptLength: config.maxPromptLength,
                                         truncationMode: config.truncationMode == "keep_end" ? .keepEnd : .keepStart,
                                         boundary: config.tokenization == "separate" ? .separate : .commonPrefix)
        func prepare(_ url: URL, _ name: String) throws -> [TokenizedPair] {
            let dataset = try PreferenceDataset(contentsOf: url, options: ReadOptions(skipBadRows: config.skipBadRows))
            if dataset.report.skippedRows > 0 {
                note("\(name): skipped \(dataset.report.skippedRows) malformed rows (first: \(dataset.report.skippedReasons.first.map { "\($0)" } ?? ""))")
            }
            let (pairs, summary) = try dataset.tokenizedForDPO(encoder: encoder, options: options)
            note("\(name): \(summary.inputExamples) pairs (\(dataset.format)), \(summary.keptExamples) kept, \(summary.droppedExamples) dropped (prompt alone ≥ max_length), \(summary.truncatedExamples) truncated")
            for warning in summary.warnings { note("warning: \(warning)") }
            return pairs
        }
        let train = try prepare(dataURL, "train")
        let eval = try evalDataURL.map { try prepare($0, "eval") } ?? []
        let output = run.outputURL
        let trainer = try DPOTrainer(policy: policy.model, reference: reference?.model, configuration: config,
                                     trainPairs: train, evalPairs: eval, padID: policy.padID) { directory in
            try policy.save(to: directory)
        }
        if config.precomputeRefLogProbs {
            var settings = try ReferenceCache.fileDigest(dataURL)
            if let e = evalDataURL { settings += "|" + (try ReferenceCache.fileDigest(e)) }
            trainer.referenceCache = (ReferenceCache(directory: output.appendingPathComponent(".ref-cache")), settings)
        }
        let total = config.training.totalSteps(examples: train.count)
        note("training \(total) steps: \(config.loss.terms.map { "\($0.type.rawValue)×\($0.weight)" }.joined(separator: " + ")), β \(config.loss.beta), lr \(config.training.learningRate), \(config.training.batchSize)×\(config.training.gradientAccumulationSteps) pairs per step, \(Threads.count) threads")
        let summary = try trainer.train(outputDirectory: output, resume: run.resume, onLog: try run.reportHook())
        run.writeModelCard(method: "dpo", metrics: summary.lastMetrics)
        if saveGguf { try policy.saveGGUF(to: output.appendingPathComponent("model.gguf")) }
        let m = summary.lastMetrics
        print(String(format: "done: %d steps in %.1f s; loss %.4f, reward accuracy %.2f, margin %.4f → %@",
                     summary.steps, summary.seconds, m["loss"] ?? .nan, m["rewards/accuracies"] ?? .nan,
                     m["rewards/margins"] ?? .nan, output.path))
    }
}

