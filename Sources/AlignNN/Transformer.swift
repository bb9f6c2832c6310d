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
    public func callAsFunction(_ x: Tensor, rotary: RotaryTable, positions: [Int32], keyMask: Tensor?,
                               packing: SequencePacking? = nil) -> Tensor {
        let q = qProj(x).rotary(rotary, positions: positions, heads: heads)
        let k = kProj(x).rotary(rotary, positions: positions, heads: kvHeads)
        let v = vProj(x)
        let a = packing.map { Tensor.causalAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, packing: $0) }
            ?? Tensor.causalAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, keyMask: keyMask)
        return oProj(a)
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

    public func callAsFunction(_ x: Tensor) -> Tensor {
        downProj(Tensor.swiGLU(gate: gateProj(x), up: upProj(x)))
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

    public func callAsFunction(_ x: Tensor, rotary: RotaryTable, positions: [Int32], keyMask: Tensor?,
                               packing: SequencePacking? = nil) -> Tensor {
        let h = x + selfAttention(inputLayerNorm(x), rotary: rotary, positions: positions, keyMask: keyMask,
                                  packing: packing)
        return h + mlp(postAttentionLayerNorm(h))
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(inputLayerNorm, "input_layernorm", prefix: prefix, visit)
        AlignNN.visit(selfAttention, "self_attn", prefix: prefix, visit)
        AlignNN.visit(postAttentionLayerNorm, "post_attention_layernorm", prefix: prefix, visit)
        AlignNN.visit(mlp, "mlp", prefix: prefix, visit)
    }
}
