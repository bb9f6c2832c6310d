import AlignData
import AlignHub
import AlignModels
import AlignTraining
import AlignWorkflows
import ArgumentParser
import Foundation

/// `align accuracy`: held-out accuracy on the shipped verifiable task (data/arithmetic): one
/// completion per question (greedy by default), scored as `--reward arithmetic` and `--reward format`
/// score it, plus the share whose first number is right regardless of the tag.
struct AccuracyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accuracy",
        abstract: "Exact-answer accuracy of a model on the verifiable arithmetic task (data/arithmetic/test.jsonl).",
        discussion: """
            --data: JSON Lines rows {"prompt": messages or text, "answer": "42"}, prompts read as `align grpo` \
            reads them (chat template with the generation prompt). Prints accuracy (the <answer> tag holds exactly \
            the answer), the format rate (a tag at all) and lenient accuracy (the first number is right).
            """)
    @Option(help: "Model folder, .gguf or cached Hub id.") var model: String
    @Option(help: "Questions (default data/arithmetic/test.jsonl).") var data = "data/arithmetic/test.jsonl"
    @Option(help: "Most new tokens per answer.") var maxNewTokens = 48
    @Option(help: "Temperature (0: greedy).") var temperature: Float = 0
    @Option(help: "Questions per generation batch.") var batchSize = 16
    @Option(help: "Seed (sampling only).") var seed: UInt64 = 0
    @Option(help: "Write the scores and every completion as JSON here.") var output: String?
    @Option(help: "Threads.") var threads: Int?

    func run() throws {
        try configureThreads(threads)
        guard (1...4096).contains(batchSize) else { throw ValidationErrorMessage("--batch-size \(batchSize): must be in 1...4096") }
        try GenerationConfig.validate(maxNewTokens: maxNewTokens, temperature: temperature)
        let bundle = try ModelBundle(path: try resolveModelPath(model, flag: "--model"))
        let encoder = try ExampleEncoder(tokenizer: bundle.tokenizer, chatTemplate: bundle.chatTemplate)
        let prompts = try readOnlinePrompts(try resolveDataFile(data, split: "test", flag: "--data"), encoder: encoder, maxLength: nil)
        let eos: Set<Int32> = bundle.tokenizer.eosTokenID.map { [Int32($0)] } ?? []
        var completions: [String] = []
        let started = Date()
        for start in stride(from: 0, to: prompts.count, by: batchSize) {
            let slice = prompts[start..<min(start + batchSize, prompts.count)]
            let config = GenerationConfig(maxNewTokens: maxNewTokens, temperature: temperature, eosTokenIDs: eos, padTokenID: bundle.padID,
                                          seed: seed &+ UInt64(start))
            let generated = bundle.model.generate(prompts: slice.map(\.ids), config: config)
            completions += generated.map { bundle.tokenizer.decode($0.tokens.map(Int.init), skipSpecialTokens: true) }
            note("\(completions.count)/\(prompts.count) answered")
        }
        let answers = prompts.map { $0.fields["answer"] }
        let a = VerifiableTask.score(completions: completions, answers: answers)
        print(String(format: "accuracy %.1f%% (%d/%d), format %.1f%%, lenient accuracy %.1f%% over %d questions in %.1f s",
                     a.accuracy * 100, Int((a.accuracy * Double(a.count)).rounded()), a.count, a.formatRate * 100,
                     a.lenientAccuracy * 100, a.count, Date().timeIntervalSince(started)))
        for i in 0..<min(3, completions.count) { print("  [\(answers[i] ?? "?")] \(completions[i].replacingOccurrences(of: "\n", with: "⏎"))") }
        if let output {
            struct Report: Encodable { var scores: VerifiableTask.Accuracy; var model: String; var data: String; var temperature: Float
                                       var maxNewTokens: Int; var completions: [String]; var answers: [String?] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(Report(scores: a, model: model, data: data, temperature: temperature, maxNewTokens: maxNewTokens,
                                      completions: completions, answers: answers)).write(to: URL(fileURLWithPath: output))
        }
    }
}
