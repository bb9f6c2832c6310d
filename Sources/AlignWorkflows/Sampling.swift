import AlignHub
import AlignTokenizers
import AlignModels
import AlignTensor
import Foundation

/// One sampled continuation of a prompt.
public struct SampledCompletion: Sendable, Codable, Hashable {
    public var text: String
    public var ids: [Int32]
}

/// Text in, text out over the model's batched, KV-cached generation
/// (``AlignModels/CausalLanguageModel/generate(prompts:config:streams:)``), for every architecture.
public enum CompletionSampler {
    /// `perPrompt` continuations of each prompt, as text and ids (EOS and anything after a stop
    /// string removed). Rows run `batchSize` at a time; results depend only on the seed, the prompts
    /// and the batch size.
    /// - Parameter stopAtNewline: end a continuation at its first line break (a review sentence).
    public static func sample(bundle: ModelBundle, prompts: [String], perPrompt: Int, maxNewTokens: Int,
                              temperature: Float, topK: Int = 0, topP: Float = 1, seed: UInt64,
                              batchSize: Int = 16, stopAtNewline: Bool = true,
                              progress: ((Int, Int) -> Void)? = nil) throws -> [[SampledCompletion]] {
        let model = bundle.model
        let tokenizer = bundle.tokenizer
        let encoded = prompts.map { tokenizer.encode($0, addSpecialTokens: true).map(Int32.init) }
        if let empty = encoded.firstIndex(where: \.isEmpty) { throw WorkflowError("prompt \(empty) tokenises to nothing") }
        try promptsFit(encoded, model: model)
        try GenerationConfig.validate(maxNewTokens: maxNewTokens, temperature: temperature, topK: topK, topP: topP)
        var rows: [(prompt: Int, ids: [Int32])] = []
        for (i, ids) in encoded.enumerated() { for _ in 0..<perPrompt { rows.append((i, ids)) } }
        var eos = Set<Int32>()
        if let e = tokenizer.eosTokenID { eos.insert(Int32(e)) }
        var results = [[SampledCompletion]](repeating: [], count: prompts.count)
        var done = 0
        for start in stride(from: 0, to: rows.count, by: batchSize) {
            let chunk = Array(rows[start..<min(start + batchSize, rows.count)])
            let stop: (@Sendable (Int, [Int32]) -> Bool)? = stopAtNewline ? newlineStop(tokenizer) : nil
            let config = GenerationConfig(maxNewTokens: maxNewTokens, temperature: temperature, topK: topK, topP: topP,
                                          eosTokenIDs: eos, padTokenID: bundle.padID,
                                          seed: seed &+ UInt64(start) &* 0x9E37_79B9, shouldStop: stop)
            let outputs = model.generate(prompts: chunk.map(\.ids), config: config)
            for (row, new) in zip(chunk, outputs) {
                var ids = new.tokens
                if let last = ids.last, eos.contains(last) { ids.removeLast() }
                var text = tokenizer.decode(ids.map(Int.init), skipSpecialTokens: true)
                if stopAtNewline, let nl = text.firstIndex(of: "\n") {
                    text = String(text[..<nl])
                    // Re-tokenise the kept text as a continuation so ids and text agree.
                    let full = tokenizer.encode(prompts[row.prompt] + text, addSpecialTokens: true).map(Int32.init)
                    ids = Array(full.dropFirst(min(full.count, row.ids.count)))
                }
                results[row.prompt].append(SampledCompletion(text: text, ids: ids))
            }
            done += chunk.count
            progress?(done, rows.count)
        }
        return results
    }
}

/// Ends a row once its last token's text holds a line break (the full text is trimmed later).
private func newlineStop(_ tokenizer: Tokenizer) -> @Sendable (Int, [Int32]) -> Bool {
    { (_: Int, new: [Int32]) -> Bool in
        guard let last = new.last else { return false }
        let piece: String = tokenizer.decode([Int(last)], skipSpecialTokens: true)
        return piece.unicodeScalars.contains { $0 == "\n" }
    }
}

/// A workflow step that cannot go on, with a message for the user.
public struct WorkflowError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
