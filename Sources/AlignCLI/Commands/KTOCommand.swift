import AlignData
import AlignHub
import AlignModels
import AlignNN
import AlignTraining
import ArgumentParser
import Foundation

/// `align kto`: Kahneman–Tversky Optimization on unpaired (or unpaired-from-paired) feedback. A thin
/// layer over ``KTOObjective``; its settings are ``KTOConfiguration/settings``.
struct KTOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kto",
        abstract: "Align a model to unpaired good/bad feedback with KTO.",
        discussion: """
            Data rows: {"prompt","completion","label": true/false}, or preference rows \
            {"prompt","chosen","rejected"}, each turned into a desirable and an undesirable row. The data \
            order is kept (KTO's KL pairs depend on it) unless shuffle is set in the config. Writes \
            OUTPUT/metrics.jsonl (loss, kl, rewards/chosen, rewards/rejected, ...), checkpoints and the model.

            """ + KTOConfiguration.helpText)

    @OptionGroup var common: TrainingOptions
    @Option(help: "Frozen reference model (default: a frozen copy of the initial policy).") var refModel: String?
    @Option(help: "Reference weights held as f32, f16, bf16 or q8_0 (less memory, fp32 accumulation; log-prob error in README).") var refDtype = "f32"
    @Flag(help: "Also write the aligned model as OUTPUT/model.gguf (F32).") var saveGguf = false

    func run() throws { try runTraining { try train() } }

    func train() throws {
        try configureThreads(common.threads)
        // KTOConfiguration keeps the file order by default (KL pairs depend on it); `shuffle: true` in the config changes it.
        let (config, run) = try common.resolve(KTOConfiguration.self)
        note("loading \(run.model)")
        let policy = try TrainingCommand.loadPolicy(run, adapter: config.adapter, seed: config.training.seed)
        // Only the reference's weights are loaded (none with adapters: the policy with them off).
        let reference = try TrainingCommand.reference(for: policy, refModel: refModel, dtype: refDtype)
        let encoder = try ExampleEncoder(tokenizer: policy.tokenizer, chatTemplate: policy.chatTemplate)
        let (train, eval) = try TrainingCommand.prepareSplits(run, unit: "examples", dropped: "prompt alone ≥ max_length") { url, _ in
            let dataset = try UnpairedDataset(contentsOf: url, options: ReadOptions(skipBadRows: config.skipBadRows))
            let (examples, summary) = try dataset.tokenizedForKTO(encoder: encoder, options: PreparationOptions(maxLength: config.maxLength))
            return (examples, dataset.report, dataset.format, summary)
        }
        let objective = try KTOObjective(policy: policy.model, reference: reference, configuration: config,
                                         trainExamples: train, evalExamples: eval, padID: policy.padID) { try policy.save(to: $0) }
        let summary = try TrainingCommand.train(objective, run: run, method: "kto",
                                                describe: "\(config.lossType.rawValue), β \(config.beta), λ_D \(config.desirableWeight), λ_U \(config.undesirableWeight)",
                                                ggufFrom: saveGguf ? policy : nil)
        TrainingCommand.printDone(summary, run: run, [("loss", "loss", 4), ("kl", "kl", 4), ("rewards chosen", "rewards/chosen", 4), ("rejected", "rewards/rejected", 4)])
    }
}
