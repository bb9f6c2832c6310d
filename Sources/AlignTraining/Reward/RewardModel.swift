import AlignData
import AlignKernels
import AlignModelIO
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// A Bradley–Terry reward model in Hugging Face's sequence-classification layout
/// (`LlamaForSequenceClassification` / `Qwen2ForSequenceClassification` / Mistral's): a
/// Llama-family decoder body and a bias-free linear head `score` (hidden → 1) read at each row's
/// last non-pad token. Parameter names are transformers' (`model.layers.0…`, `score.weight`), so
/// ``save(to:sourceDirectory:)`` writes a folder `AutoModelForSequenceClassification` loads.
public final class RewardModel: Module {
    /// The decoder; built without an LM head (a reward model never produces token logits).
    public let body: LlamaForCausalLM
    /// The scalar head, weight (1, hidden).
    public let score: Linear
    /// The id whose rightmost non-occurrence marks each row's last token (transformers' rule).
    public var padTokenID: Int32

    /// Wraps a body and a head.
    public init(body: LlamaForCausalLM, score: Linear, padTokenID: Int32) {
        precondition(body.lmHead == nil, "the reward body must be built without an LM head")
        self.body = body
        self.score = score
        self.padTokenID = padTokenID
    }

    /// Loads a Hugging Face folder: a sequence-classification checkpoint (with `score.weight`),
    /// or a causal-LM checkpoint, whose LM head is dropped and whose score head is initialised as
    /// transformers' `_init_weights` does for a new `nn.Linear`: N(0, initializer_range²), seeded.
    /// - Parameter padTokenID: overrides the folder's `pad_token_id` (transformers needs one to
    ///   find the last token of padded rows; falls back to the EOS id, then 0).
    public convenience init(directory: URL, padTokenID: Int32? = nil, seed: UInt64 = 0) throws {
        var configuration = try LlamaConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
        // Tying drops the LM head from the body: nothing of the (vocabulary, hidden) matrix is loaded.
        configuration.tieWordEmbeddings = true
        let weights = try CheckpointWeights(directory: directory)
        try weights.checkLayerCount(prefix: "model.layers.", key: "num_hidden_layers", layers: configuration.numHiddenLayers)
        let body = try LlamaForCausalLM(configuration, weights: weights.load)
        let hidden = configuration.hiddenSize
        let head: Tensor
        if weights.storedName("score.weight") != nil {
            head = try weights.load("score.weight", [1, hidden])
        } else {
            let raw = try? JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("config.json"))) as? [String: Any]
            let std = (raw?["initializer_range"] as? NSNumber)?.floatValue ?? 0.02
            var g = RandomGenerator(seed: seed)
            head = Tensor.randomNormal([1, hidden], std: std, generator: &g)
        }
        let pad = padTokenID ?? configuration.padTokenId.map { Int32($0) } ?? configuration.eosTokenId.flatMap { $0.all.first }.map { Int32($0) } ?? 0
        self.init(body: body, score: Linear(weight: head), padTokenID: pad)
    }

    /// Index (within its row) of each row's reward token: the rightmost position whose id is not
    /// the pad id, as transformers 5 does (the last position when every id is the pad id).
    public func rewardPositions(ids: [Int32], rows: Int, length: Int) -> [Int] {
        (0..<rows).map { r in
            var t = length - 1
            while t > 0 && ids[r * length + t] == padTokenID { t -= 1 }
            return t
        }
    }

    /// Rewards (rows) for right-padded ids (rows × length), differentiable.
    public func rewards(ids: [Int32], rows: Int, length: Int, attentionMask: [Float]? = nil) -> Tensor {
        let hidden = body.hiddenStates(ids: ids, batch: rows, seq: length, attentionMask: attentionMask, positions: nil)
        let gather = rewardPositions(ids: ids, rows: rows, length: length).enumerated().map { Int32($0.offset * length + $0.element) }
        let h = hidden.reshaped([rows * length, body.hiddenSize]).embedding(ids: gather, shape: [rows])
        return h.linear(weight: score.weight.value).reshaped([rows])
    }

    /// Scores each token sequence (no padding needed, no gradient): the reward of the whole text.
    /// This is the API `align judge --reward` builds on.
    public func score(_ sequences: [[Int32]], batchSize: Int = 8) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(sequences.count)
        for start in stride(from: 0, to: sequences.count, by: max(1, batchSize)) {
            let chunk = sequences[start..<min(start + max(1, batchSize), sequences.count)]
            let length = max(1, chunk.map(\.count).max() ?? 1)
            var ids = [Int32](repeating: padTokenID, count: chunk.count * length)
            var mask = [Float](repeating: 0, count: chunk.count * length)
            var positions: [Int] = []
            for (r, s) in chunk.enumerated() {
                for (t, id) in s.enumerated() { ids[r * length + t] = id; mask[r * length + t] = 1 }
                positions.append(max(0, s.count - 1))
            }
            // Here the row lengths are known, so read the reward at each row's true last token even
            // when the text itself ends with the pad id.
            let values: [Float] = withNoGrad {
                let hidden = body.hiddenStates(ids: ids, batch: chunk.count, seq: length, attentionMask: nil, positions: nil)
                let gather = positions.enumerated().map { Int32($0.offset * length + $0.element) }
                let h = hidden.reshaped([chunk.count * length, body.hiddenSize]).embedding(ids: gather, shape: [chunk.count])
                return h.linear(weight: score.weight.value).reshaped([chunk.count]).toArray()
            }
            out += values
        }
        return out
    }

    /// Scores each completion of `prompt`, tokenised exactly as ``RewardObjective`` trains (the
    /// EOS text appended to plain-text completions, prompt + completion as one sequence; message
    /// lists rendered with the chat template). For `align judge --reward`.
    public func score(prompt: ExampleContent, completions: [ExampleContent], encoder: ExampleEncoder,
                      batchSize: Int = 8) throws -> [Float] {
        let dataset = PreferenceDataset(examples: completions.map { PreferenceExample(prompt: prompt, chosen: $0, rejected: $0) })
        let (pairs, _) = try dataset.tokenizedForReward(encoder: encoder, maxLength: nil)
        return score(pairs.map(\.chosenIDs), batchSize: batchSize)
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        body.forEachParameter(prefix: prefix, visit)
        AlignNN.visit(score, "score", prefix: prefix, visit)
    }

    /// The `config.json` transformers writes for the sequence-classification model: the source
    /// folder's keys (when given) with `architectures` set to the `…ForSequenceClassification`
    /// class of the family, one label (`id2label`/`label2id` as transformers writes them,
    /// `num_labels` 1), `pad_token_id` and `dtype` float32.
    public func huggingFaceConfiguration(sourceDirectory: URL? = nil) throws -> JSONDocument {
        var document: JSONDocument
        if let source = sourceDirectory?.appendingPathComponent("config.json"), FileManager.default.fileExists(atPath: source.path) {
            document = try JSONDocument(contentsOf: source)
        } else {
            document = try body.huggingFaceConfiguration()
        }
        let family: String
        switch body.configuration.modelType {
        case "qwen2": family = "Qwen2"
        case "mistral": family = "Mistral"
        default: family = "Llama"
        }
        struct Head: Encodable {
            var architectures: [String]
            var id2label = ["0": "LABEL_0"]
            var label2id = ["LABEL_0": 0]
            var numLabels = 1
            var padTokenID: Int
            var dtype = "float32"
            enum CodingKeys: String, CodingKey {
                case architectures, id2label, label2id, numLabels = "num_labels", padTokenID = "pad_token_id", dtype
            }
        }
        document.merge(changesFrom: try JSONDocument(encoding: Head(architectures: ["\(family)ForSequenceClassification"],
                                                                    padTokenID: Int(padTokenID))),
                       insertingNewKeys: true)
        return document
    }

    /// Writes a Hugging Face sequence-classification folder: `model.safetensors` (fp32, the body
    /// without any LM head, plus `score.weight`), `config.json`, and the tokenizer files of
    /// `sourceDirectory` when given.
    public func save(to directory: URL, sourceDirectory: URL? = nil) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [SafetensorsWriter.Tensor] = []
        var seen = Set<ObjectIdentifier>()
        for (name, p) in namedParameters() where seen.insert(ObjectIdentifier(p)).inserted {
            let value = withNoGrad { p.value.copy() }
            tensors.append(SafetensorsWriter.Tensor(name: name, shape: value.shape, storage: value.storage))
        }
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
        try huggingFaceConfiguration(sourceDirectory: sourceDirectory).data().write(to: directory.appendingPathComponent("config.json"))
        if let sourceDirectory {
            for name in huggingFaceTokenizerFiles {
                let file = sourceDirectory.appendingPathComponent(name), target = directory.appendingPathComponent(name)
                guard fm.fileExists(atPath: file.path) else { continue }
                try? fm.removeItem(at: target)
                try fm.copyItem(at: file, to: target)
            }
        }
    }
}
