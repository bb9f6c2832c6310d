// The Llama family's weight mapping (Llama, Qwen2, Mistral): how `LlamaForCausalLM`'s parameters
// are found in a Hugging Face folder and written back to one, how llama.cpp's GGUF tensor names and
// layouts map onto Hugging Face's, and how `config.json` settings map onto GGUF metadata keys.
// Loading and saving in both formats read this one file; AlignModelIO only reads and writes bytes.
import AlignKernels
import AlignModelIO
import AlignNN
import AlignTensor
import Foundation

// MARK: - Hugging Face folders (config.json + safetensors)

extension LlamaForCausalLM {
    /// Loads a Hugging Face model folder (`config.json` + `model.safetensors` or shards).
    /// Every tensor is checked for presence, dtype and shape; a tied LM head may be absent.
    public convenience init(directory: URL) throws {
        let configuration = try LlamaConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
        try self.init(configuration, checkpoint: try CheckpointWeights(directory: directory), languageModelHead: true)
    }

    /// Builds the model from an opened checkpoint after checking that it holds exactly the
    /// configured layers. With `languageModelHead` false only the decoder is built (the body of a
    /// sequence-classification model): the configuration is tied, so no LM head is read.
    convenience init(_ configuration: LlamaConfiguration, checkpoint weights: CheckpointWeights, languageModelHead: Bool) throws {
        var configuration = configuration
        try weights.checkLayerCount(prefix: "model.layers.", key: "num_hidden_layers", layers: configuration.numHiddenLayers)
        if languageModelHead {
            try weights.checkTiedHead(tied: configuration.tieWordEmbeddings, headName: "lm_head.weight")
        } else {
            // Tying drops the LM head from the body: nothing of the (vocabulary, hidden) matrix is loaded.
            configuration.tieWordEmbeddings = true
        }
        try self.init(configuration, weights: weights.load)
    }

    /// Loads a folder whose `config.json` names a Llama-family model, returning the opened
    /// checkpoint too (a reward model reads its `score.weight` from it).
    static func load(folder: URL, languageModelHead: Bool) throws -> (model: LlamaForCausalLM, checkpoint: CheckpointWeights) {
        let configuration = try LlamaConfiguration(contentsOf: folder.appendingPathComponent("config.json"))
        let checkpoint = try CheckpointWeights(directory: folder)
        return (try LlamaForCausalLM(configuration, checkpoint: checkpoint, languageModelHead: languageModelHead), checkpoint)
    }
}

extension LlamaConfiguration {
    /// `config.json` for this configuration as transformers writes it: every setting under its
    /// Hugging Face key, plus `hidden_act` (silu, the only activation built) and `dtype`.
    public func huggingFaceConfiguration(dtype: String) throws -> JSONDocument {
        var document = try JSONDocument(encoding: self)
        document.set("hidden_act", string: "silu")
        document.set("dtype", string: dtype)
        return document
    }
}

extension LlamaForCausalLM: HuggingFaceCausalLanguageModel {
    /// `config.json` for this model: its configuration plus the settings transformers would write
    /// that Align does not model (`hidden_act`, `dtype` float32).
    public func huggingFaceConfiguration() throws -> JSONDocument {
        try configuration.huggingFaceConfiguration(dtype: "float32")
    }

    /// Every parameter under its Hugging Face name; a tied LM head is not written (transformers
    /// 5 `save_pretrained` drops `lm_head.weight` and re-ties it on load).
    public func huggingFaceTensors() -> [SafetensorsWriter.Tensor] {
        namedParameters().map { writerTensor($0.name, $0.parameter.value) }
    }

    /// The configuration's `bos_token_id`, `eos_token_id` and `pad_token_id`.
    public var generationTokenIDs: (bos: Int?, eos: LlamaConfiguration.TokenIDs?, pad: Int?) {
        (configuration.bosTokenId, configuration.eosTokenId, configuration.padTokenId)
    }

    /// `LlamaForSequenceClassification`, or the Qwen2 / Mistral class for those model types.
    public var sequenceClassificationClassName: String {
        switch configuration.modelType {
        case "qwen2": return "Qwen2ForSequenceClassification"
        case "mistral": return "MistralForSequenceClassification"
        default: return "LlamaForSequenceClassification"
        }
    }

    /// The folder's checkpoint, checked to hold this model's layers and no LM head that the
    /// configuration ties away. Parameters are stored under their own names.
    public func checkpointWeights(in directory: URL) throws -> CheckpointWeights {
        let weights = try CheckpointWeights(directory: directory)
        try weights.checkLayerCount(prefix: "model.layers.", key: "num_hidden_layers", layers: configuration.numHiddenLayers)
        try weights.checkTiedHead(tied: configuration.tieWordEmbeddings, headName: "lm_head.weight")
        return weights
    }

    /// None: every Llama tensor is stored in the layout the model keeps.
    public var transposedParameterNames: Set<String> { [] }
}

// MARK: - GGUF (llama.cpp's `llama` and `qwen2` architectures)

/// Conversion between llama.cpp's tensor naming and layout and Hugging Face's for the llama and
/// qwen2 GGUF architectures.
///
/// For `llama` (Llama, Mistral) llama.cpp's converter permutes the rows of `q_proj` and `k_proj`
/// (weights and biases) so that each head's rotary pairs are interleaved (GPT-J style: rows 2i,
/// 2i+1 rotate together) instead of split in halves (Hugging Face's rotate-half: rows i and
/// i + d/2); loading undoes that, writing redoes it. `qwen2` files keep Hugging Face's row order
/// (llama.cpp runs them with NeoX-style RoPE), so nothing is permuted either way.
public enum LlamaWeightMapping {
    /// A tensor with a Hugging Face name.
    public typealias NamedTensor = (name: String, shape: [Int], storage: TensorStorage)

    /// The GGUF architectures read and written: llama.cpp's `llama` (Llama, Mistral) and `qwen2`.
    public static let ggufArchitectures: Set<String> = ["llama", "qwen2"]

    private static let layerSuffixes: [(gguf: String, hf: String)] = [
        ("attn_q.weight", "self_attn.q_proj.weight"),
        ("attn_k.weight", "self_attn.k_proj.weight"),
        ("attn_v.weight", "self_attn.v_proj.weight"),
        ("attn_output.weight", "self_attn.o_proj.weight"),
        ("attn_q.bias", "self_attn.q_proj.bias"),
        ("attn_k.bias", "self_attn.k_proj.bias"),
        ("attn_v.bias", "self_attn.v_proj.bias"),
        ("attn_output.bias", "self_attn.o_proj.bias"),
        ("ffn_gate.weight", "mlp.gate_proj.weight"),
        ("ffn_up.weight", "mlp.up_proj.weight"),
        ("ffn_down.weight", "mlp.down_proj.weight"),
        ("attn_norm.weight", "input_layernorm.weight"),
        ("ffn_norm.weight", "post_attention_layernorm.weight"),
    ]
    private static let globalNames: [(gguf: String, hf: String)] = [
        ("token_embd.weight", "model.embed_tokens.weight"),
        ("output_norm.weight", "model.norm.weight"),
        ("output.weight", "lm_head.weight"),
    ]

    /// The Hugging Face name of a llama.cpp tensor name, or nil if it has none
    /// (`rope_freqs.weight`, say).
    public static func huggingFaceName(forGGUFName name: String) -> String? {
        if let match = globalNames.first(where: { $0.gguf == name }) { return match.hf }
        let parts = name.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0, String(layer) == parts[1],
              let match = layerSuffixes.first(where: { $0.gguf == parts[2] }) else { return nil }
        return "model.layers.\(layer).\(match.hf)"
    }

    /// The llama.cpp name of a Hugging Face tensor name, or nil if it has none.
    public static func ggufName(forHuggingFaceName name: String) -> String? {
        if let match = globalNames.first(where: { $0.hf == name }) { return match.gguf }
        guard name.hasPrefix("model.layers.") else { return nil }
        let rest = name.dropFirst("model.layers.".count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), String(layer) == rest[..<dot],
              let match = layerSuffixes.first(where: { $0.hf == rest[rest.index(after: dot)...] }) else { return nil }
        return "blk.\(layer).\(match.gguf)"
    }

    /// Reorders the rows of a Q or K projection between the two RoPE layouts (see
    /// ``AlignModelIO/TensorStorage/permutingRotaryRows(rows:heads:toGGUF:)``).
    public static func permuteRotaryRows(
        _ storage: TensorStorage, rows: Int, heads: Int, toGGUF: Bool
    ) -> TensorStorage {
        storage.permutingRotaryRows(rows: rows, heads: heads, toGGUF: toGGUF)
    }

    /// The llama.cpp architecture a configuration read from a GGUF file came from: "qwen2" for
    /// model type qwen2, else "llama".
    static func ggufArchitectureName(_ configuration: LlamaConfiguration) -> String {
        configuration.modelType == "qwen2" ? "qwen2" : "llama"
    }

    /// The llama.cpp architecture a configuration is written as: Qwen2 as `qwen2` (it must have
    /// attention biases), Llama and Mistral as `llama`. Throws for other model types and for RoPE
    /// scaling, which llama.cpp keeps as a `rope_freqs` table that neither Align nor transformers'
    /// GGUF reader turns back into the setting, so the file would not compute as the model does.
    public static func ggufArchitecture(of configuration: LlamaConfiguration) throws -> String {
        let architecture: String
        switch configuration.modelType {
        case "qwen2":
            guard configuration.attentionBias else { throw ModelError.unsupported("GGUF export of a qwen2 model without attention biases") }
            architecture = "qwen2"
        case "llama", "mistral": architecture = "llama"
        default: throw ModelError.unsupported("GGUF export of model_type \"\(configuration.modelType)\" (supported: llama, qwen2, mistral)")
        }
        if let scaling = configuration.ropeScaling, scaling.ropeType != "default" {
            throw ModelError.unsupported("GGUF export of rope_scaling \"\(scaling.ropeType)\": llama.cpp keeps it as a rope_freqs table that neither Align nor transformers' GGUF reader turns back into the setting, so the file would not compute as the model does")
        }
        return architecture
    }

    /// The number of heads whose rows `ggufName` stores permuted in a file of `architecture`, or
    /// nil when it is stored as Hugging Face has it: Q and K weights and biases of llama only.
    static func permutedHeads(_ ggufName: String, architecture: String, configuration: LlamaConfiguration) -> Int? {
        guard architecture == "llama" else { return nil }
        if ggufName.hasSuffix(".attn_q.weight") || ggufName.hasSuffix(".attn_q.bias") { return configuration.numAttentionHeads }
        if ggufName.hasSuffix(".attn_k.weight") || ggufName.hasSuffix(".attn_k.bias") { return configuration.numKeyValueHeads }
        return nil
    }

    /// Loads one tensor by its Hugging Face name, dequantised to fp32 and (for llama's Q and K)
    /// un-permuted. `configuration` is the file's own (``LlamaConfiguration/init(gguf:)``).
    public static func loadTensor(_ huggingFaceName: String, from file: GGUFFile, configuration: LlamaConfiguration) throws -> NamedTensor {
        guard let ggufName = ggufName(forHuggingFaceName: huggingFaceName), file.tensor(named: ggufName) != nil else {
            throw ModelIOError.tensorNotFound(path: file.url.path, name: huggingFaceName)
        }
        let (shape, loaded) = try file.loadFloat32(ggufName)
        var storage = loaded
        if let heads = permutedHeads(ggufName, architecture: ggufArchitectureName(configuration), configuration: configuration) {
            // A Q/K tensor with zero rows (found by FuzzGGUF) has no heads to reorder; it is refused
            // here, before the permutation divides by its row count.
            guard (1...2).contains(shape.count), shape[0] > 0, shape[0] % (2 * heads) == 0 else {
                throw ModelIOError.malformed(path: file.url.path, reason: "\(ggufName) has shape \(shape), which does not split into \(heads) heads")
            }
            storage = permuteRotaryRows(storage, rows: shape[0], heads: heads, toGGUF: false)
        }
        return (huggingFaceName, shape, storage)
    }

    /// Loads every llama or qwen2 tensor of `file` under its Hugging Face name, in file order,
    /// with llama's Q/K un-permuted, and the configuration the file describes. Tensors without a
    /// Hugging Face counterpart are skipped; a tied model has no `lm_head.weight`.
    public static func loadHuggingFaceTensors(from file: GGUFFile) throws -> (configuration: LlamaConfiguration, tensors: [NamedTensor]) {
        let configuration = try LlamaConfiguration(gguf: file)
        var tensors: [NamedTensor] = []
        for info in file.tensors {
            guard let name = huggingFaceName(forGGUFName: info.name) else { continue }
            tensors.append(try loadTensor(name, from: file, configuration: configuration))
        }
        return (configuration, tensors)
    }

    /// Writes Hugging Face Llama-family tensors as a GGUF file of the architecture
    /// ``ggufArchitecture(of:)`` picks: names mapped, llama's Q/K rows permuted into llama.cpp's
    /// layout, matrices stored as `type` (`.f32` or `.f16`) and 1-D tensors (norms, biases) kept in
    /// F32 as llama.cpp does. `extraMetadata` (tokenizer entries, say) follows the architecture
    /// keys and wins over a configuration entry of the same key.
    public static func writeGGUF(
        huggingFaceTensors tensors: [NamedTensor], configuration: LlamaConfiguration, name: String? = nil,
        extraMetadata: [(key: String, value: GGUFValue)] = [], type: GGMLType = .f16, to url: URL
    ) throws {
        let architecture = try ggufArchitecture(of: configuration)
        var metadata: [(key: String, value: GGUFValue)] = [("general.architecture", .string(architecture))]
        if let name { metadata.append(("general.name", .string(name))) }
        metadata += configuration.ggufMetadata(architecture: architecture).filter { entry in !extraMetadata.contains { $0.key == entry.key } }
        metadata.append(("general.file_type", .uint32(type == .f16 ? 1 : 0)))
        metadata += extraMetadata
        var output: [GGUFWriter.Tensor] = []
        for tensor in tensors {
            guard let ggufName = ggufName(forHuggingFaceName: tensor.name) else {
                throw ModelIOError.invalidArgument(path: url.path, reason: "\"\(tensor.name)\" is not a \(architecture) tensor name")
            }
            if configuration.tieWordEmbeddings && ggufName == "output.weight" { continue }
            var storage = tensor.storage
            if let heads = permutedHeads(ggufName, architecture: architecture, configuration: configuration) {
                guard (1...2).contains(tensor.shape.count), tensor.shape[0] > 0, tensor.shape[0] % (2 * heads) == 0 else {
                    throw ModelIOError.invalidArgument(path: url.path, reason: "\(tensor.name) has shape \(tensor.shape), which does not split into \(heads) heads")
                }
                storage = permuteRotaryRows(storage, rows: tensor.shape[0], heads: heads, toGGUF: true)
            }
            output.append(GGUFWriter.Tensor(name: ggufName, shape: tensor.shape, storage: storage,
                                            type: tensor.shape.count == 1 ? .f32 : type))
        }
        try GGUFWriter.write(metadata: metadata, tensors: output, to: url)
    }
}

extension LlamaConfiguration {
    /// The configuration a llama- or qwen2-architecture GGUF file describes, read from its
    /// `llama.*` or `qwen2.*` metadata (`<arch>.embedding_length` is `hidden_size`,
    /// `<arch>.block_count` `num_hidden_layers`, `<arch>.attention.head_count(_kv)` the head counts,
    /// `<arch>.feed_forward_length` `intermediate_size`, `<arch>.attention.layer_norm_rms_epsilon`
    /// `rms_norm_eps`, `<arch>.rope.freq_base` `rope_theta`, `<arch>.context_length`
    /// `max_position_embeddings`, `<arch>.attention.key_length` `head_dim`), its tensors (no
    /// `output.weight`: tied; `blk.0.attn_q.bias`: attention biases) and its tokenizer's special ids.
    /// A qwen2 file gives model type "qwen2" with attention biases; a llama file gives "llama" (a
    /// Mistral model written as llama.cpp's `llama` comes back as a Llama model, as it does from
    /// transformers' GGUF reader).
    ///
    /// Throws ``AlignModelIO/ModelIOError`` for another architecture or inconsistent metadata, and
    /// ``ModelError/unsupported(_:)`` for RoPE scaling, which GGUF expresses as
    /// `<arch>.rope.scaling.*` or a `rope_freqs.weight` factor table and is refused rather than
    /// silently ignored.
    public init(gguf file: GGUFFile) throws {
        let path = file.url.path
        guard let architecture = file.architecture, LlamaWeightMapping.ggufArchitectures.contains(architecture) else {
            throw ModelIOError.unsupported(path: path, reason: "architecture is \(file.architecture ?? "missing"), not llama or qwen2")
        }
        let prefix = architecture + "."
        func integer(_ key: String) throws -> Int {
            guard let value = file.metadata[prefix + key]?.intValue else {
                throw ModelIOError.malformed(path: path, reason: "missing or non-integer metadata \(prefix)\(key)")
            }
            return value
        }
        // GGUF stores these as float32, which is what the model computes with.
        func number(_ key: String, default fallback: Float) throws -> Float {
            guard let value = file.metadata[prefix + key] else { return fallback }
            if case .float32(let f) = value { return f }
            guard let d = value.doubleValue else {
                throw ModelIOError.malformed(path: path, reason: "metadata \(prefix)\(key) is not a number")
            }
            return Float(d)
        }
        let hiddenSize = try integer("embedding_length")
        let layerCount = try integer("block_count")
        let headCount = try integer("attention.head_count")
        let keyValueHeadCount = file.metadata[prefix + "attention.head_count_kv"]?.intValue ?? headCount
        let intermediateSize = try integer("feed_forward_length")
        let rmsNormEpsilon = try number("attention.layer_norm_rms_epsilon", default: 1e-6)
        let ropeTheta = try number("rope.freq_base", default: 10000)
        let maxPositionEmbeddings = try integer("context_length")
        let keyLength = file.metadata[prefix + "attention.key_length"]?.intValue
        let headDimension = keyLength ?? hiddenSize / max(headCount, 1)
        // Rotary embeddings pair up dimensions, so a head must have an even size.
        guard headCount > 0, keyValueHeadCount > 0, headCount % keyValueHeadCount == 0,
              headDimension > 0, headDimension % 2 == 0, keyLength != nil || hiddenSize % headCount == 0 else {
            throw ModelIOError.malformed(path: path, reason: "inconsistent attention shape: \(headCount) heads, \(keyValueHeadCount) key/value heads, head size \(headDimension), hidden size \(hiddenSize)")
        }
        let vocabularySize: Int
        if let size = file.metadata[prefix + "vocab_size"]?.intValue {
            vocabularySize = size
        } else if let tokens = file.metadata["tokenizer.ggml.tokens"]?.arrayValue {
            vocabularySize = tokens.count
        } else if let embedding = file.tensor(named: "token_embd.weight") {
            // GGUF allows a tensor of no dimensions (a scalar); an embedding table must have rows.
            guard let rows = embedding.shape.first else {
                throw ModelIOError.malformed(path: path, reason: "token_embd.weight has no dimensions, so it gives no vocabulary size")
            }
            vocabularySize = rows
        } else {
            throw ModelIOError.malformed(path: path, reason: "cannot tell the vocabulary size (no \(prefix)vocab_size, tokens or token_embd.weight)")
        }
        if let type = file.metadata[prefix + "rope.scaling.type"]?.stringValue, type != "none" {
            throw ModelError.unsupported("\(file.url.lastPathComponent): GGUF RoPE scaling \"\(type)\"")
        }
        if file.tensor(named: "rope_freqs.weight") != nil {
            throw ModelError.unsupported("\(file.url.lastPathComponent): GGUF rope_freqs (llama3-style frequency factors)")
        }
        self.init(vocabSize: vocabularySize, hiddenSize: hiddenSize, intermediateSize: intermediateSize,
                  numHiddenLayers: layerCount, numAttentionHeads: headCount, numKeyValueHeads: keyValueHeadCount,
                  rmsNormEps: rmsNormEpsilon, ropeTheta: ropeTheta, maxPositionEmbeddings: maxPositionEmbeddings,
                  tieWordEmbeddings: file.tensor(named: "output.weight") == nil,
                  // qwen2 always has q/k/v biases; a llama file has them when its first layer does.
                  attentionBias: architecture == "qwen2" || file.tensor(named: "blk.0.attn_q.bias") != nil,
                  modelType: architecture == "qwen2" ? "qwen2" : "llama")
        // An explicit head width is kept only when it differs from hidden / heads, as config.json would.
        if let keyLength, keyLength != hiddenSize / headCount || hiddenSize % headCount != 0 {
            headDim = keyLength
        }
        bosTokenId = file.metadata["tokenizer.ggml.bos_token_id"]?.intValue
        eosTokenId = file.metadata["tokenizer.ggml.eos_token_id"]?.intValue.map { .one($0) }
        padTokenId = file.metadata["tokenizer.ggml.padding_token_id"]?.intValue
    }

    /// The GGUF metadata that stores this configuration: the `<architecture>.*` entries llama.cpp
    /// expects, in the order its converter writes them (the architecture is
    /// ``LlamaWeightMapping/ggufArchitecture(of:)``'s), then the token ids this configuration
    /// knows (the first of several `eos_token_id`s).
    public func ggufMetadata() throws -> [(key: String, value: GGUFValue)] {
        ggufMetadata(architecture: try LlamaWeightMapping.ggufArchitecture(of: self))
    }

    /// ``ggufMetadata()`` for a given architecture name ("llama" or "qwen2").
    func ggufMetadata(architecture: String) -> [(key: String, value: GGUFValue)] {
        let p = architecture + "."
        var entries: [(key: String, value: GGUFValue)] = [
            (p + "block_count", .uint32(UInt32(numHiddenLayers))),
            (p + "context_length", .uint32(UInt32(maxPositionEmbeddings))),
            (p + "embedding_length", .uint32(UInt32(hiddenSize))),
            (p + "feed_forward_length", .uint32(UInt32(intermediateSize))),
            (p + "attention.head_count", .uint32(UInt32(numAttentionHeads))),
            (p + "attention.head_count_kv", .uint32(UInt32(numKeyValueHeads))),
            (p + "rope.freq_base", .float32(ropeTheta)),
            (p + "attention.layer_norm_rms_epsilon", .float32(rmsNormEps)),
            (p + "vocab_size", .uint32(UInt32(vocabSize))),
            (p + "rope.dimension_count", .uint32(UInt32(resolvedHeadDim))),
            (p + "attention.key_length", .uint32(UInt32(resolvedHeadDim))),
            (p + "attention.value_length", .uint32(UInt32(resolvedHeadDim))),
        ]
        if let bosTokenId { entries.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bosTokenId)))) }
        if let eos = eosTokenId?.all.first { entries.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))) }
        if let padTokenId { entries.append(("tokenizer.ggml.padding_token_id", .uint32(UInt32(padTokenId)))) }
        return entries
    }
}

extension LlamaForCausalLM {
    /// Loads a llama- or qwen2-architecture GGUF file (llama.cpp's format), opened once by the
    /// caller: the configuration from its metadata, every tensor dequantised to fp32 under its
    /// Hugging Face name, with llama's Q/K rows un-permuted from llama.cpp's interleaved RoPE layout
    /// back to Hugging Face's rotate-half. The result equals what transformers builds with
    /// `from_pretrained(..., gguf_file=...)`.
    public convenience init(gguf file: GGUFFile) throws {
        try self.init(gguf: file, languageModelHead: true)
    }

    /// Opens and loads the GGUF file at `url` (see ``init(gguf:)-(GGUFFile)``).
    public convenience init(gguf url: URL) throws {
        try self.init(gguf: try GGUFFile(url: url))
    }

    /// ``init(gguf:)-(GGUFFile)``; with `languageModelHead` false, the decoder alone (tied, so no
    /// `output.weight` is read).
    convenience init(gguf file: GGUFFile, languageModelHead: Bool) throws {
        var configuration = try LlamaConfiguration(gguf: file)
        let mapping = configuration
        if !languageModelHead { configuration.tieWordEmbeddings = true }
        try self.init(configuration) { name, shape in
            let tensor: LlamaWeightMapping.NamedTensor
            do { tensor = try LlamaWeightMapping.loadTensor(name, from: file, configuration: mapping) } catch ModelIOError.tensorNotFound {
                throw ModelError.missingWeight(name)
            }
            guard tensor.shape == shape else { throw ModelError.shapeMismatch(name: name, expected: shape, found: tensor.shape) }
            return Tensor(storage: tensor.storage, shape: shape)
        }
    }
}
