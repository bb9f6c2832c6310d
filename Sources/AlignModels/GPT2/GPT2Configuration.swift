import Foundation

/// The `config.json` of a Hugging Face `GPT2LMHeadModel`, with its key names (`n_embd`,
/// `n_head`, `layer_norm_epsilon`, ...) and transformers' defaults.
///
/// Floating-point settings are kept as `Double` so that a configuration read from JSON and
/// written back keeps the decimal it was published with (`1e-05`, not its float32 widening).
public struct GPT2Configuration: Codable, Sendable, Hashable {
    /// Class names (`["GPT2LMHeadModel"]`).
    public var architectures: [String]?
    /// `model_type`: `gpt2`.
    public var modelType: String
    /// Size of the token vocabulary (`vocab_size`).
    public var vocabSize: Int
    /// Width of the residual stream (`n_embd`).
    public var nEmbd: Int
    /// Attention heads (`n_head`).
    public var nHead: Int
    /// Decoder blocks (`n_layer`).
    public var nLayer: Int
    /// Learned positions (`n_positions`): the longest sequence the model can read.
    public var nPositions: Int
    /// MLP width (`n_inner`); nil means 4 × `n_embd`, as transformers does.
    public var nInner: Int?
    /// The MLP activation (`activation_function`): `gelu_new`, `gelu`, `relu`, `silu`, ...
    public var activationFunction: String
    /// LayerNorm epsilon (`layer_norm_epsilon`).
    public var layerNormEpsilon: Double
    /// Divide attention scores by √headDim (`scale_attn_weights`).
    public var scaleAttnWeights: Bool
    /// Further divide layer i's scores by i + 1 (`scale_attn_by_inverse_layer_idx`).
    public var scaleAttnByInverseLayerIdx: Bool
    /// Whether the LM head reuses `transformer.wte` (`tie_word_embeddings`, true by default).
    public var tieWordEmbeddings: Bool
    /// Beginning-of-sequence token id.
    public var bosTokenId: Int?
    /// End-of-sequence token id(s).
    public var eosTokenId: LlamaConfiguration.TokenIDs?
    /// Padding token id.
    public var padTokenId: Int?
    /// Standard deviation of the random initialisation (`initializer_range`).
    public var initializerRange: Double

    enum CodingKeys: String, CodingKey {
        case architectures, modelType = "model_type", vocabSize = "vocab_size", nEmbd = "n_embd", nHead = "n_head"
        case nLayer = "n_layer", nPositions = "n_positions", nInner = "n_inner"
        case activationFunction = "activation_function", layerNormEpsilon = "layer_norm_epsilon"
        case scaleAttnWeights = "scale_attn_weights", scaleAttnByInverseLayerIdx = "scale_attn_by_inverse_layer_idx"
        case tieWordEmbeddings = "tie_word_embeddings", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
        case padTokenId = "pad_token_id", initializerRange = "initializer_range"
    }

    /// A configuration in code (tests, fresh models). Defaults are transformers' `GPT2Config()`
    /// defaults except the sizes, which are required.
    public init(vocabSize: Int, nEmbd: Int, nHead: Int, nLayer: Int, nPositions: Int = 1024, nInner: Int? = nil,
                activationFunction: String = "gelu_new", layerNormEpsilon: Double = 1e-5,
                tieWordEmbeddings: Bool = true, bosTokenId: Int? = nil, eosTokenId: Int? = nil, padTokenId: Int? = nil) {
        architectures = ["GPT2LMHeadModel"]
        modelType = "gpt2"
        self.vocabSize = vocabSize; self.nEmbd = nEmbd; self.nHead = nHead; self.nLayer = nLayer
        self.nPositions = nPositions; self.nInner = nInner; self.activationFunction = activationFunction
        self.layerNormEpsilon = layerNormEpsilon
        scaleAttnWeights = true; scaleAttnByInverseLayerIdx = false
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenId = bosTokenId; self.eosTokenId = eosTokenId.map { .one($0) }; self.padTokenId = padTokenId
        initializerRange = 0.02
    }

    /// Decodes `config.json`, filling absent keys with transformers' `GPT2Config` defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        architectures = try c.decodeIfPresent([String].self, forKey: .architectures)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "gpt2"
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? 50257
        nEmbd = try c.decodeIfPresent(Int.self, forKey: .nEmbd) ?? 768
        nHead = try c.decodeIfPresent(Int.self, forKey: .nHead) ?? 12
        nLayer = try c.decodeIfPresent(Int.self, forKey: .nLayer) ?? 12
        nPositions = try c.decodeIfPresent(Int.self, forKey: .nPositions) ?? 1024
        nInner = try c.decodeIfPresent(Int.self, forKey: .nInner)
        activationFunction = try c.decodeIfPresent(String.self, forKey: .activationFunction) ?? "gelu_new"
        layerNormEpsilon = try c.decodeIfPresent(Double.self, forKey: .layerNormEpsilon) ?? 1e-5
        scaleAttnWeights = try c.decodeIfPresent(Bool.self, forKey: .scaleAttnWeights) ?? true
        scaleAttnByInverseLayerIdx = try c.decodeIfPresent(Bool.self, forKey: .scaleAttnByInverseLayerIdx) ?? false
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? true
        bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId)
        eosTokenId = try c.decodeIfPresent(LlamaConfiguration.TokenIDs.self, forKey: .eosTokenId)
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId)
        initializerRange = try c.decodeIfPresent(Double.self, forKey: .initializerRange) ?? 0.02
    }

    /// Encodes with Hugging Face's key names.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(architectures, forKey: .architectures)
        try c.encode(modelType, forKey: .modelType)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(nEmbd, forKey: .nEmbd)
        try c.encode(nHead, forKey: .nHead)
        try c.encode(nLayer, forKey: .nLayer)
        try c.encode(nPositions, forKey: .nPositions)
        // transformers writes `n_inner: null` for the default; keep the key so the file reads the same.
        try c.encode(nInner, forKey: .nInner)
        try c.encode(activationFunction, forKey: .activationFunction)
        try c.encode(layerNormEpsilon, forKey: .layerNormEpsilon)
        try c.encode(scaleAttnWeights, forKey: .scaleAttnWeights)
        try c.encode(scaleAttnByInverseLayerIdx, forKey: .scaleAttnByInverseLayerIdx)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encodeIfPresent(bosTokenId, forKey: .bosTokenId)
        try c.encodeIfPresent(eosTokenId, forKey: .eosTokenId)
        try c.encodeIfPresent(padTokenId, forKey: .padTokenId)
        try c.encode(initializerRange, forKey: .initializerRange)
    }

    /// Reads `config.json` from a model folder and checks every setting (``validate()``).
    public init(contentsOf url: URL) throws {
        self = try readConfigurationFile(GPT2Configuration.self, url: url)
        do { try validate() } catch let error as ModelError { throw error.located(in: url) }
    }

    /// Checks sizes and constants before anything is allocated from them (see
    /// ``LlamaConfiguration/validate()``). Throws ``ModelError/invalidSetting(key:message:)``.
    public func validate() throws {
        try requireModelSetting((1...maximumVocabularySize).contains(vocabSize), "vocab_size", "must be in 1...\(maximumVocabularySize), got \(vocabSize)")
        try requireModelSetting((1...maximumWidth).contains(nEmbd), "n_embd", "must be in 1...\(maximumWidth), got \(nEmbd)")
        try requireModelSetting((1...maximumHeads).contains(nHead) && nEmbd % nHead == 0, "n_head", "must divide n_embd (\(nEmbd)), got \(nHead)")
        try requireModelSetting((1...maximumLayers).contains(nLayer), "n_layer", "must be in 1...\(maximumLayers), got \(nLayer)")
        try requireModelSetting((1...maximumRotaryPositions).contains(nPositions), "n_positions", "must be in 1...\(maximumRotaryPositions), got \(nPositions)")
        if let nInner { try requireModelSetting((1...maximumWidth * 8).contains(nInner), "n_inner", "must be in 1...\(maximumWidth * 8), got \(nInner)") }
        try requireModelSetting(layerNormEpsilon.isFinite && layerNormEpsilon > 0, "layer_norm_epsilon", "must be a finite number > 0, got \(layerNormEpsilon)")
        try requireModelSetting(GPT2Activation(huggingFaceName: activationFunction) != nil, "activation_function",
                                "\"\(activationFunction)\" is not supported (supported: gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, relu, silu)")
        try requireTokenIDsInVocabulary(bos: bosTokenId, eos: eosTokenId, pad: padTokenId, vocabSize: vocabSize)
    }

    /// The MLP width in effect.
    public var resolvedInner: Int { nInner ?? 4 * nEmbd }

    /// Features per attention head.
    public var headDim: Int { nEmbd / nHead }
}
