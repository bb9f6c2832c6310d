// The reward model: a causal LM's decoder with a sequence-classification head, loaded and saved
// through the architecture's weight mapping plus one tensor, `score.weight`.
import AlignKernels
import AlignModelIO
import AlignNN
import AlignTensor
import Foundation

/// A Bradley–Terry reward model in Hugging Face's sequence-classification layout
/// (`LlamaForSequenceClassification` / `Qwen2ForSequenceClassification` / Mistral's /
/// `GPT2ForSequenceClassification`): a decoder body and a bias-free linear head `score`
/// (hidden → 1) read at each row's last non-pad token. Parameter names are transformers'
/// (`model.layers.0…` or `transformer.h.0…`, `score.weight`), so ``save(to:sourceDirectory:extraFiles:)``
/// writes a folder `AutoModelForSequenceClassification` loads.
public final class RewardModel: Module {
    /// The decoder; built without an LM head (a reward model never produces token logits).
    public let body: any HuggingFaceCausalLanguageModel
    /// The scalar head, weight (1, hidden).
    public let score: Linear
    /// The id whose rightmost non-occurrence marks each row's last token (transformers' rule).
    public var padTokenID: Int32

    /// Wraps a body and a head.
    public init(body: any HuggingFaceCausalLanguageModel, score: Linear, padTokenID: Int32) {
        precondition(!body.namedParameters().contains { $0.name == "lm_head.weight" }, "the reward body must be built without an LM head")
        self.body = body
        self.score = score
        self.padTokenID = padTokenID
    }

    /// Loads a Hugging Face folder: a sequence-classification checkpoint (with `score.weight`),
    /// or a causal-LM checkpoint, whose LM head is dropped and whose score head is initialised as
    /// transformers' `_init_weights` does for a new `nn.Linear`: N(0, initializer_range²), seeded.
    /// The body is read through the architecture's weight mapping (Llama family or GPT-2).
    /// - Parameter padTokenID: overrides the folder's `pad_token_id` (transformers needs one to
    ///   find the last token of padded rows; falls back to the EOS id, then 0).
    public convenience init(directory: URL, padTokenID: Int32? = nil, seed: UInt64 = 0) throws {
        let (body, checkpoint) = try loadHuggingFaceFolder(directory, languageModelHead: false)
        let hidden = body.hiddenSize
        let head: Tensor
        if checkpoint.storedName("score.weight") != nil {
            head = try checkpoint.load("score.weight", [1, hidden])
        } else {
            let raw = try? JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("config.json"))) as? [String: Any]
            let std = (raw?["initializer_range"] as? NSNumber)?.floatValue ?? 0.02
            head = RewardModel.freshHead(hidden: hidden, std: std, seed: seed)
        }
        self.init(body: body, score: Linear(weight: head), padTokenID: padTokenID ?? RewardModel.defaultPadID(body))
    }

    /// A reward model on the decoder of a llama- or qwen2-architecture GGUF file (opened once by
    /// the caller), with a fresh score head N(0, 0.02²), seeded: GGUF holds causal LMs only.
    public convenience init(gguf file: GGUFFile, padTokenID: Int32? = nil, seed: UInt64 = 0) throws {
        let body = try loadGGUF(file, languageModelHead: false)
        self.init(body: body, score: Linear(weight: RewardModel.freshHead(hidden: body.hiddenSize, std: 0.02, seed: seed)),
                  padTokenID: padTokenID ?? RewardModel.defaultPadID(body))
    }

    /// transformers' initialisation of a new score head.
    static func freshHead(hidden: Int, std: Float, seed: UInt64) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return Tensor.randomNormal([1, hidden], std: std, generator: &g)
    }

    /// The configuration's `pad_token_id`, else its (first) EOS id, else 0.
    static func defaultPadID(_ body: any HuggingFaceCausalLanguageModel) -> Int32 {
        let ids = body.generationTokenIDs
        return ids.pad.map { Int32($0) } ?? ids.eos.flatMap { $0.all.first }.map { Int32($0) } ?? 0
    }

    /// Restores the body and the score head in place from a folder saved by
    /// ``save(to:sourceDirectory:extraFiles:)`` (a training checkpoint), checking every tensor's
    /// name, dtype and shape before replacing any (see ``CausalLanguageModel/loadWeights(from:)``).
    ///
    /// With adapters on the body, the adapters and the score head are restored from the PEFT files
    /// (``saveAdapter(to:baseModel:)``).
    public func loadWeights(from directory: URL) throws {
        if body.hasAdapters {
            try PEFTAdapter.restore(into: body, from: directory, modulesToSave: [("score.weight", score.weight)])
            return
        }
        try body.checkpointWeights(in: directory).restore(self, transposed: body.transposedParameterNames)
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

    /// The body's parameters, then `score.weight`.
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
        document.merge(changesFrom: try JSONDocument(encoding: Head(architectures: [body.sequenceClassificationClassName],
                                                                    padTokenID: Int(padTokenID))),
                       insertingNewKeys: true)
        return document
    }

    /// Writes a Hugging Face sequence-classification folder: `model.safetensors` (fp32, the body
    /// in its checkpoint layout without any LM head, plus `score.weight`), `config.json`, the
    /// tokenizer files of `sourceDirectory` when given, and `extraFiles` (file name to contents:
    /// tokenizer files generated for a model loaded from a GGUF file, say).
    ///
    /// With adapters on the body, writes them instead (PEFT's `SEQ_CLS` layout: the adapters plus
    /// the trained score head as `modules_to_save`) beside the tokenizer files.
    public func save(to directory: URL, sourceDirectory: URL? = nil, extraFiles: [String: Data] = [:]) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        if body.hasAdapters {
            try PEFTAdapter.save(body, baseModel: adapterBaseModelName ?? sourceDirectory?.path ?? "", to: directory,
                                 taskType: "SEQ_CLS", modulesToSave: [("score.weight", score.weight)])
            try copyTokenizerFiles(from: sourceDirectory, to: directory, extraFiles: extraFiles)
            return
        }
        let tensors = body.huggingFaceTensors() + [writerTensor("score.weight", score.weight.value)]
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
        try huggingFaceConfiguration(sourceDirectory: sourceDirectory).data().write(to: directory.appendingPathComponent("config.json"))
        try copyTokenizerFiles(from: sourceDirectory, to: directory, extraFiles: extraFiles)
    }

    /// The base model an adapter folder names (`base_model_name_or_path`); the source folder when nil.
    public var adapterBaseModelName: String?

    private func copyTokenizerFiles(from sourceDirectory: URL?, to directory: URL, extraFiles: [String: Data]) throws {
        let fm = FileManager.default
        if let sourceDirectory {
            for name in huggingFaceTokenizerFiles {
                let file = sourceDirectory.appendingPathComponent(name), target = directory.appendingPathComponent(name)
                guard fm.fileExists(atPath: file.path) else { continue }
                try? fm.removeItem(at: target)
                try fm.copyItem(at: file, to: target)
            }
        }
        for (name, data) in extraFiles.sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, name != ".", name != "..", !name.contains("/") else {
                throw ModelError.unsupported("extra file name \"\(name)\": not a plain file name")
            }
            try data.write(to: directory.appendingPathComponent(name))
        }
    }
}
