import AlignData
import AlignHub
import AlignModels
import AlignTraining
import ArgumentParser
import Foundation

/// `align dpo`: Direct Preference Optimization (and TRL's loss variants, SimPO, ORPO) on a Hugging
/// Face folder or GGUF model. A thin layer over ``DPOObjective``; its settings are
/// ``DPOConfiguration/settings``.
struct DPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dpo",
        abstract: "Align a model to preference pairs with DPO or one of TRL's loss variants.",
        discussion: """
            Data rows: {"prompt","chosen","rejected"} strings or message lists, or implicit-prompt \
            {"chosen","rejected"}. Writes OUTPUT/metrics.jsonl (TRL metric names), OUTPUT/checkpoint-N \
            every --save-steps, and the aligned model in Hugging Face layout in OUTPUT.

            """ + DPOConfiguration.helpText)

    @OptionGroup var common: TrainingOptions
    @Option(help: "Frozen reference model (default: a frozen copy of the initial policy).") var refModel: String?
    @Option(help: "Reference weights held as f32, f16, bf16 or q8_0 (less memory, fp32 accumulation; log-prob error in README).") var refDtype = "f32"
    @Flag(help: "Also write the aligned model as OUTPUT/model.gguf (F32).") var saveGguf = false

    func run() throws { try runTraining { try train() } }

    func train() throws {
        try configureThreads(common.threads)
        let (config, run) = try common.resolve(DPOConfiguration.self)
        note("loading \(run.model)")
        let policy = try TrainingCommand.loadPolicy(run, adapter: config.adapter, seed: config.training.seed)
        // The reference: a given model; with adapters, the policy with them switched to the
        // reference (no second copy of the base); else a second load of the policy's weights,
        // frozen. It shares the policy's tokenizer and chat template, so only weights are loaded.
        var reference: (any CausalLanguageModel)?
        if config.loss.needsReference && !(config.precomputeRefLogProbs && refModel == nil && !policy.model.hasAdapters) {
            reference = try TrainingCommand.reference(for: policy, refModel: refModel, dtype: refDtype)
        }
        let encoder = try ExampleEncoder(tokenizer: policy.tokenizer, chatTemplate: policy.chatTemplate)
        let options = PreparationOptions(maxLength: config.maxLength, maxPromptLength: config.maxPromptLength,
                                         truncationMode: config.truncationMode, boundary: config.tokenization.boundary)
        let (train, eval) = try TrainingCommand.prepareSplits(run, unit: "pairs", dropped: "prompt alone ≥ max_length") { url, _ in
            let dataset = try PreferenceDataset(contentsOf: url, options: ReadOptions(skipBadRows: config.skipBadRows))
            let (pairs, summary) = try dataset.tokenizedForDPO(encoder: encoder, options: options)
            return (pairs, dataset.report, dataset.format, summary)
        }
        let objective = try DPOObjective(policy: policy.model, reference: reference, configuration: config,
                                         trainPairs: train, evalPairs: eval, padID: policy.padID) { try policy.save(to: $0) }
        if config.precomputeRefLogProbs {
            var settings = try ReferenceCache.fileDigest(try run.dataURL)
            if let e = try run.evalDataURL { settings += "|" + (try ReferenceCache.fileDigest(e)) }
            objective.referenceCache = (ReferenceCache(directory: run.outputURL.appendingPathComponent(".ref-cache")), settings)
        }
        let loss = config.loss.terms.map { "\($0.type.rawValue)×\($0.weight)" }.joined(separator: " + ")
        let summary = try TrainingCommand.train(objective, run: run, method: "dpo", describe: "\(loss), β \(config.loss.beta)",
                                                ggufFrom: saveGguf ? policy : nil)
        TrainingCommand.printDone(summary, run: run, [("loss", "loss", 4), ("reward accuracy", "rewards/accuracies", 2), ("margin", "rewards/margins", 4)])
    }
}
