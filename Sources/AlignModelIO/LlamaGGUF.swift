// Mapping llama- and qwen2-architecture GGUF files to and from Hugging Face tensor names and configs.
import AlignKernels
import Foundation

/// The hyper-parameters of a Llama-family model, as both GGUF (`llama.*` or `qwen2.*` keys) and
/// Hugging Face (`config.json`) express them.
public struct LlamaConfig: Equatable, Sendable {
    /// The GGUF architectures read and written: llama.cpp's `llama` (Llama, Mistral) and `qwen2`.
    public static let architectures: Set<String> = ["llama", "qwen2"]

    /// llama.cpp's architecture name (`general.architecture`): "llama" or "qwen2". It prefixes the
    /// hyper-parameter keys and decides whether Q/K rows are stored permuted (llama only).
    public var architecture: String
    /// Whether q/k/v projections carry biases (always for qwen2; `attention_bias` for llama).
    public var attentionBias: Bool
    /// Width of the residual stream (`hidden_size`, `llama.embedding_length`).
    public var hiddenSize: Int
    /// Number of decoder layers (`num_hidden_layers`, `llama.block_count`).
    public var layerCount: Int
    /// Query heads (`num_attention_heads`, `llama.attention.head_count`).
    public var headCount: Int
    /// Key/value heads (`num_key_value_heads`, `llama.attention.head_count_kv`).
    public var keyValueHeadCount: Int
    /// MLP width (`intermediate_size`, `llama.feed_forward_length`).
    public var intermediateSize: Int
    /// RMSNorm epsilon (`rms_norm_eps`, `llama.attention.layer_norm_rms_epsilon`).
    public var rmsNormEpsilon: Double
    /// RoPE base frequency (`rope_theta`, `llama.rope.freq_base`).
    public var ropeTheta: Double
    /// Vocabulary size (`vocab_size`).
    public var vocabularySize: Int
    /// Context length (`max_position_embeddings`, `llama.context_length`).
    public var maxPositionEmbeddings: Int
    /// Whether `lm_head` shares the embedding matrix (GGUF: no `output.weight` tensor).
    public var tieWordEmbeddings: Bool
    /// Beginning-of-sequence token id, if known.
    public var bosTokenID: Int?
    /// End-of-sequence token id, if known.
    public var eosTokenID: Int?
    /// Padding token id, if known.
    public var padTokenID: Int?

    /// Dimension of one attention head (`head_dim`, `llama.attention.key_length`); usually
    /// `hiddenSize / headCount`, but some models decouple the two.
    public var headDimension: Int

    /// A configuration from explicit values.
    public init(
        hiddenSize: Int, layerCount: Int, headCount: Int, keyValueHeadCount: Int, intermediateSize: Int,
        rmsNormEpsilon: Double, ropeTheta: Double, vocabularySize: Int, maxPositionEmbeddings: Int,
        tieWordEmbeddings: Bool, headDimension: Int? = nil,
        bosTokenID: Int? = nil, eosTokenID: Int? = nil, padTokenID: Int? = nil,
        architecture: String = "llama", attentionBias: Bool? = nil
    ) {
        self.architecture = architecture
        self.attentionBias = attentionBias ?? (architecture == "qwen2")
        self.headDimension = headDimension ?? hiddenSize / max(headCount, 1)
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount
        self.intermediateSize = intermediateSize
        self.rmsNormEpsilon = rmsNormEpsilon
        self.ropeTheta = ropeTheta
        self.vocabularySize = vocabularySize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.padTokenID = padTokenID
    }

    /// Reads the configuration from a llama- or qwen2-architecture GGUF file's metadata.
    public init(gguf file: GGUFFile) throws {
        let path = file.url.path
        guard let architecture = file.architecture, LlamaConfig.architectures.contains(architecture) else {
            throw ModelIOError.unsupported(path: path, reason: "architecture is \(file.architecture ?? "missing"), not llama or qwen2")
        }
        self.architecture = architecture
        let prefix = architecture + "."
        func integer(_ key: String) throws -> Int {
            guard let value = file.metadata[prefix + key]?.intValue else {
                throw ModelIOError.malformed(path: path, reason: "missing or non-integer metadata \(prefix)\(key)")
            }
            return value
        }
        // GGUF stores these as float32; print-and-reparse recovers the decimal the model was
        // published with (1e-05, not 9.999999747378752e-06), as config.json would have it.
        func decimal(_ key: String, default fallback: Double) throws -> Double {
            guard let value = file.metadata[prefix + key] else { return fallback }
            if case .float32(let f) = value { return Double(String(f))! }
            guard let d = value.doubleValue else {
                throw ModelIOError.malformed(path: path, reason: "metadata \(prefix)\(key) is not a number")
            }
            return d
        }
        hiddenSize = try integer("embedding_length")
        layerCount = try integer("block_count")
        headCount = try integer("attention.head_count")
        keyValueHeadCount = file.metadata[prefix + "attention.head_count_kv"]?.intValue ?? headCount
        intermediateSize = try integer("feed_forward_length")
        rmsNormEpsilon = try decimal("attention.layer_norm_rms_epsilon", default: 1e-6)
        ropeTheta = try decimal("rope.freq_base", default: 10000)
        maxPositionEmbeddings = try integer("context_length")
        headDimension = file.metadata[prefix + "attention.key_length"]?.intValue ?? hiddenSize / max(headCount, 1)
        // Rotary embeddings pair up dimensions, so a head must have an even size.
        let explicitHeadDimension = file.metadata[prefix + "attention.key_length"] != nil
        guard headCount > 0, keyValueHeadCount > 0, headCount % keyValueHeadCount == 0,
              headDimension > 0, headDimension % 2 == 0, explicitHeadDimension || hiddenSize % headCount == 0 else {
            throw ModelIOError.malformed(path: path, reason: "inconsistent attention shape: \(headCount) heads, \(keyValueHeadCount) key/value heads, head size \(headDimension), hidden size \(hiddenSize)")
        }
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
        tieWordEmbeddings = file.tensor(named: "output.weight") == nil
        // qwen2 always has q/k/v biases; a llama file has them when its first layer does.
        attentionBias = architecture == "qwen2" || file.tensor(named: "blk.0.attn_q.bias") != nil
        bosTokenID = file.metadata["tokenizer.ggml.bos_token_id"]?.intValue
        eosTokenID = file.metadata["tokenizer.ggml.eos_token_id"]?.intValue
        padTokenID = file.metadata["tokenizer.ggml.padding_token_id"]?.intValue
    }

    /// The Hugging Face model type this architecture loads as: "qwen2" for qwen2, else "llama"
    /// (a Mistral model written as llama.cpp's `llama` comes back as a Llama model, as it does from
    /// transformers' GGUF reader).
    public var huggingFaceModelType: String { architecture == "qwen2" ? "qwen2" : "llama" }

    /// The Hugging Face `config.json` entries for a `LlamaForCausalLM` (or `Qwen2ForCausalLM`).
    public var huggingFaceDictionary: [String: Any] {
        var config: [String: Any] = [
            "architectures": [architecture == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
            "model_type": huggingFaceModelType,
            "hidden_size": hiddenSize,
            "num_hidden_layers": layerCount,
            "num_attention_heads": headCount,
            "num_key_value_heads": keyValueHeadCount,
            "head_dim": headDimension,
            "intermediate_size": intermediateSize,
            "rms_norm_eps": rmsNormEpsilon,
            "rope_theta": ropeTheta,
            "vocab_size": vocabularySize,
            "max_position_embeddings": maxPositionEmbeddings,
            "tie_word_embeddings": tieWordEmbeddings,
            "hidden_act": "silu",
        ]
        if architecture != "qwen2" && attentionBias { config["attention_bias"] = true }
        if let bosTokenID { config["bos_token_id"] = bosTokenID }
        if let eosTokenID { config["eos_token_id"] = eosTokenID }
        if let padTokenID { config["pad_token_id"] = padTokenID }
        return config
    }

    /// `config.json` text (sorted keys, two-space indent).
    public func huggingFaceJSON() throws -> Data {
        try JSONSerialization.data(withJSONObject: huggingFaceDictionary, options: [.prettyPrinted, .sortedKeys])
    }

    /// The `<architecture>.*` metadata entries llama.cpp expects, in the order its converter
    /// writes them, then the token ids this configuration knows.
    public var ggufMetadata: [(key: String, value: GGUFValue)] {
        let p = architecture + "."
        var entries: [(key: String, value: GGUFValue)] = [
            (p + "block_count", .uint32(UInt32(layerCount))),
            (p + "context_length", .uint32(UInt32(maxPositionEmbeddings))),
            (p + "embedding_length", .uint32(UInt32(hiddenSize))),
            (p + "feed_forward_length", .uint32(UInt32(intermediateSize))),
            (p + "attention.head_count", .uint32(UInt32(headCount))),
            (p + "attention.head_count_kv", .uint32(UInt32(keyValueHeadCount))),
            (p + "rope.freq_base", .float32(Float(ropeTheta))),
            (p + "attention.layer_norm_rms_epsilon", .float32(Float(rmsNormEpsilon))),
            (p + "vocab_size", .uint32(UInt32(vocabularySize))),
            (p + "rope.dimension_count", .uint32(UInt32(headDimension))),
            (p + "attention.key_length", .uint32(UInt32(headDimension))),
            (p + "attention.value_length", .uint32(UInt32(headDimension))),
        ]
        if let bosTokenID { entries.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bosTokenID)))) }
        if let eosTokenID { entries.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eosTokenID)))) }
        if let padTokenID { entries.append(("tokenizer.ggml.padding_token_id", .uint32(UInt32(padTokenID)))) }
        return entries
    }
}

/// Conversion between llama.cpp's tensor naming and layout and Hugging Face's for the llama and
/// qwen2 architectures.
///
/// For `llama` (Llama, Mistral) llama.cpp's converter permutes the rows of `q_proj` and `k_proj`
/// (weights and biases) so that each head's rotary pairs are interleaved (GPT-J style: rows 2i,
/// 2i+1 rotate together) instead of split in halves (Hugging Face's rotate-half: rows i and
/// i + d/2); loading undoes that, writing redoes it. `qwen2` files keep Hugging Face's row order
/// (llama.cpp runs them with NeoX-style RoPE), so nothing is permuted either way.
public enum LlamaGGUF {
    /// A tensor with a Hugging Face name.
    public typealias NamedTensor = (name: String, shape: [Int], storage: TensorStorage)

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

    /// Reorders the rows of a Q or K projection between the two RoPE layouts. Rows are viewed as
    /// `[heads, 2, headDim/2]` (Hugging Face) or `[heads, headDim/2, 2]` (llama.cpp);
    /// `toGGUF` selects the direction. Returns a new storage.
    public static func permuteRotaryRows(
        _ storage: TensorStorage, rows: Int, heads: Int, toGGUF: Bool
    ) -> TensorStorage {
        // `rows > 0` first: `storage.count % rows` would otherwise divide by zero.
        precondition(heads > 0 && rows > 0 && rows % (2 * heads) == 0 && storage.count % rows == 0, "rows \(rows) do not split into \(heads) heads of even size")
        let columns = storage.count / rows
        let half = rows / heads / 2
        let result = TensorStorage(count: storage.count)
        let source = storage.pointer
        let destination = result.pointer
        for head in 0..<heads {
            let base = head * 2 * half
            for i in 0..<half {
                for j in 0..<2 {
                    let hfRow = base + j * half + i
                    let ggufRow = base + 2 * i + j
                    let (from, to) = toGGUF ? (hfRow, ggufRow) : (ggufRow, hfRow)
                    (destination + to * columns).update(from: source + from * columns, count: columns)
                }
            }
        }
        withExtendedLifetime(storage) {}
        return result
    }

    /// The number of heads whose rows `ggufName` stores permuted, or nil when it is stored as
    /// Hugging Face has it: Q and K weights and biases of the llama architecture only.
    static func permutedHeads(_ ggufName: String, config: LlamaConfig) -> Int? {
        guard config.architecture == "llama" else { return nil }
        if ggufName.hasSuffix(".attn_q.weight") || ggufName.hasSuffix(".attn_q.bias") { return config.headCount }
        if ggufName.hasSuffix(".attn_k.weight") || ggufName.hasSuffix(".attn_k.bias") { return config.keyValueHeadCount }
        return nil
    }

    /// Loads one tensor by its Hugging Face name, dequantised to fp32 and (for llama's Q and K)
    /// un-permuted.
    public static func loadTensor(_ huggingFaceName: String, from file: GGUFFile, config: LlamaConfig) throws -> NamedTensor {
        guard let ggufName = ggufName(forHuggingFaceName: huggingFaceName), file.tensor(named: ggufName) != nil else {
            throw ModelIOError.tensorNotFound(path: file.url.path, name: huggingFaceName)
        }
        let (shape, loaded) = try file.loadFloat32(ggufName)
        var storage = loaded
        if let heads = permutedHeads(ggufName, config: config) {
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
    /// with llama's Q/K un-permuted. Tensors without a Hugging Face counterpart are skipped; a tied model has no
    /// `lm_head.weight` (see ``LlamaConfig/tieWordEmbeddings``).
    public static func loadHuggingFaceTensors(from file: GGUFFile) throws -> (config: LlamaConfig, tensors: [NamedTensor]) {
        let config = try LlamaConfig(gguf: file)
        var tensors: [NamedTensor] = []
        for info in file.tensors {
            guard let name = huggingFaceName(forGGUFName: info.name) else { continue }
            tensors.append(try loadTensor(name, from: file, config: config))
        }
        return (config, tensors)
    }

    /// Writes Hugging Face Llama-family tensors as a GGUF file of `config.architecture` (llama or
    /// qwen2): names mapped, llama's Q/K rows permuted into llama.cpp's layout, matrices stored as
    /// `type` (`.f32` or `.f16`) and 1-D tensors (norms, biases) kept in F32 as llama.cpp does.
    /// `extraMetadata` (tokenizer entries, say) follows the architecture keys and wins over a
    /// configuration entry of the same key.
    public static func write(
        huggingFaceTensors tensors: [NamedTensor], config: LlamaConfig, name: String? = nil,
        extraMetadata: [(key: String, value: GGUFValue)] = [], type: GGMLType = .f16, to url: URL
    ) throws {
        guard LlamaConfig.architectures.contains(config.architecture) else {
            throw ModelIOError.invalidArgument(path: url.path, reason: "GGUF architecture \"\(config.architecture)\" (supported: llama, qwen2)")
        }
        var metadata: [(key: String, value: GGUFValue)] = [("general.architecture", .string(config.architecture))]
        if let name { metadata.append(("general.name", .string(name))) }
        metadata += config.ggufMetadata.filter { entry in !extraMetadata.contains { $0.key == entry.key } }
        metadata.append(("general.file_type", .uint32(type == .f16 ? 1 : 0)))
        metadata += extraMetadata
        var output: [GGUFWriter.Tensor] = []
        for tensor in tensors {
            guard let ggufName = ggufName(forHuggingFaceName: tensor.name) else {
                throw ModelIOError.invalidArgument(path: url.path, reason: "\"\(tensor.name)\" is not a \(config.architecture) tensor name")
            }
            if config.tieWordEmbeddings && ggufName == "output.weight" { continue }
            var storage = tensor.storage
            if let heads = permutedHeads(ggufName, config: config) {
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
