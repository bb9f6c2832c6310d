import AlignKernels
import AlignNN
import AlignTensor

/// The keys and values every layer of a ``LlamaForCausalLM`` has computed so far, for
/// incremental decoding: each step then runs only the new tokens through the model.
///
/// Memory is allocated once for `capacity` tokens per row, laid out (batch, capacity, kvHeads,
/// headDim) per layer, and filled by appending; nothing moves while generating, except when
/// finished rows are dropped with ``retainRows(_:)``. Alongside the tensors the cache keeps, per
/// row, which slots hold real tokens (left padding is masked out) and how many real tokens it has
/// seen, which is the rotary position of its next token.
public final class LegacyKVCache {
    /// Token slots per row.
    public let capacity: Int
    /// Rows currently held.
    public private(set) var batch: Int
    /// Slots filled in every row (padding included).
    public private(set) var length: Int

    let kvHeads: Int, headDim: Int
    /// Per layer: (batch, capacity, kvHeads, headDim).
    let keys: [TensorStorage], values: [TensorStorage]
    /// (batch, capacity): 1 where a slot holds a real token, 0 for padding and empty slots.
    let keyMask: TensorStorage
    /// Real tokens seen per row: the next token's rotary position.
    var realTokens: [Int32]

    /// An empty cache for `batch` rows of up to `capacity` tokens each.
    public init(for model: LlamaForCausalLM, batch: Int, capacity: Int) {
        let c = model.configuration
        precondition(batch > 0 && capacity > 0, "a cache needs rows and slots, got \(batch)×\(capacity)")
        self.capacity = capacity
        self.batch = batch
        self.length = 0
        kvHeads = c.numKeyValueHeads
        headDim = c.resolvedHeadDim
        let count = batch * capacity * kvHeads * headDim
        keys = (0..<c.numHiddenLayers).map { _ in TensorStorage(count: count) }
        values = (0..<c.numHiddenLayers).map { _ in TensorStorage(count: count) }
        keyMask = TensorStorage(zeros: batch * capacity)
        realTokens = [Int32](repeating: 0, count: batch)
    }

    /// Floats per cached token of one layer.
    var kvRow: Int { kvHeads * headDim }

    /// Copies the new tokens' keys and values (batch, count, kvHeads·headDim) of `layer` into
    /// slots `length ..< length + count`; ``commit(_:)`` then makes them part of the cache.
    func store(layer: Int, keys k: Tensor, values v: Tensor, count: Int) {
        let block = count * kvRow
        for b in 0..<batch {
            let slot = (b * capacity + length) * kvRow
            (keys[layer].pointer + slot).update(from: k.pointer + b * block, count: block)
            (values[layer].pointer + slot).update(from: v.pointer + b * block, count: block)
        }
    }

    /// Records `count` new tokens per row with their padding mask (batch, count), returning their
    /// rotary positions: each real token takes its row's running count of real tokens, which is
    /// how transformers numbers left-padded rows. Padding slots get position 0 (never attended).
    func reserve(count: Int, mask: [Float]?) -> [Int32] {
        precondition(length + count <= capacity, "\(length) + \(count) tokens exceed the cache's \(capacity) slots")
        var positions = [Int32](repeating: 0, count: batch * count)
        for b in 0..<batch {
            for t in 0..<count {
                let real = mask.map { $0[b * count + t] != 0 } ?? true
                keyMask.pointer[b * capacity + length + t] = real ? 1 : 0
                if real {
                    positions[b * count + t] = realTokens[b]
                    realTokens[b] += 1
                }
            }
        }
        return positions
    }

    /// Makes the `count` tokens stored by every layer part of the cache.
    func commit(_ count: Int) { length += count }

    /// Keeps only the given rows (indices into the current batch, strictly increasing), moving
    /// them to the front in that order: generation drops finished rows so that later steps do no
    /// work for them.
    public func retainRows(_ rows: [Int]) {
        precondition(zip(rows, rows.dropFirst()).allSatisfy { $0 < $1 } && (rows.last ?? 0) < batch,
                     "rows to keep must increase and lie below \(batch): \(rows)")
        for (to, from) in rows.enumerated() where to != from {
            // to < from, so copying forward never overwrites a row still to be moved.
            for layer in 0..<keys.count {
                (keys[layer].pointer + to * capacity * kvRow)
                    .update(from: keys[layer].pointer + from * capacity * kvRow, count: length * kvRow)
                (values[layer].pointer + to * capacity * kvRow)
                    .update(from: values[layer].pointer + from * capacity * kvRow, count: length * kvRow)
            }
            (keyMask.pointer + to * capacity).update(from: keyMask.pointer + from * capacity, count: capacity)
            realTokens[to] = realTokens[from]
        }
        realTokens.removeLast(batch - rows.count)
        batch = rows.count
    }
}

extension LlamaForCausalLM {
    /// Runs new tokens through the model on top of what `cache` holds and appends their keys and
    /// values to it: the prompt batch first (prefill), then one token per row per step.
    ///
    /// The result equals the logits ``logits(ids:batch:seq:attentionMask:)`` gives for the same
    /// positions of the whole sequence, up to float rounding.
    ///
    /// - Parameters:
    ///   - ids: (cache.batch, count) new token ids.
    ///   - mask: optional (cache.batch, count), 0 marking left padding; nil means all real.
    ///   - cache: the rows' keys and values so far; extended by `count` slots.
    ///   - allPositions: return every new position's logits rather than only the last.
    /// - Returns: (batch, vocabulary) logits of each row's last new token, or (batch, count,
    ///   vocabulary) with `allPositions`. Inference only: no autograd graph is recorded.
    public func legacyLogits(appending ids: [Int32], mask: [Float]? = nil, to cache: LegacyKVCache,
                       allPositions: Bool = false) -> Tensor {
        withNoGrad { cachedForward(ids, mask: mask, cache: cache, allPositions: allPositions) }
    }

    private func cachedForward(_ ids: [Int32], mask: [Float]?, cache: LegacyKVCache, allPositions: Bool) -> Tensor {
        let batch = cache.batch
        precondition(ids.count % batch == 0 && !ids.isEmpty, "\(ids.count) ids for \(batch) cached rows")
        let count = ids.count / batch
        if let mask { precondition(mask.count == ids.count, "mask of \(mask.count) for \(ids.count) ids") }
        let past = cache.length
        let positions = cache.reserve(count: count, mask: mask)
        let c = configuration
        let hd = c.resolvedHeadDim, heads = c.numAttentionHeads, kvHeads = c.numKeyValueHeads
        // Prefill runs the BLAS attention kernel over the new block alone (nothing is cached
        // yet), with a contiguous copy of the mask; later steps attend over the cache.
        let blockMask = past == 0 ? Tensor(shape: [batch, count], values: mask ?? [Float](repeating: 1, count: ids.count)) : nil
        var h = embedTokens(ids, shape: [batch, count])
        for (index, layer) in layers.enumerated() {
            let attention = layer.selfAttention
            let x = layer.inputLayerNorm(h)
            let q = decodeLinear(x, attention.qProj).rotary(rotary, positions: positions, heads: heads)
            let k = decodeLinear(x, attention.kProj).rotary(rotary, positions: positions, heads: kvHeads)
            let v = decodeLinear(x, attention.vProj)
            cache.store(layer: index, keys: k, values: v, count: count)
            let a = Tensor.empty([batch, count, heads * hd])
            if let blockMask {
                let lse = TensorStorage(count: batch * heads * count)
                Kernels.attention(q: q.pointer, k: k.pointer, v: v.pointer, keyMask: blockMask.pointer,
                                  shape: AttentionShape(batch: batch, seq: count, heads: heads, kvHeads: kvHeads, headDim: hd),
                                  out: a.pointer, lse: lse.pointer)
            } else {
                Kernels.cachedAttention(
                    q: q.pointer, keys: cache.keys[index].pointer, values: cache.values[index].pointer,
                    keyMask: cache.keyMask.pointer, past: past,
                    shape: CachedAttentionShape(batch: batch, queries: count, heads: heads, kvHeads: kvHeads,
                                                headDim: hd, capacity: cache.capacity),
                    out: a.pointer)
            }
            h = h + decodeLinear(a, attention.oProj)
            let mlp = layer.mlp, y = layer.postAttentionLayerNorm(h)
            h = h + decodeLinear(decodeLinear(y, mlp.gateProj).silu() * decodeLinear(y, mlp.upProj), mlp.downProj)
        }
        cache.commit(count)
        if !allPositions && count > 1 {
            // Only the last position feeds the LM head: the head is the largest matrix product
            // of a decoding step, so the prompt's other positions are not worth it.
            let hidden = c.hiddenSize
            let last = Tensor.empty([batch, 1, hidden])
            for b in 0..<batch {
                (last.pointer + b * hidden).update(from: h.pointer + (b * count + count - 1) * hidden, count: hidden)
            }
            h = last
        }
        let out = decodeLinear(norm(h), weight: lmHead?.weight.value ?? embedTokens.weight.value, bias: nil)
        return allPositions ? out : out.reshaped([batch, c.vocabSize])
    }

    /// `layer(x)` for inference: a few rows (decoding steps) go through
    /// ``Kernels/skinnyLinear(_:rows:k:weight:n:bias:_:)``, which streams the weight once, and
    /// larger blocks (prefill) through sgemm.
    func decodeLinear(_ x: Tensor, _ layer: Linear) -> Tensor {
        decodeLinear(x, weight: layer.weight.value, bias: layer.bias?.value)
    }

    /// x · weightᵀ + bias, by ``Kernels/skinnyLinear(_:rows:k:weight:n:bias:_:)`` for up to 16 rows.
    func decodeLinear(_ x: Tensor, weight w: Tensor, bias: Tensor?) -> Tensor {
        let n = w.shape[0], k = w.shape[1]
        let rows = x.count / k
        if rows > 16 { return x.linear(weight: w, bias: bias) }
        var shape = x.shape
        shape[shape.count - 1] = n
        let y = Tensor.empty(shape)
        Kernels.skinnyLinear(x.pointer, rows: rows, k: k, weight: w.pointer, n: n,
                             bias: bias.map { UnsafePointer($0.pointer) }, y.pointer)
        return y
    }
}
