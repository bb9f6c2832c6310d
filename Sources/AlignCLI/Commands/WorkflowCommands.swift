import AlignHub
import AlignKernels
import AlignModels
import AlignData
import AlignSentiment
import AlignTensor
import AlignTokenizers
import AlignTraining
import AlignWorkflows
import ArgumentParser
import Foundation

/// Reads prompts: JSON Lines with a "prompt" (or "text") field, or plain text, one per line.
func readPrompts(_ path: String) throws -> [String] {
    guard let data = FileManager.default.contents(atPath: (path as NSString).expandingTildeInPath) else {
        throw ValidationErrorMessage("\(path): cannot read the file")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw ValidationErrorMessage("\(path): not UTF-8 text")
    }
    let first = text.drop { $0.isWhitespace }.first
    if first == "{" || first == "[" {
        return try readJSONObjects(path).map { row in try row.string("prompt") ?? row.requireString("text") }
    }
    return text.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
}

/// The default cache of real assets.
var assetCache: URL {
    URL(fileURLWithPath: ProcessInfo.processInfo.environment["ALIGN_CACHE"] ?? NSHomeDirectory() + "/.cache/align")
}

/// `align sample`: N continuations per prompt.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sample", abstract: "Sample N continuations per prompt (batched, KV cache) as JSON Lines.")
    @Option(help: "Model folder, .gguf file or cached Hub id (org/name[@revision]).") var model: String
    @Option(help: adapterHelp) var adapter: String?
    @Option(help: "Prompts: JSON Lines with \"prompt\", or one per line.") var prompts: String
    @Option(help: "Output JSON Lines: {prompt, completions}.") var output: String
    @Option(help: "Continuations per prompt.") var n = 2
    @Option(help: "Most new tokens.") var maxNewTokens = 32
    @Option(help: "Temperature.") var temperature: Float = 1
    @Option(help: "Top-p (1: off).") var topP: Float = 1
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "Rows per generation batch.") var batchSize = 16
    @Flag(help: "Keep text after the first line break.") var multiline = false
    @Option(help: "Threads.") var threads: Int?
    @Option(help: "Weights held as f32, f16, bf16 or q8_0 (fewer bytes per token, fp32 accumulation).") var dtype = "f32"

    func run() throws {
        try configureThreads(threads)
        let bundle = try loadModelBundle(model, adapter: adapter)
        try holdForInference(bundle, dtype: dtype, flag: "--dtype")
        let texts = try readPrompts(prompts)
        let samples = try CompletionSampler.sample(bundle: bundle, prompts: texts, perPrompt: n, maxNewTokens: maxNewTokens,
                                                   temperature: temperature, topP: topP, seed: seed, batchSize: batchSize,
                                                   stopAtNewline: !multiline) { done, total in note("\(done)/\(total) samples") }
        try writeJSONObjects(zip(texts, samples).map { ["prompt": $0, "completions": $1.map(\.text)] }, to: output)
        note("wrote \(output)")
    }
}

/// `align judge`: scores sampled completions and writes preference pairs or KTO rows.
struct JudgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "judge", abstract: "Score completions (VADER or a reward model) and write preference pairs or KTO rows.")
    @Option(help: "Samples from `align sample`: {prompt, completions}.") var input: String
    @Option(help: "vader (VADER compound of prompt + completion), or a reward-model folder saved by `align reward`.") var reward = "vader"
    @Option(help: "PEFT adapter folder applied to the --reward model (a reward adapter saved by `align reward --lora-r …`).") var adapter: String?
    @Option(help: "Output JSON Lines.") var output: String
    @Flag(help: "Write KTO rows {prompt, completion, label} instead of pairs.") var kto = false
    @Flag(help: "Write pairs {prompt, chosen, rejected, margin} (the default).") var pairs = false

    func run() throws {
        let rows = try readJSONObjects(input)
        // One scoring function: VADER, or a Bradley–Terry reward model (scores a prompt's completions together).
        let scoreAll: (String, [String]) throws -> [Double]
        if reward == "vader" {
            let vader = try VaderSentiment(cacheDirectory: assetCache)
            scoreAll = { prompt, completions in completions.map { vader.reviewReward(prompt: prompt, completion: $0) } }
        } else {
            let bundle = try RewardModelBundle(path: try resolveModelPath(reward, flag: "--reward"))
            let model = bundle.model
            if let adapter { try PEFTAdapter.load(into: model, from: URL(fileURLWithPath: (adapter as NSString).expandingTildeInPath)) }
            let encoder = try ExampleEncoder(tokenizer: bundle.tokenizer, chatTemplate: nil)
            scoreAll = { prompt, completions in
                try withNoGrad {
                    try model.score(prompt: .text(prompt), completions: completions.map { .text($0) }, encoder: encoder).map(Double.init)
                }
            }
        }
        let scored = try rows.map { row -> ScoredPrompt in
            let prompt = try row.requireString("prompt")
            let completions = try row.requireStrings("completions")
            let scores = try scoreAll(prompt, completions)
            return ScoredPrompt(prompt: prompt, completions: zip(completions, scores).map { ScoredCompletion(text: $0, score: $1) })
        }
        var builder = PreferencePairBuilder()
        builder.skipsEmptyCompletions = true   // its output is read by the trainers, which refuse them
        if kto {
            let out = builder.ktoExamples(from: scored, labeling: .promptMedian)
            try writeJSONLines(out.examples, to: URL(fileURLWithPath: output))
            note("\(out.examples.count) KTO rows (\(out.droppedAtMedian) at the prompt median, \(out.emptyCompletions) empty completions dropped) → \(output)")
        } else {
            let out = builder.pairs(from: scored)
            try writeJSONLines(out.pairs, to: URL(fileURLWithPath: output))
            note("\(out.pairs.count) pairs, \(out.droppedTies) ties and \(out.emptyCompletions) empty completions dropped → \(output)")
        }
    }
}

/// `align eval`: reward, win rate against the reference, and KL(π‖π_ref) on prompts.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Mean reward, win rate vs the reference, and KL(π‖π_ref) on prompts.")
    @Option(help: "Policy model folder or .gguf.") var model: String
    @Option(help: "PEFT adapter folder applied on top of --model (the default reference is then --model without it).") var adapter: String?
    @Option(help: "Reference model (default: the policy itself, so KL 0).") var refModel: String?
    @Option(help: "Prompts: JSON Lines with \"prompt\", or one per line.") var prompts: String
    @Option(help: "vader.") var reward = "vader"
    @Option(help: "Most new tokens.") var maxNewTokens = 20
    @Option(help: "Temperature (1 samples from the model itself, which the KL estimate assumes).") var temperature: Float = 1
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "Write the result as JSON here.") var output: String?
    @Option(help: "Threads.") var threads: Int?
    @Option(help: "Bootstrap resamples (over prompts) for the 95% intervals of the reward, its change against the reference and the KL; 0 turns them off.")
    var bootstrap = BootstrapSettings().resamples

    func run() throws {
        try configureThreads(threads)
        guard bootstrap >= 0 else { throw ValidationErrorMessage("--bootstrap must be at least 0") }
        guard reward == "vader" else { throw ValidationErrorMessage("--reward \(reward): only vader is available in this build") }
        let vader = try VaderSentiment(cacheDirectory: assetCache)
        let score: RewardFunction = vader.reviewReward
        let policy = try loadModelBundle(model, adapter: adapter)
        // Without --ref-model the reference is a second load of the policy's weights (sharing its
        // tokenizer), without the adapter when one was given: the base model.
        let reference = try refModel.map { try ModelBundle(path: resolveModelPath($0, flag: "--ref-model")) } ?? policy.withModel()
        let texts = try readPrompts(prompts)
        let refSamples = try CompletionSampler.sample(bundle: reference, prompts: texts, perPrompt: 1, maxNewTokens: maxNewTokens,
                                                      temperature: temperature, seed: seed &+ 1).map { $0[0] }
        let refScores = zip(texts, refSamples).map { score($0, $1.text) }
        let e = try PolicyEvaluator.evaluate(policy: policy, reference: reference, prompts: texts, referenceSamples: refSamples,
                                             referenceScores: refScores, reward: score, maxNewTokens: maxNewTokens,
                                             temperature: temperature, seed: seed &+ 2)
        print(String(format: "mean reward %.4f (reference %.4f), win rate %.1f%%, KL %.4f nats over %d prompts",
                     e.meanReward, e.referenceMeanReward, e.winRate * 100, e.klNats, e.promptCount))
        // Paired by prompt (the reference's sample of the same prompt), as the demo's headline.
        let ci = e.intervals(referenceScores: refScores, bootstrap: BootstrapSettings(resamples: bootstrap))
        if let change = ci.rewardChange, let rewardCI = ci.reward, let klCI = ci.kl {
            var line = String(format: "95%% CI: change %+.4f [%+.4f, %+.4f], reward [%.4f, %.4f], KL [%.4f, %.4f]",
                              e.meanReward - e.referenceMeanReward, change.lowerBound, change.upperBound,
                              rewardCI.lowerBound, rewardCI.upperBound, klCI.lowerBound, klCI.upperBound)
            if change.contains(0) { line += " (the change is within evaluation noise)" }
            print(line)
        }
        for i in 0..<min(5, texts.count) { print("  \(texts[i]) | \(e.samples[i].text) [\(String(format: "%.3f", e.scores[i]))]") }
        if let output {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            // The evaluation's own fields plus the intervals as [low, high] (null when off).
            var object = try JSONSerialization.jsonObject(with: encoder.encode(e)) as! [String: Any]
            func pair(_ r: ClosedRange<Double>?) -> Any { r.map { [$0.lowerBound, $0.upperBound] } ?? NSNull() }
            object["mean_reward_ci"] = pair(ci.reward)
            object["reward_change_ci"] = pair(ci.rewardChange)
            object["kl_nats_ci"] = pair(ci.kl)
            object["bootstrap_resamples"] = bootstrap
            try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: output))
        }
    }
}
