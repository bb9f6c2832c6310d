import AlignKernels
import AlignModelIO
import AlignNN
import AlignTensor
import Foundation

/// Supplies a model's initial tensors by Hugging Face name and expected shape.
public typealias WeightSource = (_ name: String, _ shape: [Int]) throws -> Tensor

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

    /// Builds the model with every tensor taken from `weights` (by Hugging Face name).
    public init(_ configuration: LlamaConfiguration, weights: WeightSource) throws {
        try configuration.validate()
        self.configuration = configuration
        let c = configuration
        let hd = c.resolvedHeadDim
        func linear(_ name: String, _ out: Int, _ inF: Int, bias: Bool) throws -> Linear {
            Linear(weight: try weights(name + ".weight", [out, inF]), bias: bias ? try weights(name + ".bias", [out]) : nil)
        }
        embedTokens = Embedding(weight: try weights("model.embed_tokens.weight", [c.vocabSize, c.hiddenSize]))
        layers = try (0..<c.numHiddenLayers).map { i in
            let p = "model.layers.\(i)."
            let attention = CausalSelfAttention(
                qProj: try linear(p + "self_attn.q_proj", c.numAttentionHeads * hd, c.hiddenSize, bias: c.attentionBias),
                kProj: try linear(p + "self_attn.k_proj", c.numKeyValueHeads * hd, c.hiddenSize, bias: c.attentionBias),
                vProj: try linear(p + "self_attn.v_proj", c.numKeyValueHeads * hd, c.hiddenSize, bias: c.attentionBias),
                oProj: try linear(p + "self_attn.o_proj", c.hiddenSize, c.numAttentionHeads * hd, bias: false),
                heads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads)
            let mlp = GatedMLP(gateProj: try linear(p + "mlp.gate_proj", c.intermediateSize, c.hiddenSize, bias: false),
                               upProj: try linear(p + "mlp.up_proj", c.intermediateSize, c.hiddenSize, bias: false),
                               downProj: try linear(p + "mlp.down_proj", c.hiddenSize, c.intermediateSize, bias: false))
            return DecoderLayer(
                inputLayerNorm: RMSNorm(weight: try weights(p + "input_layernorm.weight", [c.hiddenSize]), eps: c.rmsNormEps),
                selfAttention: attention,
                postAttentionLayerNorm: RMSNorm(weight: try weights(p + "post_attention_layernorm.weight", [c.hiddenSize]), eps: c.rmsNormEps),
                mlp: mlp)
        }
        norm = RMSNorm(weight: try weights("model.norm.weight", [c.hiddenSize]), eps: c.rmsNormEps)
        lmHead = c.tieWordEmbeddings ? nil : try linear("lm_head", c.vocabSize, c.hiddenSize, bias: false)
        rotary = try c.rotaryTable()
    }

    /// A randomly initialised model: matrices N(0, 0.02²) (transformers' `initializer_range`),
    /// norm scales 1, biases 0.
    public convenience init(_ configuration: LlamaConfiguration, seed: UInt64 = 0) throws {
        var g = RandomGenerator(seed: seed)
        try self.init(configuration) { name, shape in
            if name.hasSuffix("norm.weight") { return Tensor.ones(shape) }
            if name.hasSuffix(".bias") { return Tensor.zeros(shape) }
            return Tensor.randomNormal(shape, std: 0.02, generator: &g)
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

    /// Hidden states of rows packed without padding (rows, hidden): positions and attention follow
    /// `packing` (independent sequences, or shared prefixes whose branches continue their positions).
    public func packedHiddenStates(ids: [Int32], packing: SequencePacking) -> Tensor? {
        precondition(ids.count == packing.rows, "\(ids.count) ids for a packing of \(packing.rows) rows")
        let positions = packing.positions
        var h = embedTokens(ids, shape: [ids.count])
        for layer in layers {
            h = layer(h, rotary: rotary, positions: positions, keyMask: nil, packing: packing)
        }
        return norm(h)
    }

    /// New tokens through the same decoder layers on top of a ``KVCache`` (incremental decoding,
    /// inference only): final hidden states (cache.batch, count, hidden). See
    /// ``CausalLanguageModel/hiddenStates(appending:mask:to:)``.
    public func hiddenStates(appending ids: [Int32], mask: [Float]?, to cache: KVCache) -> Tensor {
        let batch = cache.batch
        precondition(!ids.isEmpty && ids.count % batch == 0, "\(ids.count) ids for \(batch) cached rows")
        let count = ids.count / batch
        // Checked in unchecked builds too: a position past the rotary table would read beyond it.
        if cache.length + count > maxSequenceLength {
            fatalError("\(cache.length) + \(count) tokens exceed the model's \(maxSequenceLength) positions")
        }
        return withNoGrad {
            let positions = cache.beginAppending(ids: ids, mask: mask)
            var h = embedTokens(ids, shape: [batch, count])                  // (B, T, hidden)
            for (i, layer) in layers.enumerated() {
                h = layer(h, rotary: rotary, positions: positions, keyMask: nil, cache: cache.layer(i))
            }
            cache.endAppending()
            return norm(h)
        }
    }

    /// What a ``KVCache`` holds per token: one layer per decoder layer, `num_key_value_heads` ×
    /// `head_dim` keys and values.
    public var keyValueLayout: KVCache.Layout {
        KVCache.Layout(layers: layers.count, kvHeads: configuration.numKeyValueHeads, headDim: configuration.resolvedHeadDim)
    }

    /// The LM head applied to hidden states: logits (..., vocabulary).
    public func logits(fromHidden h: Tensor) -> Tensor {
        h.linear(weight: lmHead?.weight.value ?? embedTokens.weight.value)
    }

    /// The LM head; with `decoding` (inference only) on the decoding kernel
    /// (``Tensor/decodingLinear(weight:bias:)``).
    public func logits(fromHidden h: Tensor, decoding: Bool) -> Tensor {
        decoding ? h.decodingLinear(weight: lmHead?.weight.value ?? embedTokens.weight.value) : logits(fromHidden: h)
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

    /// Longest sequence the model reads: its rotary table's positions.
    public var maxSequenceLength: Int { rotary.maxPositions }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(embedTokens, "model.embed_tokens", prefix: prefix, visit)
        for (i, layer) in layers.enumerated() { AlignNN.visit(layer, "model.layers.\(i)", prefix: prefix, visit) }
        AlignNN.visit(norm, "model.norm", prefix: prefix, visit)
        if let lmHead { AlignNN.visit(lmHead, "lm_head", prefix: prefix, visit) }
    }
}
