import AlignKernels
import AlignWorkflows
import ArgumentParser
import Foundation

/// `align demo`: the main job on the embedded default — DPO on SmolLM2-135M-Instruct toward
/// positive movie-review continuations, with a report.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Align SmolLM2-135M-Instruct toward positive movie-review continuations (the DPO paper's sentiment experiment).",
        discussion: """
            Samples two continuations of review prefixes, scores them with VADER, trains DPO on the \
            better/worse pairs, evaluates reward, win rate and KL on held-out prompts, and writes \
            OUTPUT/report.html. Assets come from scripts/fetch-assets.sh (cached in $ALIGN_CACHE, \
            default ~/.cache/align).
            """)

    @Option(help: "Output folder.") var output = "runs/demo"
    @Option(help: "Model (default: the cached SmolLM2-135M-Instruct GGUF).") var model: String?
    @Flag(help: "The larger version: more prompts and steps, and a β sweep drawing the reward–KL frontier.") var full = false
    @Option(help: "Training prompts.") var trainPrompts: Int?
    @Option(help: "Held-out prompts.") var evalPrompts: Int?
    @Option(help: "Comma-separated β values (several draw the frontier).") var beta: String?
    @Option(help: "Learning rate.") var learningRate: Float?
    @Option(help: "Epochs over the pairs.") var epochs: Double?
    @Option(help: "Tokens per continuation.") var maxNewTokens: Int?
    @Option(help: "Seed.") var seed: UInt64?
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func run() throws {
        try configureThreads(threads)
        let cache = URL(fileURLWithPath: ProcessInfo.processInfo.environment["ALIGN_CACHE"] ?? NSHomeDirectory() + "/.cache/align")
        var s = full ? SentimentDemo.Settings.full : SentimentDemo.Settings()
        if let trainPrompts { s.trainPrompts = trainPrompts }
        if let evalPrompts { s.evalPrompts = evalPrompts }
        if let beta { s.betas = beta.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) } }
        if let learningRate { s.learningRate = learningRate }
        if let epochs { s.epochs = epochs }
        if let maxNewTokens { s.maxNewTokens = maxNewTokens }
        if let seed { s.seed = seed }
        let modelPath = try model.map { try resolveModelPath($0, flag: "--model") }
            ?? cache.appendingPathComponent("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw ValidationErrorMessage("\(modelPath) not found: run scripts/fetch-assets.sh (or pass --model)")
        }
        let demo = SentimentDemo(settings: s, modelPath: modelPath, cacheDirectory: cache,
                                 outputDirectory: URL(fileURLWithPath: output), log: { print($0); fflush(stdout) })
        let r = try demo.run()
        print("report: \(r.report.path) (\(String(format: "%.1f", r.seconds / 60)) min)")
        print(String(format: "mean reward: %.4f -> %.4f (KL %.3f nats, win rate %.0f%%)", r.before, r.after, r.kl, r.winRate * 100))
    }
}
