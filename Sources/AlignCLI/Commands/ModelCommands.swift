import AlignData
import AlignHub
import AlignKernels
import AlignModelIO
import AlignModels
import AlignTensor
import AlignTraining
import AlignTemplates
import AlignTokenizers
import ArgumentParser
import Foundation

/// `align tokenize`: token ids of texts, one JSON array per input.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "Print token ids of text, one JSON array per input.")
    @Option(help: "Model folder (tokenizer.json), .gguf file or cached Hub id.") var tokenizer: String
    @Option(help: "Text to encode.") var text: String?
    @Option(help: "JSON Lines with a \"text\" field per row.") var input: String?
    @Flag(help: "Add the tokenizer's special tokens (BOS/EOS as its post-processor says).") var addSpecialTokens = false

    func run() throws {
        let url = URL(fileURLWithPath: try resolveModelPath(tokenizer, flag: "--tokenizer"))
        let tok = url.pathExtension.lowercased() == "gguf"
            ? try Tokenizer(vocabulary: BPEVocabulary(gguf: .init(url: url))) : try Tokenizer(directory: url)
        var texts: [String] = []
        if let text { texts.append(text) }
        if let input { texts += try readJSONObjects(input).map { try $0.requireString("text") } }
        guard !texts.isEmpty else { throw ValidationError("give --text or --input") }
        for t in texts { print("[" + tok.encode(t, addSpecialTokens: addSpecialTokens).map(String.init).joined(separator: ", ") + "]") }
    }
}

/// `align logprobs`: summed completion log-probs per row, tokenised as TRL 1.x does.
struct LogProbsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logprobs",
        abstract: "Summed completion log-probs per row: preference rows give chosen/rejected, prompt/completion rows give one.")
    @Option(help: "Model folder, .gguf file or cached Hub id (org/name[@revision]).") var model: String
    @Option(help: adapterHelp) var adapter: String?
    @Option(help: "JSON Lines: {prompt, chosen, rejected} or {prompt, completion}.") var data: String
    @Option(help: "Split to read when --data is a folder or a cached Hub dataset id.") var split = "train"
    @Option(help: "Rows per forward pass.") var batchSize = 8
    @Option(help: "Threads.") var threads: Int?

    func run() throws {
        guard (1...TrainingConfiguration.maximumBatchSize).contains(batchSize) else {
            throw ValidationErrorMessage("--batch-size \(batchSize): must be in 1...\(TrainingConfiguration.maximumBatchSize)")
        }
        try configureThreads(threads)
        let dataURL = try resolveDataFile(data, split: split, flag: "--data")
        let rows = try readJSONObjects(dataURL.path)
        let bundle = try loadModelBundle(model, adapter: adapter)
        let encoder = try ExampleEncoder(tokenizer: bundle.tokenizer, chatTemplate: bundle.chatTemplate)
        guard let first = rows.first else { return }
        let options = PreparationOptions(maxLength: nil)
        let preference = first.has("chosen")
        let dataset: PreferenceDataset
        if preference {
            dataset = try PreferenceDataset(contentsOf: dataURL)
        } else {
            // prompt/completion rows: the completion as "chosen" of a pair with itself.
            dataset = PreferenceDataset(examples: try rows.map { r in
                let completion = ExampleContent.text(try r.requireString("completion"))
                return PreferenceExample(prompt: .text(try r.requireString("prompt")), chosen: completion, rejected: completion,
                                         location: r.location)
            })
        }
        let (pairs, _) = try dataset.tokenizedForDPO(encoder: encoder, options: options)
        try requireSequencesFit(pairs.map { ($0.promptIDs.count + max($0.chosenIDs.count, $0.rejectedIDs.count), $0.location) },
                                model: bundle.model, what: "row", truncationFlag: nil)
        let collator = PreferenceCollator(padID: bundle.padID, maxLength: nil)
        for start in stride(from: 0, to: pairs.count, by: batchSize) {
            let slice = pairs[start..<min(start + batchSize, pairs.count)]
            let b = collator.collate(slice)
            let rows = TokenRows(ids: b.inputIDs, attentionMask: b.attentionMask, completionMask: b.completionMask, rows: b.rowCount, length: b.length)
            let lp = withNoGrad { SequenceLogProbs.compute(model: bundle.model, rows: rows).logps }.toArray()
            let n = slice.count
            for (k, p) in slice.enumerated() {
                if preference {
                    print("{\"chosen_logps\": \(lp[k]), \"rejected_logps\": \(lp[n + k]), \"chosen_tokens\": \(p.chosenIDs.count), \"rejected_tokens\": \(p.rejectedIDs.count)}")
                } else {
                    print("{\"logps\": \(lp[k]), \"tokens\": \(p.chosenIDs.count)}")
                }
            }
        }
    }
}

/// `align generate`: a completion of one prompt.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Generate a completion with the KV cache.")
    @Option(help: "Model folder, .gguf file or cached Hub id (org/name[@revision]).") var model: String
    @Option(help: adapterHelp) var adapter: String?
    @Option(help: "The prompt.") var prompt: String
    @Flag(help: "Render the chat template with a generation prompt.") var chat = false
    @Option(help: "System message (with --chat).") var system: String?
    @Option(help: "Most new tokens.") var maxNewTokens = 128
    @Option(help: "Sampling temperature (0: greedy).") var temperature: Float = 0
    @Option(help: "Top-k (0: off).") var topK = 0
    @Option(help: "Top-p (1: off).") var topP: Float = 1
    @Option(help: "Min-p (0: off).") var minP: Float = 0
    @Option(help: "Repetition penalty (1: off).") var repetitionPenalty: Float = 1
    @Option(help: "Stop string (repeatable).") var stop: [String] = []
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "Threads.") var threads: Int?
    @Option(help: "Weights held as f32, f16, bf16 or q8_0 (fewer bytes per token, fp32 accumulation).") var dtype = "f32"

    func run() throws {
        try GenerationConfig.validate(maxNewTokens: maxNewTokens, temperature: temperature, topK: topK, topP: topP, minP: minP,
                                      repetitionPenalty: repetitionPenalty)
        try configureThreads(threads)
        let bundle = try loadModelBundle(model, adapter: adapter)
        try holdForInference(bundle, dtype: dtype, flag: "--dtype")
        let model = bundle.model
        var text = prompt
        if chat {
            guard let template = bundle.chatTemplate else { throw ValidationErrorMessage("\(self.model) has no chat template") }
            var messages: [[String: TemplateValue]] = []
            if let system { messages.append(["role": "system", "content": .string(system)]) }
            messages.append(["role": "user", "content": .string(prompt)])
            text = try template.render(messages: messages, addGenerationPrompt: true)
        }
        let ids = bundle.tokenizer.encode(text, addSpecialTokens: !chat).map(Int32.init)
        var eos = Set<Int32>()
        if let e = bundle.tokenizer.eosTokenID { eos.insert(Int32(e)) }
        let config = GenerationConfig(maxNewTokens: maxNewTokens, temperature: temperature, topK: topK, topP: topP, minP: minP,
                                      repetitionPenalty: repetitionPenalty, eosTokenIDs: eos, padTokenID: bundle.padID, seed: seed,
                                      shouldStop: stop.isEmpty ? nil : stopStrings(stop, bundle.tokenizer))
        guard ids.count <= model.maxSequenceLength else {
            throw ValidationErrorMessage("--prompt: \(ids.count) tokens, longer than the model's \(model.maxSequenceLength) positions (max_position_embeddings)")
        }
        guard !ids.isEmpty else { throw ValidationErrorMessage("--prompt: empty prompt (no tokens)") }
        let out = withNoGrad { model.generate(prompts: [ids], config: config) }[0].tokens
        var result = bundle.tokenizer.decode(out.map(Int.init), skipSpecialTokens: true)
        for s in stop { if let r = result.range(of: s) { result = String(result[..<r.lowerBound]) } }
        print(result)
    }
}

/// `align convert`: a model in another format. Also does what `align convert-gguf` did (that name
/// stays as a hidden alias): `--format hf` from a `.gguf` with `--dtype` or `--max-shard-bytes`
/// writes the GGUF's tensors straight to safetensors shards in the chosen dtype.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert", abstract: "Convert a model between Hugging Face layout and GGUF.",
        discussion: """
            --format hf (default): a Hugging Face folder; from a .gguf the tokenizer files are generated from it. \
            Plain, the model is loaded and saved in f32; with --dtype f32|f16|bf16 or --max-shard-bytes a .gguf is \
            dequantised straight into safetensors shards of that dtype (what `align convert-gguf` did). \
            --format gguf: a GGUF file (--dtype f32 or f16) that llama.cpp and transformers load.
            """)
    @Option(help: "Model folder, .gguf file or cached Hub id (org/name[@revision]).") var model: String
    @Option(help: "Output folder (hf) or .gguf file (gguf).") var output: String
    @Option(help: "hf or gguf.") var format = "hf"
    @Option(help: "Stored type: gguf f32 (default) or f16; hf from a .gguf f32, f16 or bf16.") var dtype: String?
    @Option(help: "hf from a .gguf: largest shard in bytes before splitting (as save_pretrained's max_shard_size; default 5000000000).")
    var maxShardBytes: Int?

    func run() throws {
        let path = try resolveModelPath(model, flag: "--model")
        switch format {
        case "hf":
            if dtype != nil || maxShardBytes != nil {
                guard path.lowercased().hasSuffix(".gguf") else {
                    throw ValidationErrorMessage("--dtype / --max-shard-bytes with --format hf convert a .gguf file's tensors directly; \(model) is not a .gguf file (drop them to re-save a folder in f32)")
                }
                try convertGGUFToSafetensors(input: path, output: output, dtype: dtype ?? "bf16",
                                             maxShardBytes: maxShardBytes ?? ConvertGGUF.defaultMaxShardBytes)
                return
            }
            try ModelBundle(path: path).save(to: URL(fileURLWithPath: output))
        case "gguf":
            guard maxShardBytes == nil else { throw ValidationErrorMessage("--max-shard-bytes applies to --format hf (GGUF is written as one file)") }
            let type: GGMLType
            switch dtype ?? "f32" {
            case "f32": type = .f32
            case "f16": type = .f16
            default: throw ValidationErrorMessage("--dtype \(dtype!): GGUF output is f32 or f16")
            }
            try ModelBundle(path: path).saveGGUF(to: URL(fileURLWithPath: output), type: type)
        default: throw ValidationError("--format must be hf or gguf")
        }
        print("wrote \(output)")
    }
}

/// Ends a row once its decoded text contains one of `stops`.
func stopStrings(_ stops: [String], _ tokenizer: Tokenizer) -> @Sendable (Int, [Int32]) -> Bool {
    { (_: Int, new: [Int32]) -> Bool in
        let text: String = tokenizer.decode(new.map { Int($0) }, skipSpecialTokens: true)
        return stops.contains { text.contains($0) }
    }
}
