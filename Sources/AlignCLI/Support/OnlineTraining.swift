import AlignData
import AlignHub
import AlignJSON
import AlignKernels
import AlignModels
import AlignNN
import AlignSentiment
import AlignTemplates
import AlignTraining
import AlignWorkflows
import ArgumentParser
import Foundation

/// Flags `ppo`, `grpo` and `rloo` add to the shared training flags.
struct OnlineOptions: ParsableArguments {
    @Option(help: "Reward: a reward-model folder (from `align reward`), vader (VADER compound of prompt + completion), arithmetic (exact answer of the shipped verifiable task), format (<answer>…</answer> present), or cmd:PROGRAM ARGS… (reads {\"prompt\",\"completion\"} lines on stdin, answers one number per line). Repeat for several (GRPO/RLOO weight them with --reward-weights).")
    var reward: [String] = []

    @Option(help: "Reference model (default: a frozen copy of --model).")
    var refModel: String?

    @Option(help: "Reference weights held as f32, f16, bf16 or q8_0 (less memory and fewer bytes per token, fp32 accumulation).")
    var refDtype = "f32"

    @Option(help: "Reward-model weights (--reward FOLDER) held as f32, f16, bf16 or q8_0, as --ref-dtype.")
    var rewardDtype = "f32"

    @Option(help: "Write every sampled sequence of every step as JSON Lines (query_ids, response_ids, logprobs, ref_logprobs, score, ...).")
    var dumpRollouts: String?
}

/// Reads prompts for online training: JSON Lines (or a JSON array) with `prompt` (text or a list of
/// messages) or `messages` (the chat template applied with the generation prompt), or a text file
/// with one prompt per line. Prompts longer than `maxLength` keep their last tokens. Other string
/// fields of a row (an `answer`, say) travel with the prompt to text reward sources.
func readOnlinePrompts(_ url: URL, encoder: ExampleEncoder, maxLength: Int?) throws -> [OnlinePrompt] {
    let text = try String(contentsOf: url, encoding: .utf8)
    let first = text.drop { $0.isWhitespace }.first
    var prompts: [OnlinePrompt] = []
    func add(_ ids: [Int32], _ text: String, _ location: String, _ fields: [String: String] = [:]) throws {
        var ids = ids
        guard !ids.isEmpty else { throw ValidationErrorMessage("\(location): the prompt tokenises to nothing") }
        if let maxLength, ids.count > maxLength { ids = Array(ids.suffix(maxLength)) }
        prompts.append(OnlinePrompt(ids: ids, text: text, location: location, fields: fields))
    }
    if first == "{" || first == "[" {
        for row in try readJSONObjects(url.path) {
            var fields: [String: String] = [:]
            if case .object(let members) = row.value {
                for (k, v) in members { if case .string(let s) = v { fields[k] = s } }
            }
            let value = row.value["prompt"] ?? row.value["messages"]
            switch value {
            case .string(let s)?:
                try add(encoder.encode(text: s), s, row.location.description, fields)
            case .array(let items)?:
                let messages = try items.map { item -> ChatMessage in
                    guard case .string(let role)? = item["role"], case .string(let content)? = item["content"] else {
                        throw ValidationErrorMessage("\(row.location): each message needs string \"role\" and \"content\"")
                    }
                    return ChatMessage(role: role, content: content)
                }
                // A trailing assistant turn (a chat dataset's answer) is not part of the prompt.
                let prompt = messages.last?.role == "assistant" ? Array(messages.dropLast()) : messages
                let rendered = try encoder.render(prompt, addGenerationPrompt: true)
                try add(encoder.encode(text: rendered, addSpecialTokens: false), rendered, row.location.description, fields)
            default:
                throw ValidationErrorMessage("\(row.location): expected \"prompt\" (text or messages) or \"messages\"")
            }
        }
    } else {
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            try add(encoder.encode(text: String(line)), String(line), "\(url.lastPathComponent):\(i + 1)")
        }
    }
    guard !prompts.isEmpty else { throw ValidationErrorMessage("\(url.path): no prompts") }
    return prompts
}

/// A reward source from its `--reward` spelling. Reward-model folders must share the policy's
/// vocabulary (they score the policy's token ids, as TRL's PPO does).
func makeRewardSource(_ spec: String, policy: ModelBundle, dtype: String = "f32") throws -> RewardSource {
    if spec == "vader" {
        let vader = try VaderSentiment(cacheDirectory: assetCache)
        return FunctionRewardSource.vader(vader)
    }
    if spec == "arithmetic" { return FunctionRewardSource(name: "arithmetic", VerifiableTask.accuracyReward) }
    if spec == "format" { return FunctionRewardSource(name: "format", VerifiableTask.formatReward) }
    if spec.hasPrefix("cmd:") { return try CommandRewardSource(command: String(spec.dropFirst(4))) }
    let bundle = try RewardModelBundle(path: try resolveModelPath(spec, flag: "--reward"))
    guard bundle.model.body.vocabularySize == policy.model.vocabularySize else {
        throw ValidationErrorMessage("--reward \(spec): its vocabulary (\(bundle.model.body.vocabularySize)) differs from the policy's (\(policy.model.vocabularySize)); a reward model scores the policy's token ids and must share its tokenizer")
    }
    let format = try elementFormat(dtype, flag: "--reward-dtype")
    if format != .f32 {
        guard !bundle.model.hasAdapters else { throw ValidationErrorMessage("--reward-dtype \(dtype) with a reward adapter: merge it first (align merge)") }
        bundle.model.freeze()
        bundle.model.holdMatrices(in: format)
    }
    return RewardModelSource(model: bundle.model, name: URL(fileURLWithPath: spec).lastPathComponent)
}

/// What the three online commands share once flags are resolved: the policy, its reference, the
/// prompts and the reward sources.
struct OnlineSetup {
    let bundle: ModelBundle
    let prompts: [OnlinePrompt]
    let rewards: [RewardSource]

    /// Loads the policy (with adapters when `adapter` is on or `--adapter` is given, as every
    /// trainer), the prompts and the reward sources.
    static func load(run: TrainingRun, online: OnlineOptions, adapter: AdapterConfiguration, seed: UInt64,
                     maxPromptLength: Int?) throws -> OnlineSetup {
        note("loading \(run.model)")
        let bundle = try TrainingCommand.loadPolicy(run, adapter: adapter, seed: seed)
        let encoder = try ExampleEncoder(tokenizer: bundle.tokenizer, chatTemplate: bundle.chatTemplate)
        let prompts = try readOnlinePrompts(try run.dataURL, encoder: encoder, maxLength: maxPromptLength)
        note("train: \(prompts.count) prompts")
        guard !online.reward.isEmpty else { throw ValidationErrorMessage("give --reward (a reward-model folder, vader, arithmetic, format or cmd:PROGRAM)") }
        _ = try elementFormat(online.refDtype, flag: "--ref-dtype")
        let rewards = try online.reward.map { try makeRewardSource($0, policy: bundle, dtype: online.rewardDtype) }
        return OnlineSetup(bundle: bundle, prompts: prompts, rewards: rewards)
    }

    var eosIDs: Set<Int32> { bundle.tokenizer.eosTokenID.map { [Int32($0)] } ?? [] }

    func decode(_ ids: [Int32]) -> String { bundle.tokenizer.decode(ids.map(Int.init), skipSpecialTokens: true) }

    /// `--ref-model`, else the policy with its adapters off (or at their starting values), else a
    /// frozen second load of the policy, held as `--ref-dtype` (``TrainingCommand/reference(for:refModel:dtype:)``).
    func reference(_ online: OnlineOptions) throws -> any CausalLanguageModel {
        try TrainingCommand.reference(for: bundle, refModel: online.refModel, dtype: online.refDtype)
    }
}
