import AlignKernels
import AlignTensor

/// Multi-head causal self-attention with grouped-query heads and rotary positions (Llama, Qwen2,
/// Mistral). Parameters `q_proj`, `k_proj`, `v_proj`, `o_proj` as in Hugging Face.
public final class CausalSelfAttention: Module {
    public let qProj: Linear, kProj: Linear, vProj: Linear, oProj: Linear
    public let heads: Int, kvHeads: Int, headDim: Int

    public init(hidden: Int, heads: Int, kvHeads: Int, headDim: Int? = nil, qkvBias: Bool = false,
                generator: inout RandomGenerator) {
        let hd = headDim ?? hidden / heads
        self.heads = heads; self.kvHeads = kvHeads; self.headDim = hd
        qProj = Linear(hidden, heads * hd, bias: qkvBias, generator: &generator)
        kProj = Linear(hidden, kvHeads * hd, bias: qkvBias, generator: &generator)
        vProj = Linear(hidden, kvHeads * hd, bias: qkvBias, generator: &generator)
        oProj = Linear(heads * hd, hidden, bias: false, generator: &generator)
    }

    /// Assembles the block from existing projections.
    public init(qProj: Linear, kProj: Linear, vProj: Linear, oProj: Linear, heads: Int, kvHeads: Int) {
        self.qProj = qProj; self.kProj = kProj; self.vProj = vProj; self.oProj = oProj
        self.heads = heads; self.kvHeads = kvHeads
        self.headDim = qProj.weight.shape[0] / heads
    }

    /// x (batch, seq, hidden) → (batch, seq, hidden). `positions` has one id per token. With
    /// `packing`, x is packed (rows, hidden) without padding and rows attend as the packing says
    /// (separate sequences, or shared prefixes with branches).
    ///
    /// With `cache` (incremental decoding, inference only) x holds just the new tokens
    /// (batch, count, hidden): their keys and values are appended to the cache and their queries
    /// attend over everything it holds; the mask comes from the cache, so `keyMask` and `packing`
    /// must be nil, and the projections run on the decoding kernel (``Linear/callAsFunction(_:decoding:)``).
    public func callAsFunction(_ x: Tensor, rotary: RotaryTable, positions: [Int32], keyMask: Tensor?,
                               packing: SequencePacking? = nil, cache: KVCache.Layer? = nil) -> Tensor {
        let decoding = cache != nil
        // Decoding: the three projections in one parallel pass (one thread hand-off, not three).
        let projected = decoding ? Linear.decoding(x, [qProj, kProj, vProj]) : [qProj(x), kProj(x), vProj(x)]
        let q = projected[0].rotary(rotary, positions: positions, heads: heads)   // (B, T, H·D)
        let k = projected[1].rotary(rotary, positions: positions, heads: kvHeads) // (B, T, Hkv·D)
        let v = projected[2]                                                        // (B, T, Hkv·D)
        let a: Tensor
        if let cache {
            precondition(keyMask == nil && packing == nil, "a cached step takes its mask from the cache")
            a = cache.attention(q: q, k: k, v: v, heads: heads)
        } else if let packing {
            a = Tensor.causalAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, packing: packing)
        } else {
            a = Tensor.causalAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, keyMask: keyMask)
        }
        return oProj(a, decoding: decoding)
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(qProj, "q_proj", prefix: prefix, visit)
        AlignNN.visit(kProj, "k_proj", prefix: prefix, visit)
        AlignNN.visit(vProj, "v_proj", prefix: prefix, visit)
        AlignNN.visit(oProj, "o_proj", prefix: prefix, visit)
    }
}

/// The SwiGLU feed-forward block: down(silu(gate(x)) ⊙ up(x)).
public final class GatedMLP: Module {
    public let gateProj: Linear, upProj: Linear, downProj: Linear

    public init(hidden: Int, intermediate: Int, generator: inout RandomGenerator) {
        gateProj = Linear(hidden, intermediate, bias: false, generator: &generator)
        upProj = Linear(hidden, intermediate, bias: false, generator: &generator)
        downProj = Linear(intermediate, hidden, bias: false, generator: &generator)
    }

    /// Assembles the block from existing projections.
    public init(gateProj: Linear, upProj: Linear, downProj: Linear) {
        self.gateProj = gateProj; self.upProj = upProj; self.downProj = downProj
    }

    /// x (..., hidden) → (..., hidden); `decoding` runs the projections on the decoding kernel
    /// (``Linear/callAsFunction(_:decoding:)``, inference only).
    public func callAsFunction(_ x: Tensor, decoding: Bool = false) -> Tensor {
        guard decoding else { return downProj(Tensor.swiGLU(gate: gateProj(x), up: upProj(x))) }
        let gateUp = Linear.decoding(x, [gateProj, upProj])   // one parallel pass for both
        return downProj(Tensor.swiGLU(gate: gateUp[0], up: gateUp[1]), decoding: true)
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(gateProj, "gate_proj", prefix: prefix, visit)
        AlignNN.visit(upProj, "up_proj", prefix: prefix, visit)
        AlignNN.visit(downProj, "down_proj", prefix: prefix, visit)
    }
}

/// One pre-norm decoder layer: x + attn(norm(x)), then + mlp(norm(x)).
public final class DecoderLayer: Module {
    public let inputLayerNorm: RMSNorm, selfAttention: CausalSelfAttention
    public let postAttentionLayerNorm: RMSNorm, mlp: GatedMLP

    public init(hidden: Int, intermediate: Int, heads: Int, kvHeads: Int, headDim: Int? = nil, qkvBias: Bool = false,
                eps: Float, generator: inout RandomGenerator) {
        inputLayerNorm = RMSNorm(hidden, eps: eps)
        selfAttention = CausalSelfAttention(hidden: hidden, heads: heads, kvHeads: kvHeads, headDim: headDim,
                                            qkvBias: qkvBias, generator: &generator)
        postAttentionLayerNorm = RMSNorm(hidden, eps: eps)
        mlp = GatedMLP(hidden: hidden, intermediate: intermediate, generator: &generator)
    }

    /// Assembles the layer from existing parts.
    public init(inputLayerNorm: RMSNorm, selfAttention: CausalSelfAttention, postAttentionLayerNorm: RMSNorm, mlp: GatedMLP) {
        self.inputLayerNorm = inputLayerNorm; self.selfAttention = selfAttention
        self.postAttentionLayerNorm = postAttentionLayerNorm; self.mlp = mlp
    }

    /// x (batch, seq, hidden) → (batch, seq, hidden), as ``CausalSelfAttention`` describes the
    /// arguments; with `cache`, one incremental decoding step over the new tokens x.
    public func callAsFunction(_ x: Tensor, rotary: RotaryTable, positions: [Int32], keyMask: Tensor?,
                               packing: SequencePacking? = nil, cache: KVCache.Layer? = nil) -> Tensor {
        let h = x + selfAttention(inputLayerNorm(x), rotary: rotary, positions: positions, keyMask: keyMask,
                                  packing: packing, cache: cache)
        return h + mlp(postAttentionLayerNorm(h), decoding: cache != nil)
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(inputLayerNorm, "input_layernorm", prefix: prefix, visit)
        AlignNN.visit(selfAttention, "self_attn", prefix: prefix, visit)
        AlignNN.visit(postAttentionLayerNorm, "post_attention_layernorm", prefix: prefix, visit)
        AlignNN.visit(mlp, "mlp", prefix: prefix, visit)
    }
}
