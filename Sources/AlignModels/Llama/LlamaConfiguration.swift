import AlignJSON
import AlignTensor
import Foundation

/// The `config.json` of a Llama-family causal LM (`LlamaForCausalLM`, `Qwen2ForCausalLM`,
/// `MistralForCausalLM`), with Hugging Face's key names and defaults.
public struct LlamaConfiguration: Codable, Sendable, Hashable {
    public var architectures: [String]?
    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int?
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var ropeScaling: RopeScaling?
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool
    public var attentionBias: Bool
    public var bosTokenId: Int?
    public var eosTokenId: TokenIDs?
    public var padTokenId: Int?
    /// `hidden_act`: the MLP gate's activation; only `silu` (Llama, Qwen2, Mistral) is built.
    public var hiddenAct: String?

    /// `rope_scaling`; only the `llama3` type changes frequencies here (others are refused).
    public struct RopeScaling: Codable, Sendable, Hashable {
        public var ropeType: String
        public var factor: Float
        public var lowFreqFactor: Float?
        public var highFreqFactor: Float?
        public var originalMaxPositionEmbeddings: Int?

        enum CodingKeys: String, CodingKey {
            case ropeType = "rope_type", type, factor
            case lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
            case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            ropeType = try c.decodeIfPresent(String.self, forKey: .ropeType) ?? c.decode(String.self, forKey: .type)
            factor = try c.decodeIfPresent(Float.self, forKey: .factor) ?? 1
            lowFreqFactor = try c.decodeIfPresent(Float.self, forKey: .lowFreqFactor)
            highFreqFactor = try c.decodeIfPresent(Float.self, forKey: .highFreqFactor)
            originalMaxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .originalMaxPositionEmbeddings)
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(ropeType, forKey: .ropeType)
            try c.encode(factor, forKey: .factor)
            try c.encodeIfPresent(lowFreqFactor, forKey: .lowFreqFactor)
            try c.encodeIfPresent(highFreqFactor, forKey: .highFreqFactor)
            try c.encodeIfPresent(originalMaxPositionEmbeddings, forKey: .originalMaxPositionEmbeddings)
        }
    }

    /// One id or a list (`eos_token_id` may be either).
    public enum TokenIDs: Codable, Sendable, Hashable {
        case one(Int), many([Int])
        public var all: [Int] { switch self { case let .one(i): return [i]; case let .many(l): return l } }
        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self) { self = .one(i) } else { self = .many(try c.decode([Int].self)) }
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self { case let .one(i): try c.encode(i); case let .many(l): try c.encode(l) }
        }
    }

    enum CodingKeys: String, CodingKey {
        case architectures, modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta", ropeScaling = "rope_scaling"
        case maxPositionEmbeddings = "max_position_embeddings", tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
        case padTokenId = "pad_token_id", ropeParameters = "rope_parameters", hiddenAct = "hidden_act"
    }

    /// transformers ≥ 5 nests θ and the scaling under `rope_parameters`.
    struct RopeParameters: Decodable {
        var ropeTheta: Float?
        var ropeType: String?
        enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta", ropeType = "rope_type" }
    }

    /// A configuration in code (tests, benchmarks, fresh models).
    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                numKeyValueHeads: Int? = nil, rmsNormEps: Float = 1e-5, ropeTheta: Float = 10_000,
                maxPositionEmbeddings: Int = 2048, tieWordEmbeddings: Bool = false, attentionBias: Bool = false,
                modelType: String = "llama") {
        self.architectures = [modelType == "qwen2" ? "Qwen2ForCausalLM" : modelType == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM"]
        self.modelType = modelType
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers; self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads
        self.rmsNormEps = rmsNormEps; self.ropeTheta = ropeTheta; self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = tieWordEmbeddings; self.attentionBias = attentionBias
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        architectures = try c.decodeIfPresent([String].self, forKey: .architectures)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "llama"
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads) ?? numAttentionHeads
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim)
        rmsNormEps = try c.decodeIfPresent(Float.self, forKey: .rmsNormEps) ?? 1e-6
        let nested = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        ropeTheta = try c.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? nested?.ropeTheta ?? 10_000
        ropeScaling = try c.decodeIfPresent(RopeScaling.self, forKey: .ropeScaling)
        if ropeScaling == nil, let nested, let type = nested.ropeType, type != "default" {
            ropeScaling = try c.decode(RopeScaling.self, forKey: .ropeParameters)
        }
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        // Qwen2 always has q/k/v biases; Llama and Mistral follow `attention_bias`.
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? (modelType == "qwen2")
        bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId)
        eosTokenId = try c.decodeIfPresent(TokenIDs.self, forKey: .eosTokenId)
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId)
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(architectures, forKey: .architectures)
        try c.encode(modelType, forKey: .modelType)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
        try c.encodeIfPresent(headDim, forKey: .headDim)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(ropeTheta, forKey: .ropeTheta)
        try c.encodeIfPresent(ropeScaling, forKey: .ropeScaling)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(attentionBias, forKey: .attentionBias)
        try c.encodeIfPresent(bosTokenId, forKey: .bosTokenId)
        try c.encodeIfPresent(eosTokenId, forKey: .eosTokenId)
        try c.encodeIfPresent(padTokenId, forKey: .padTokenId)
    }

    /// Reads `config.json` from a model folder and checks every setting (``validate()``).
    public init(contentsOf url: URL) throws {
        self = try readConfigurationFile(LlamaConfiguration.self, url: url)
        do { try validate() } catch let error as ModelError { throw error.located(in: url) }
    }

    /// Checks sizes, counts and constants before anything is allocated from them: each must be in
    /// a range that a real model has (and that cannot overflow the products taken from it), and the
    /// settings must agree with each other. Throws ``ModelError/invalidSetting(key:message:)``.
    public func validate() throws {
        try requireModelSetting((1...maximumVocabularySize).contains(vocabSize), "vocab_size", "must be in 1...\(maximumVocabularySize), got \(vocabSize)")
        try requireModelSetting((1...maximumWidth).contains(hiddenSize), "hidden_size", "must be in 1...\(maximumWidth), got \(hiddenSize)")
        try requireModelSetting((1...maximumWidth * 8).contains(intermediateSize), "intermediate_size", "must be in 1...\(maximumWidth * 8), got \(intermediateSize)")
        try requireModelSetting((1...maximumLayers).contains(numHiddenLayers), "num_hidden_layers", "must be in 1...\(maximumLayers), got \(numHiddenLayers)")
        try requireModelSetting((1...maximumHeads).contains(numAttentionHeads), "num_attention_heads", "must be in 1...\(maximumHeads), got \(numAttentionHeads)")
        try requireModelSetting((1...numAttentionHeads).contains(numKeyValueHeads) && numAttentionHeads % numKeyValueHeads == 0,
                                "num_key_value_heads", "must divide num_attention_heads (\(numAttentionHeads)), got \(numKeyValueHeads)")
        if let headDim {
            try requireModelSetting((2...4096).contains(headDim) && headDim % 2 == 0, "head_dim", "must be even and in 2...4096, got \(headDim)")
        } else {
            try requireModelSetting(hiddenSize % numAttentionHeads == 0 && (hiddenSize / numAttentionHeads) % 2 == 0, "hidden_size",
                                    "(\(hiddenSize)) must split into num_attention_heads (\(numAttentionHeads)) heads of an even width (or give head_dim)")
        }
        try requireModelSetting(rmsNormEps.isFinite && rmsNormEps > 0, "rms_norm_eps", "must be a finite number > 0, got \(rmsNormEps)")
        try requireModelSetting(ropeTheta.isFinite && ropeTheta > 0, "rope_theta", "must be a finite number > 0, got \(ropeTheta)")
        try requireModelSetting((1...maximumPositions).contains(maxPositionEmbeddings), "max_position_embeddings",
                                "must be in 1...\(maximumPositions), got \(maxPositionEmbeddings)")
        if let s = ropeScaling, s.ropeType != "default" {
            try requireModelSetting(s.ropeType == "llama3", "rope_scaling", "type \"\(s.ropeType)\" is not supported (supported: llama3)")
            try requireModelSetting(s.factor.isFinite && s.factor > 0, "rope_scaling", "factor must be a finite number > 0, got \(s.factor)")
            let low = s.lowFreqFactor ?? 1, high = s.highFreqFactor ?? 4
            try requireModelSetting(low.isFinite && high.isFinite && low > 0 && high > low, "rope_scaling",
                                    "needs 0 < low_freq_factor < high_freq_factor, got \(low) and \(high)")
            try requireModelSetting((s.originalMaxPositionEmbeddings ?? 8192) >= 1, "rope_scaling", "original_max_position_embeddings must be ≥ 1")
        }
        if let hiddenAct {
            try requireModelSetting(["silu", "swish"].contains(hiddenAct), "hidden_act", "\"\(hiddenAct)\" is not supported by \(modelType) models (supported: silu)")
        }
        try requireTokenIDsInVocabulary(bos: bosTokenId, eos: eosTokenId, pad: padTokenId, vocabSize: vocabSize)
    }

    /// Features per attention head.
    public var resolvedHeadDim: Int { headDim ?? hiddenSize / numAttentionHeads }

    /// The rotary table this configuration implies.
    public func rotaryTable(maxPositions: Int? = nil) throws -> RotaryTable {
        var llama3: RotaryTable.Llama3Scaling?
        if let s = ropeScaling, s.ropeType != "default" {
            guard s.ropeType == "llama3" else {
                throw ModelError.unsupported("rope_scaling type \"\(s.ropeType)\" (supported: llama3)")
            }
            llama3 = .init(factor: s.factor, lowFrequencyFactor: s.lowFreqFactor ?? 1, highFrequencyFactor: s.highFreqFactor ?? 4,
                           originalMaxPositions: s.originalMaxPositionEmbeddings ?? 8192)
        }
        // The table costs positions × head_dim floats: beyond `maximumRotaryPositions` it is cut there
        // and longer sequences are refused (``LlamaForCausalLM/maxSequenceLength``).
        return RotaryTable(headDim: resolvedHeadDim, maxPositions: maxPositions ?? min(maxPositionEmbeddings, maximumRotaryPositions),
                           theta: ropeTheta, llama3: llama3)
    }
}
