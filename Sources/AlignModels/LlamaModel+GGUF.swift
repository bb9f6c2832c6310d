import AlignKernels
import AlignModelIO
import AlignTensor
import Foundation

extension LlamaConfiguration {
    /// The configuration a llama- or qwen2-architecture GGUF file describes (its `llama.*` or
    /// `qwen2.*` metadata, read by ``LlamaConfig/init(gguf:)``): a qwen2 file gives model type
    /// "qwen2" with attention biases. RoPE scaling that GGUF expresses (`<arch>.rope.scaling.*` or
    /// a `rope_freqs.weight` factor table) is refused rather than silently ignored.
    public init(gguf file: GGUFFile) throws {
        let c = try LlamaConfig(gguf: file)
        let prefix = c.architecture + "."
        if let type = file.metadata[prefix + "rope.scaling.type"]?.stringValue, type != "none" {
            throw ModelError.unsupported("\(file.url.lastPathComponent): GGUF RoPE scaling \"\(type)\"")
        }
        if file.tensor(named: "rope_freqs.weight") != nil {
            throw ModelError.unsupported("\(file.url.lastPathComponent): GGUF rope_freqs (llama3-style frequency factors)")
        }
        self.init(vocabSize: c.vocabularySize, hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize,
                  numHiddenLayers: c.layerCount, numAttentionHeads: c.headCount, numKeyValueHeads: c.keyValueHeadCount,
                  rmsNormEps: Float(c.rmsNormEpsilon), ropeTheta: Float(c.ropeTheta),
                  maxPositionEmbeddings: c.maxPositionEmbeddings, tieWordEmbeddings: c.tieWordEmbeddings,
                  attentionBias: c.attentionBias, modelType: c.huggingFaceModelType)
        // GGUF may give the head width explicitly (`attention.key_length`); keep it only when it
        // differs from hidden / heads, as config.json would.
        if let keyLength = file.metadata[prefix + "attention.key_length"]?.intValue, keyLength != c.headDimension {
            headDim = keyLength
        }
        bosTokenId = c.bosTokenID
        eosTokenId = c.eosTokenID.map { .one($0) }
        padTokenId = c.padTokenID
    }
}

extension LlamaForCausalLM {
    /// Loads a llama- or qwen2-architecture GGUF file (llama.cpp's format): the configuration from
    /// its metadata, every tensor dequantised to fp32 under its Hugging Face name, with llama's Q/K
    /// rows un-permuted from llama.cpp's interleaved RoPE layout back to Hugging Face's rotate-half.
    /// The result equals what transformers builds with `from_pretrained(..., gguf_file=...)`.
    public convenience init(gguf url: URL) throws {
        let file = try GGUFFile(url: url)
        let configuration = try LlamaConfiguration(gguf: file)
        let mapping = try LlamaConfig(gguf: file)
        try self.init(configuration) { name, shape in
            let tensor: LlamaGGUF.NamedTensor
            do { tensor = try LlamaGGUF.loadTensor(name, from: file, config: mapping) } catch ModelIOError.tensorNotFound {
                throw ModelError.missingWeight(name)
            }
            guard tensor.shape == shape else { throw ModelError.shapeMismatch(name: name, expected: shape, found: tensor.shape) }
            return Tensor(storage: tensor.storage, shape: shape)
        }
    }
}
