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
    @Flag(help: "The DPO paper's frontier: DPO at each β (default 0.1,0.5), PPO at each --kl-coef and GRPO, all against VADER, every point with bootstrap intervals; writes frontier.json.") var frontier = false
    @Option(help: "Comma-separated PPO kl_coef values for --frontier (default 0.05,0.2).") var klCoef: String?
    @Option(help: "Optimiser steps of each PPO and GRPO run for --frontier (default 16).") var onlineSteps: Int?
    @Option(help: "Bootstrap resamples for the 95% intervals (default 2000).") var bootstrap: Int?
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
        if frontier {
            if full { throw ValidationErrorMessage("--full and --frontier are separate runs; pick one") }
            s = .frontierSweep
        }
        if let klCoef {
            guard frontier else { throw ValidationErrorMessage("--kl-coef needs --frontier") }
            s.ppoKLCoefs = try floatList(klCoef, flag: "--kl-coef")
        }
        if let onlineSteps {
            guard frontier, onlineSteps > 0 else { throw ValidationErrorMessage("--online-steps needs --frontier and a positive count") }
            s.ppo.training.maxSteps = onlineSteps - onlineSteps % s.ppo.updatesPerRollout
            s.grpo.training.maxSteps = onlineSteps
            guard s.ppo.training.maxSteps > 0 else { throw ValidationErrorMessage("--online-steps must be at least \(s.ppo.updatesPerRollout) (one PPO rollout)") }
        }
        if let bootstrap {
            guard bootstrap >= 0 else { throw ValidationErrorMessage("--bootstrap must be 0 or more") }
            s.bootstrap.resamples = bootstrap
        }
        if let trainPrompts { s.trainPrompts = trainPrompts }
        if let evalPrompts { s.evalPrompts = evalPrompts }
        if let beta { s.betas = try floatList(beta, flag: "--beta") }
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
        if r.points.count > 1 {
            print("reward–KL points (frontier.json):")
            func ci(_ r: ClosedRange<Double>?, _ digits: Int) -> String {
                r.map { String(format: "[%.\(digits)f, %.\(digits)f]", $0.lowerBound, $0.upperBound) } ?? ""
            }
            for p in r.points {
                let name = (p.methodName + " " + p.label).padding(toLength: 24, withPad: " ", startingAt: 0)
                print("  \(name) KL \(String(format: "%.3f", p.evaluation.klNats)) \(ci(p.intervals.kl, 3))  reward \(String(format: "%.4f", p.evaluation.meanReward)) \(ci(p.intervals.reward, 4))")
            }
        }
        print(r.headline)
    }

    /// `0.1,0.5` → [0.1, 0.5]; anything else is an error naming the flag.
    func floatList(_ text: String, flag: String) throws -> [Float] {
        try text.split(separator: ",").map {
            guard let v = Float($0.trimmingCharacters(in: .whitespaces)), v.isFinite, v >= 0 else {
                throw ValidationErrorMessage("\(flag) \(text): expected comma-separated non-negative numbers")
            }
            return v
        }
    }
}
