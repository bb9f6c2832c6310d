import AlignKernels
import AlignModelIO
import AlignNN
import AlignTensor
import Foundation

/// The MLP non-linearity a GPT-2 `activation_function` names.
public enum GPT2Activation: Sendable, Hashable {
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the same formula).
    case geluTanh
    /// The exact erf form (`gelu`).
    case geluErf
    /// max(x, 0).
    case relu
    /// x·σ(x).
    case silu

    /// Maps transformers' `ACT2FN` name; nil for names Align does not implement.
    public init?(huggingFaceName name: String) {
        switch name {
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "gelu": self = .geluErf
        case "relu": self = .relu
        case "silu", "swish": self = .silu
        default: return nil
        }
    }

    /// Applies the activation.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .geluTanh: return x.gelu(tanhApproximation: true)
        case .geluErf: return x.gelu(tanhApproximation: false)
        case .relu: return x.relu()
        case .silu: return x.silu()
        }
    }
}

/// GPT-2's attention: one fused projection `c_attn` whose output holds q, k and v side by side
/// (each `n_embd` wide), causal multi-head attention, and the output projection `c_proj`.
public final class GPT2Attention: Module {
    /// Fused q/k/v projection, (3·hidden, hidden) in `Linear`'s layout.
    public let cAttn: Linear
    /// Output projection, (hidden, hidden).
    public let cProj: Linear
    /// Attention heads (GPT-2 has no grouped-query heads: keys and values have as many).
    public let heads: Int
    /// Multiplies the scores (1/√headDim, and 1/(layer+1) when configured).
    public let scale: Float

    /// Assembles the block from existing projections.
    public init(cAttn: Linear, cProj: Linear, heads: Int, scale: Float) {
        self.cAttn = cAttn; self.cProj = cProj; self.heads = heads; self.scale = scale
    }

    /// x (batch, seq, hidden) → (batch, seq, hidden). With `cache` (incremental decoding,
    /// inference only) x holds just the new tokens: their keys and values are appended to the
    /// cache and their queries attend over all it holds (its mask replaces `keyMask`, which must
    /// be nil).
    public func callAsFunction(_ x: Tensor, keyMask: Tensor?, cache: KVCache.Layer? = nil) -> Tensor {
        let hidden = cProj.weight.shape[0], decoding = cache != nil
        let qkv = cAttn(x, decoding: decoding)                                   // (B, T, 3·hidden)
        let q = qkv.slice(axis: -1, start: 0, length: hidden)
        let k = qkv.slice(axis: -1, start: hidden, length: hidden)
        let v = qkv.slice(axis: -1, start: 2 * hidden, length: hidden)
        let a: Tensor
        if let cache {
            precondition(keyMask == nil, "a cached step takes its mask from the cache")
            a = cache.attention(q: q, k: k, v: v, heads: heads, scale: scale)
        } else {
            a = Tensor.causalAttention(q: q, k: k, v: v, heads: heads, kvHeads: heads, keyMask: keyMask, scale: scale)
        }
        return cProj(a, decoding: decoding)
    }

    /// Visits `c_attn.*` and `c_proj.*`.
    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(cAttn, "c_attn", prefix: prefix, visit)
        AlignNN.visit(cProj, "c_proj", prefix: prefix, visit)
    }
}

/// GPT-2's feed-forward block: c_proj(act(c_fc(x))).
public final class GPT2MLP: Module {
    /// Up projection (inner, hidden) and down projection (hidden, inner), `Linear` layout.
    public let cFc: Linear, cProj: Linear
    /// The non-linearity between them.
    public let activation: GPT2Activation

    /// Assembles the block from existing projections.
    public init(cFc: Linear, cProj: Linear, activation: GPT2Activation) {
        self.cFc = cFc; self.cProj = cProj; self.activation = activation
    }

    /// x (..., hidden) → (..., hidden); `decoding` runs the projections on the decoding kernel
    /// (inference only).
    public func callAsFunction(_ x: Tensor, decoding: Bool = false) -> Tensor {
        cProj(activation(cFc(x, decoding: decoding)), decoding: decoding)
    }

    /// Visits `c_fc.*` and `c_proj.*`.
    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(cFc, "c_fc", prefix: prefix, visit)
        AlignNN.visit(cProj, "c_proj", prefix: prefix, visit)
    }
}

/// One pre-LayerNorm GPT-2 block: x + attn(ln_1(x)), then + mlp(ln_2(x)).
public final class GPT2Block: Module {
    /// `ln_1`, `attn`, `ln_2` and `mlp`, in the order they run.
    public let ln1: LayerNorm, attn: GPT2Attention, ln2: LayerNorm, mlp: GPT2MLP

    /// Assembles the block from existing parts.
    public init(ln1: LayerNorm, attn: GPT2Attention, ln2: LayerNorm, mlp: GPT2MLP) {
        self.ln1 = ln1; self.attn = attn; self.ln2 = ln2; self.mlp = mlp
    }

    /// x (batch, seq, hidden) → (batch, seq, hidden); `keyMask` (batch, seq) marks real tokens.
    /// With `cache`, one incremental decoding step over the new tokens x (see ``GPT2Attention``).
    public func callAsFunction(_ x: Tensor, keyMask: Tensor?, cache: KVCache.Layer? = nil) -> Tensor {
        let h = x + attn(ln1(x), keyMask: keyMask, cache: cache)
        return h + mlp(ln2(h), decoding: cache != nil)
    }

    /// Visits `ln_1.*`, `attn.*`, `ln_2.*` and `mlp.*`.
    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(ln1, "ln_1", prefix: prefix, visit)
        AlignNN.visit(attn, "attn", prefix: prefix, visit)
        AlignNN.visit(ln2, "ln_2", prefix: prefix, visit)
        AlignNN.visit(mlp, "mlp", prefix: prefix, visit)
    }
}

/// Hugging Face's `GPT2LMHeadModel`: token embeddings `transformer.wte` plus learned absolute
/// position embeddings `transformer.wpe`, pre-LayerNorm blocks with fused-QKV causal attention
/// and a GELU MLP, a final `transformer.ln_f`, and the LM head (tied to `wte` unless configured).
///
/// Checkpoints store GPT-2's projections as `Conv1D` weights laid out (in, out). This class keeps
/// them in ``Linear``'s (out, in) layout, transposing on load; ``namedParameters()`` therefore
/// reports Hugging Face *names* with `Linear` *shapes*, and ``huggingFaceTensors()`` transposes
/// back, so a load–save round trip reproduces the checkpoint's names and bytes.
///
/// Dropout (`attn_pdrop`, `resid_pdrop`, `embd_pdrop`) is not applied: the model always runs as
/// transformers does in `eval()` mode.
public final class GPT2LMHeadModel: Module {
    /// The configuration the model was built from.
    public let configuration: GPT2Configuration
    /// Token embeddings (vocabulary, hidden), `transformer.wte`.
    public let wte: Embedding
    /// Learned absolute position embeddings (n_positions, hidden), `transformer.wpe`.
    public let wpe: Embedding
    /// The decoder blocks, `transformer.h.N`.
    public let blocks: [GPT2Block]
    /// Final LayerNorm, `transformer.ln_f`.
    public let lnF: LayerNorm
    /// nil when the LM head is tied to ``wte`` (GPT-2's default).
    public let lmHead: Linear?

    /// Builds the model with every tensor taken from `weights`, by Hugging Face name and in
    /// Hugging Face's *on-disk* shape: Conv1D weights are requested as (in, out) and transposed
    /// here into `Linear`'s layout.
    public init(_ configuration: GPT2Configuration, weights: WeightSource) throws {
        try configuration.validate()
        self.configuration = configuration
        let c = configuration
        // validate() has checked the activation name and the head split.
        let activation = GPT2Activation(huggingFaceName: c.activationFunction)!
        let hidden = c.nEmbd, inner = c.resolvedInner
        /// A Conv1D (in, out) checkpoint tensor as a Linear with weight (out, in).
        func conv1D(_ name: String, in inF: Int, out outF: Int) throws -> Linear {
            let stored = try weights(name + ".weight", [inF, outF])
            let weight = withNoGrad { stored.transposed().copy() }
            return Linear(weight: weight, bias: try weights(name + ".bias", [outF]))
        }
        func layerNorm(_ name: String) throws -> LayerNorm {
            LayerNorm(weight: try weights(name + ".weight", [hidden]), bias: try weights(name + ".bias", [hidden]),
                      eps: Float(c.layerNormEpsilon))
        }
        wte = Embedding(weight: try weights("transformer.wte.weight", [c.vocabSize, hidden]))
        wpe = Embedding(weight: try weights("transformer.wpe.weight", [c.nPositions, hidden]))
        blocks = try (0..<c.nLayer).map { i in
            let p = "transformer.h.\(i)."
            var scale: Float = c.scaleAttnWeights ? 1 / Float(c.headDim).squareRoot() : 1
            if c.scaleAttnByInverseLayerIdx { scale /= Float(i + 1) }
            let attn = GPT2Attention(cAttn: try conv1D(p + "attn.c_attn", in: hidden, out: 3 * hidden),
                                     cProj: try conv1D(p + "attn.c_proj", in: hidden, out: hidden),
                                     heads: c.nHead, scale: scale)
            let mlp = GPT2MLP(cFc: try conv1D(p + "mlp.c_fc", in: hidden, out: inner),
                              cProj: try conv1D(p + "mlp.c_proj", in: inner, out: hidden), activation: activation)
            return GPT2Block(ln1: try layerNorm(p + "ln_1"), attn: attn, ln2: try layerNorm(p + "ln_2"), mlp: mlp)
        }
        lnF = try layerNorm("transformer.ln_f")
        lmHead = c.tieWordEmbeddings ? nil : Linear(weight: try weights("lm_head.weight", [c.vocabSize, hidden]))
    }

    /// A randomly initialised model as transformers initialises GPT-2: matrices and embeddings
    /// N(0, initializer_range²), LayerNorm scales 1, biases 0. (transformers additionally shrinks
    /// the residual output projections by 1/√(2·n_layer); so does this.)
    public convenience init(_ configuration: GPT2Configuration, seed: UInt64 = 0) throws {
        var g = RandomGenerator(seed: seed)
        let std = Float(configuration.initializerRange)
        let residualStd = std / Float(2 * configuration.nLayer).squareRoot()
        try self.init(configuration) { name, shape in
            if name.contains(".ln_") { return name.hasSuffix(".weight") ? Tensor.ones(shape) : Tensor.zeros(shape) }
            if name.hasSuffix(".bias") { return Tensor.zeros(shape) }
            let isResidual = name.hasSuffix("c_proj.weight")
            return Tensor.randomNormal(shape, std: isResidual ? residualStd : std, generator: &g)
        }
    }

    /// Final hidden states (batch, seq, hidden) for token ids laid out (batch, seq).
    /// - Parameters:
    ///   - attentionMask: optional (batch, seq) with 1 for tokens and 0 for padding keys.
    ///   - positions: position ids, one per token; by default 0..<seq for every row *whatever the
    ///     mask*, because that is what transformers 5.23's `GPT2Model.forward` does (it builds
    ///     `arange(seq)` and does not look at the mask). Right padding is therefore exact; with
    ///     left padding pass positions explicitly (as `generate()` does) if they should start at 0.
    public func hiddenStates(ids: [Int32], batch: Int, seq: Int, attentionMask: [Float]? = nil,
                             positions: [Int32]? = nil) -> Tensor {
        precondition(ids.count == batch * seq, "\(ids.count) ids for \(batch)×\(seq)")
        // Checked in unchecked builds too (callers refuse longer sequences first).
        if seq > configuration.nPositions { fatalError("sequence of \(seq) tokens exceeds n_positions \(configuration.nPositions)") }
        let pos = positions ?? (0..<batch).flatMap { _ in (0..<seq).map(Int32.init) }
        precondition(pos.count == batch * seq, "\(pos.count) positions for \(batch)×\(seq)")
        let mask = attentionMask.map { Tensor(shape: [batch, seq], values: $0) }
        var h = wte(ids, shape: [batch, seq]) + wpe(pos, shape: [batch, seq])
        for block in blocks { h = block(h, keyMask: mask) }
        return lnF(h)
    }

    /// New tokens through the same blocks on top of a ``KVCache`` (incremental decoding,
    /// inference only): final hidden states (cache.batch, count, hidden). Positions count each
    /// row's real tokens, as `generate()` passes them. See
    /// ``CausalLanguageModel/hiddenStates(appending:mask:to:)``.
    public func hiddenStates(appending ids: [Int32], mask: [Float]?, to cache: KVCache) -> Tensor {
        let batch = cache.batch
        precondition(!ids.isEmpty && ids.count % batch == 0, "\(ids.count) ids for \(batch) cached rows")
        let count = ids.count / batch
        // Checked in unchecked builds too: a position past wpe would read beyond it.
        if cache.length + count > configuration.nPositions {
            fatalError("\(cache.length) + \(count) tokens exceed n_positions \(configuration.nPositions)")
        }
        return withNoGrad {
            let positions = cache.beginAppending(ids: ids, mask: mask)
            var h = wte(ids, shape: [batch, count]) + wpe(positions, shape: [batch, count])   // (B, T, hidden)
            for (i, block) in blocks.enumerated() { h = block(h, keyMask: nil, cache: cache.layer(i)) }
            cache.endAppending()
            return lnF(h)
        }
    }

    /// What a ``KVCache`` holds per token: one layer per block, `n_head` × `n_embd / n_head`
    /// keys and values.
    public var keyValueLayout: KVCache.Layout {
        KVCache.Layout(layers: blocks.count, kvHeads: configuration.nHead, headDim: configuration.headDim)
    }

    /// The LM head applied to hidden states: logits (..., vocabulary).
    public func logits(fromHidden h: Tensor) -> Tensor {
        h.linear(weight: lmHead?.weight.value ?? wte.weight.value)
    }

    /// The LM head; with `decoding` (inference only) on the decoding kernel.
    public func logits(fromHidden h: Tensor, decoding: Bool) -> Tensor {
        decoding ? h.decodingLinear(weight: lmHead?.weight.value ?? wte.weight.value) : logits(fromHidden: h)
    }

    /// Logits (batch, seq, vocabulary).
    public func callAsFunction(ids: [Int32], batch: Int, seq: Int, attentionMask: [Float]? = nil) -> Tensor {
        logits(fromHidden: hiddenStates(ids: ids, batch: batch, seq: seq, attentionMask: attentionMask))
    }

    /// Visits every parameter under its Hugging Face name (Conv1D weights in `Linear` shape).
    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(wte, "transformer.wte", prefix: prefix, visit)
        AlignNN.visit(wpe, "transformer.wpe", prefix: prefix, visit)
        for (i, block) in blocks.enumerated() { AlignNN.visit(block, "transformer.h.\(i)", prefix: prefix, visit) }
        AlignNN.visit(lnF, "transformer.ln_f", prefix: prefix, visit)
        if let lmHead { AlignNN.visit(lmHead, "lm_head", prefix: prefix, visit) }
    }
}

extension GPT2LMHeadModel: CausalLanguageModel {
    /// `vocab_size`.
    public var vocabularySize: Int { configuration.vocabSize }
    /// `n_embd`.
    public var hiddenSize: Int { configuration.nEmbd }
    /// `n_positions`: the learned position table's length.
    public var maxSequenceLength: Int { configuration.nPositions }
}
