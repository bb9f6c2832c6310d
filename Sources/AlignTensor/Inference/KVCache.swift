import AlignKernels

/// The keys and values every attention layer of a model has computed so far, for incremental
/// decoding: each step then runs only the new tokens through the model's layers.
///
/// The cache belongs to no architecture. A model's forward opens a step with
/// ``beginAppending(ids:mask:)`` (which hands out the new tokens' positions), passes
/// ``layer(_:)`` to each attention layer, whose ``Layer/attention(q:k:v:heads:scale:)`` stores the
/// layer's new keys and values and attends over everything cached, and closes the step with
/// ``endAppending()``.
///
/// Memory is allocated once for `capacity` tokens per row, laid out (batch, capacity, kvHeads,
/// headDim) per layer, and filled by appending; nothing moves while generating, except when
/// finished rows are dropped with ``retainRows(_:)``. Alongside the tensors the cache keeps, per
/// row, which slots hold real tokens (left padding is masked out), the ids and positions of every
/// slot (``history``: a model without a cached forward recomputes from them) and how many real
/// tokens it has seen, which is the position of its next token. Inference only: nothing here
/// records a graph.
public final class KVCache {
    /// What a model's attention layers store per token.
    public struct Layout: Sendable, Hashable {
        /// Attention layers, key/value heads per layer and features per head.
        public var layers: Int, kvHeads: Int, headDim: Int

        /// A layout of `layers` layers of `kvHeads` × `headDim` keys (and as many values) per token.
        public init(layers: Int, kvHeads: Int, headDim: Int) {
            self.layers = layers; self.kvHeads = kvHeads; self.headDim = headDim
        }

        /// No cached keys or values: only the token history is kept (for models that decode by
        /// running their whole sequence again).
        public static let historyOnly = Layout(layers: 0, kvHeads: 0, headDim: 0)
    }

    /// Layers and widths held.
    public let layout: Layout
    /// Token slots per row.
    public let capacity: Int
    /// Rows currently held.
    public private(set) var batch: Int
    /// Slots filled in every row (padding included).
    public private(set) var length: Int

    /// Per layer: (batch, capacity, kvHeads, headDim).
    let keys: [TensorStorage], values: [TensorStorage]
    /// (batch, capacity): 1 where a slot holds a real token, 0 for padding and empty slots.
    let keyMask: TensorStorage
    /// (batch, capacity): each slot's token id and position.
    var slotIDs: [Int32], slotPositions: [Int32]
    /// Real tokens seen per row: the next token's position.
    var realTokens: [Int32]
    /// New tokens per row of the open step; nil between steps.
    private(set) var pending: Int?
    /// (batch, pending) mask of the open step when it is the first (nothing cached before it).
    private var blockMask: Tensor?

    /// An empty cache for `batch` rows of up to `capacity` tokens each.
    public init(layout: Layout, batch: Int, capacity: Int) {
        precondition(batch > 0 && capacity > 0, "a cache needs rows and slots, got \(batch)×\(capacity)")
        precondition(layout.layers == 0 || (layout.layers > 0 && layout.kvHeads > 0 && layout.headDim > 0),
                     "invalid cache layout \(layout)")
        self.layout = layout
        self.capacity = capacity
        self.batch = batch
        self.length = 0
        let count = batch * capacity * layout.kvHeads * layout.headDim
        keys = (0..<layout.layers).map { _ in TensorStorage(count: count) }
        values = (0..<layout.layers).map { _ in TensorStorage(count: count) }
        keyMask = TensorStorage(zeros: batch * capacity)
        slotIDs = [Int32](repeating: 0, count: batch * capacity)
        slotPositions = [Int32](repeating: 0, count: batch * capacity)
        realTokens = [Int32](repeating: 0, count: batch)
    }

    /// A cache whose row i is a copy of `source`'s row `rows[i]` (rows may repeat), with the same
    /// capacity: generation prefills each distinct prompt once and then gives every sample of it
    /// its own copy to continue.
    public convenience init(copying rows: [Int], of source: KVCache) {
        precondition(source.pending == nil, "a cache cannot be copied during a step")
        precondition(!rows.isEmpty && rows.allSatisfy { (0..<source.batch).contains($0) }, "rows to copy must lie below \(source.batch)")
        self.init(layout: source.layout, batch: rows.count, capacity: source.capacity)
        length = source.length
        for (to, from) in rows.enumerated() { copyRow(from, of: source, to: to) }
    }

    /// Copies row `from` of `source` (possibly this cache) into row `to`: its filled slots' keys,
    /// values, ids and positions, its mask and its count of real tokens. `length` must already be
    /// the source's.
    private func copyRow(_ from: Int, of source: KVCache, to: Int) {
        for layer in 0..<keys.count {
            (keys[layer].pointer + to * capacity * kvRow)
                .update(from: source.keys[layer].pointer + from * capacity * kvRow, count: length * kvRow)
            (values[layer].pointer + to * capacity * kvRow)
                .update(from: source.values[layer].pointer + from * capacity * kvRow, count: length * kvRow)
        }
        (keyMask.pointer + to * capacity).update(from: source.keyMask.pointer + from * capacity, count: capacity)
        for t in 0..<length {
            slotIDs[to * capacity + t] = source.slotIDs[from * capacity + t]
            slotPositions[to * capacity + t] = source.slotPositions[from * capacity + t]
        }
        realTokens[to] = source.realTokens[from]
    }

    /// Floats per cached token of one layer.
    var kvRow: Int { layout.kvHeads * layout.headDim }

    /// Opens a step of new tokens `ids` (batch, count) with their padding mask (batch, count), 0
    /// marking left padding (nil: all real), and returns their positions (batch, count): each real
    /// token takes its row's running count of real tokens, which is how transformers numbers
    /// left-padded rows; padding gets position 0 (it is never attended).
    public func beginAppending(ids: [Int32], mask: [Float]?) -> [Int32] {
        precondition(pending == nil, "a cache step is already open")
        precondition(!ids.isEmpty && ids.count % batch == 0, "\(ids.count) ids for \(batch) cached rows")
        let count = ids.count / batch
        precondition(length + count <= capacity, "\(length) + \(count) tokens exceed the cache's \(capacity) slots")
        if let mask { precondition(mask.count == ids.count, "mask of \(mask.count) for \(ids.count) ids") }
        var positions = [Int32](repeating: 0, count: batch * count)
        for b in 0..<batch {
            for t in 0..<count {
                let real = mask.map { $0[b * count + t] != 0 } ?? true
                let slot = b * capacity + length + t
                keyMask.pointer[slot] = real ? 1 : 0
                if real {
                    positions[b * count + t] = realTokens[b]
                    realTokens[b] += 1
                }
                slotIDs[slot] = ids[b * count + t]
                slotPositions[slot] = positions[b * count + t]
            }
        }
        pending = count
        // The first step runs the full attention kernel over the new block alone (nothing is
        // cached yet), with a contiguous copy of the mask; later steps attend over the cache.
        blockMask = length == 0 ? Tensor(shape: [batch, count], values: mask ?? [Float](repeating: 1, count: batch * count)) : nil
        return positions
    }

    /// The part of the open step attention layer `index` reads and extends.
    public func layer(_ index: Int) -> Layer {
        precondition(pending != nil, "open a step with beginAppending(ids:mask:) first")
        precondition(index >= 0 && index < layout.layers, "layer \(index) of a \(layout.layers)-layer cache")
        return Layer(cache: self, index: index)
    }

    /// Closes the open step: the tokens every layer stored become part of the cache.
    public func endAppending() {
        guard let count = pending else { preconditionFailure("no cache step is open") }
        length += count
        pending = nil
        blockMask = nil
    }

    /// Every filled slot's token id, mask (1 real, 0 padding) and position, each laid out
    /// (batch, length): what a model without a cached forward runs through its whole-sequence
    /// forward again.
    public var history: (ids: [Int32], mask: [Float], positions: [Int32]) {
        var ids = [Int32](), mask = [Float](), positions = [Int32]()
        ids.reserveCapacity(batch * length); mask.reserveCapacity(batch * length); positions.reserveCapacity(batch * length)
        for b in 0..<batch {
            let start = b * capacity
            ids += slotIDs[start..<(start + length)]
            positions += slotPositions[start..<(start + length)]
            mask += UnsafeBufferPointer(start: keyMask.pointer + start, count: length)
        }
        return (ids, mask, positions)
    }

    /// Keeps only the given rows (indices into the current batch, strictly increasing), moving
    /// them to the front in that order: generation drops finished rows so that later steps do no
    /// work for them.
    public func retainRows(_ rows: [Int]) {
        precondition(pending == nil, "rows cannot be dropped during a step")
        precondition(zip(rows, rows.dropFirst()).allSatisfy { $0 < $1 } && (rows.last ?? 0) < batch,
                     "rows to keep must increase and lie below \(batch): \(rows)")
        for (to, from) in rows.enumerated() where to != from {
            // to < from, so copying forward never overwrites a row still to be moved.
            copyRow(from, of: self, to: to)
        }
        realTokens.removeLast(batch - rows.count)
        batch = rows.count
    }

    /// One attention layer's view of a ``KVCache`` during a step.
    public struct Layer {
        let cache: KVCache
        let index: Int

        /// Appends the new tokens' keys and values to this layer's cache and returns causal
        /// attention of their queries over every cached token of their row (left padding masked).
        ///
        /// - Parameters:
        ///   - q: (batch, count, heads·headDim), the new tokens' queries (rotated if the model
        ///     rotates them).
        ///   - k, v: (batch, count, kvHeads·headDim), their keys and values.
        ///   - heads: query heads, a multiple of the cache's key/value heads.
        ///   - scale: score scale; nil is 1/√headDim.
        /// - Returns: (batch, count, heads·headDim).
        public func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int, scale: Float? = nil) -> Tensor {
            let c = cache, kvRow = c.kvRow
            guard let count = c.pending else { preconditionFailure("no cache step is open") }
            let batch = c.batch, kvHeads = c.layout.kvHeads, hd = c.layout.headDim
            precondition(k.count == batch * count * kvRow && v.count == k.count,
                         "keys \(k.shape) / values \(v.shape) for \(batch)×\(count) tokens of \(kvRow) floats")
            precondition(q.count == batch * count * heads * hd, "queries \(q.shape) for \(batch)×\(count) tokens of \(heads) heads")
            // Store: row b's new block lands in slots length ..< length + count.
            let block = count * kvRow
            for b in 0..<batch {
                let slot = (b * c.capacity + c.length) * kvRow
                (c.keys[index].pointer + slot).update(from: k.pointer + b * block, count: block)
                (c.values[index].pointer + slot).update(from: v.pointer + b * block, count: block)
            }
            if let blockMask = c.blockMask {
                return Tensor.causalAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, keyMask: blockMask, scale: scale)
            }
            let out = Tensor.empty([batch, count, heads * hd])
            Kernels.cachedAttention(
                q: q.pointer, keys: c.keys[index].pointer, values: c.values[index].pointer,
                keyMask: c.keyMask.pointer, past: c.length,
                shape: CachedAttentionShape(batch: batch, queries: count, heads: heads, kvHeads: kvHeads,
                                            headDim: hd, capacity: c.capacity, scale: scale),
                out: out.pointer)
            return out
        }
    }
}
