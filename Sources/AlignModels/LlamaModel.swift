import AlignKernels
import AlignNN
import AlignTensor

/// A Llama-family decoder-only language model (`LlamaForCausalLM` and its Qwen2 / Mistral
/// relatives): token embedding, pre-norm decoder layers with rotary grouped-query attention and
/// SwiGLU MLPs, a final RMSNorm and the LM head (tied to the embedding when configured).
/// Parameter names are Hugging Face's (`model.layers.3.self_attn.q_proj.weight`, `lm_head.weight`).
public final class LlamaForCausalLM: Module {
    public let configuration: LlamaConfiguration
    public let embedTokens: Embedding
    public let layers: [DecoderLayer]
    public let norm: RMSNorm
    /// nil when the LM head is tied to ``embedTokens``.
    public let lmHead: Linear?
    public let rotary: RotaryTable

    /// A randomly initialised model (weights N(0, 0.02²) as transformers' `initializer_range`).
    public init(_ configuration: LlamaConfiguration, seed: UInt64 = 0) throws {
        self.configuration = configuration
        var g = RandomGenerator(seed: seed)
        let c = configuration
        embedTokens = Embedding(c.vocabSize, c.hiddenSize, std: 0.02, generator: &g)
        layers = (0..<c.numHiddenLayers).map { _ in
            DecoderLayer(hidden: c.hiddenSize, intermediate: c.intermediateSize, heads: c.numAttentionHeads,
                         kvHeads: c.numKeyValueHeads, headDim: c.resolvedHeadDim, qkvBias: c.attentionBias,
                         eps: c.rmsNormEps, generator: &g)
        }
        norm = RMSNorm(c.hiddenSize, eps: c.rmsNormEps)
        lmHead = c.tieWordEmbeddings ? nil : Linear(weight: Tensor.randomNormal([c.vocabSize, c.hiddenSize], std: 0.02, generator: &g))
        rotary = try c.rotaryTable()
        for (_, p) in namedParameters() where p.shape.count == 2 && p !== embedTokens.weight && p !== lmHead?.weight {
            p.assign(Tensor.randomNormal(p.shape, std: 0.02, generator: &g))
        }
    }

    /// Final hidden states (batch, seq, hidden) for token ids laid out (batch, seq).
    /// - Parameters:
    ///   - attentionMask: optional (batch, seq) with 1 for tokens and 0 for padding.
    ///   - positions: per-token position ids; by default 0..<seq per row, or counted over the
    ///     unmasked tokens when a mask is given (so left padding does not shift positions).
    public func hiddenStates(ids: [Int32], batch: Int, seq: Int, attentionMask: [Float]? = nil,
                             positions: [Int32]? = nil) -> Tensor {
        precondition(ids.count == batch * seq, "\(ids.count) ids for \(batch)×\(seq)")
        let pos = positions ?? LlamaForCausalLM.defaultPositions(batch: batch, seq: seq, attentionMask: attentionMask)
        let mask = attentionMask.map { Tensor(shape: [batch, seq], values: $0) }
        var h = embedTokens(ids, shape: [batch, seq])
        for layer in layers {
            h = layer(h, rotary: rotary, positions: pos, keyMask: mask)
        }
        return norm(h)
    }

    /// The LM head applied to hidden states: logits (..., vocabulary).
    public func logits(fromHidden h: Tensor) -> Tensor {
        h.linear(weight: lmHead?.weight.value ?? embedTokens.weight.value)
    }

    /// Logits (batch, seq, vocabulary).
    public func callAsFunction(ids: [Int32], batch: Int, seq: Int, attentionMask: [Float]? = nil) -> Tensor {
        logits(fromHidden: hiddenStates(ids: ids, batch: batch, seq: seq, attentionMask: attentionMask))
    }

    /// Position ids as transformers derives them: 0..<seq, or the running count of real tokens
    /// minus one when a mask is given (left-padded rows start at 0 on their first real token).
    public static func defaultPositions(batch: Int, seq: Int, attentionMask: [Float]?) -> [Int32] {
        var pos = [Int32](repeating: 0, count: batch * seq)
        for b in 0..<batch {
            var running: Int32 = -1
            for t in 0..<seq {
                if let m = attentionMask {
                    if m[b * seq + t] != 0 { running += 1 }
                    pos[b * seq + t] = Swift.max(running, 0)
                } else {
                    pos[b * seq + t] = Int32(t)
                }
            }
        }
        return pos
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(embedTokens, "model.embed_tokens", prefix: prefix, visit)
        for (i, layer) in layers.enumerated() { AlignNN.visit(layer, "model.layers.\(i)", prefix: prefix, visit) }
        AlignNN.visit(norm, "model.norm", prefix: prefix, visit)
        if let lmHead { AlignNN.visit(lmHead, "lm_head", prefix: prefix, visit) }
    }
}
