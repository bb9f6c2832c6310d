import AlignKernels
import AlignNN
import AlignTensor

/// What every decoder-only language model in Align offers the trainers and generators above it:
/// hidden states for a padded batch of ids, and the LM head on top of them. Keeping the head
/// separate lets objectives gather log-probs without materialising more logits than needed.
///
/// Decoding runs through the same layers: ``hiddenStates(appending:mask:to:)`` feeds new tokens
/// on top of a ``KVCache``, and every conforming model thereby gets
/// ``generate(prompts:config:streams:)`` (batched, KV-cached sampling with per-token log-probs).
public protocol CausalLanguageModel: Module {
    /// Size of the output vocabulary.
    var vocabularySize: Int { get }
    /// Width of the hidden states.
    var hiddenSize: Int { get }
    /// Longest sequence the model can read (its position table); longer input must be refused or
    /// cut before it reaches the model.
    var maxSequenceLength: Int { get }
    /// Final hidden states (batch, seq, hidden) for ids laid out (batch, seq); `attentionMask` is
    /// (batch, seq) with 1 for tokens and 0 for padding; `positions` default as transformers does.
    func hiddenStates(ids: [Int32], batch: Int, seq: Int, attentionMask: [Float]?, positions: [Int32]?) -> Tensor
    /// The LM head: logits (..., vocabulary) from hidden states (..., hidden).
    func logits(fromHidden h: Tensor) -> Tensor
    /// Final hidden states (rows, hidden) for rows packed without padding as `packing` lays them
    /// out (independent sequences, or shared prefixes with branches continuing their positions),
    /// or nil when the model cannot attend that way (callers then pad).
    func packedHiddenStates(ids: [Int32], packing: SequencePacking) -> Tensor?

    /// What a ``KVCache`` for this model holds per token: its attention layers, key/value heads
    /// and features per head. The default, ``KVCache/Layout/historyOnly``, goes with the default
    /// ``hiddenStates(appending:mask:to:)``.
    var keyValueLayout: KVCache.Layout { get }
    /// Final hidden states (cache.batch, count, hidden) of new tokens run through the model's
    /// layers on top of the keys and values `cache` holds, whose own keys and values are then
    /// appended to it: the prompt batch first (prefill), then one token per row per step.
    ///
    /// - Parameters:
    ///   - ids: (cache.batch, count) new token ids.
    ///   - mask: optional (cache.batch, count), 0 marking left padding; nil means all real.
    ///     Positions count each row's real tokens, as transformers' `generate()` numbers them.
    /// - Returns: the same values ``hiddenStates(ids:batch:seq:attentionMask:positions:)`` gives
    ///   at those positions of the whole sequence, up to float rounding. Inference only: no
    ///   autograd graph is recorded.
    ///
    /// The default keeps no keys or values: it runs the cache's whole token history
    /// (``KVCache/history``) through ``hiddenStates(ids:batch:seq:attentionMask:positions:)``
    /// every step and keeps the new positions, so a model conforming with the training forward
    /// alone (a wrapper, say) still generates, at quadratic cost.
    func hiddenStates(appending ids: [Int32], mask: [Float]?, to cache: KVCache) -> Tensor
    /// The LM head, as ``logits(fromHidden:)``; with `decoding` (a decoding step's few rows,
    /// inference only) on the kernel suited to them. The default ignores `decoding`.
    func logits(fromHidden h: Tensor, decoding: Bool) -> Tensor
}

extension CausalLanguageModel {
    public func packedHiddenStates(ids: [Int32], packing: SequencePacking) -> Tensor? { nil }

    /// Hidden states of independent sequences packed end to end (`sequenceLengths` consecutive
    /// blocks of `ids`, positions restarting at 0 in each), or nil when unsupported.
    public func packedHiddenStates(ids: [Int32], sequenceLengths: [Int]) -> Tensor? {
        packedHiddenStates(ids: ids, packing: SequencePacking(lengths: sequenceLengths))
    }
}

extension CausalLanguageModel {
    /// Logits (batch, seq, vocabulary).
    public func logits(ids: [Int32], batch: Int, seq: Int, attentionMask: [Float]? = nil) -> Tensor {
        logits(fromHidden: hiddenStates(ids: ids, batch: batch, seq: seq, attentionMask: attentionMask, positions: nil))
    }

    /// The LM head whatever `decoding` says: ``logits(fromHidden:)``.
    public func logits(fromHidden h: Tensor, decoding: Bool) -> Tensor { logits(fromHidden: h) }

    /// No keys or values cached: ``KVCache/Layout/historyOnly``.
    public var keyValueLayout: KVCache.Layout { .historyOnly }

    /// New tokens' final hidden states (cache.batch, count, hidden) by running the cache's whole
    /// token history through ``hiddenStates(ids:batch:seq:attentionMask:positions:)`` again
    /// (quadratic in the length; models with a cached forward replace this).
    public func hiddenStates(appending ids: [Int32], mask: [Float]?, to cache: KVCache) -> Tensor {
        withNoGrad {
            _ = cache.beginAppending(ids: ids, mask: mask)
            cache.endAppending()
            let count = ids.count / cache.batch, seq = cache.length
            let history = cache.history
            let h = hiddenStates(ids: history.ids, batch: cache.batch, seq: seq, attentionMask: history.mask,
                                 positions: history.positions)                              // (B, seq, hidden)
            return h.slice(axis: 1, start: seq - count, length: count)                      // (B, count, hidden)
        }
    }

    /// Runs new tokens through the model on top of what `cache` holds and appends their keys and
    /// values to it (see ``hiddenStates(appending:mask:to:)``), then applies the LM head.
    ///
    /// - Parameters:
    ///   - ids: (cache.batch, count) new token ids.
    ///   - mask: optional (cache.batch, count), 0 marking left padding; nil means all real.
    ///   - cache: the rows' keys and values so far; extended by `count` slots.
    ///   - allPositions: return every new position's logits rather than only the last.
    /// - Returns: (batch, vocabulary) logits of each row's last new token, or (batch, count,
    ///   vocabulary) with `allPositions`; equal to the full forward's up to float rounding.
    ///   Inference only: no autograd graph is recorded.
    public func logits(appending ids: [Int32], mask: [Float]? = nil, to cache: KVCache,
                       allPositions: Bool = false) -> Tensor {
        withNoGrad {
            let batch = cache.batch
            var h = hiddenStates(appending: ids, mask: mask, to: cache)   // (B, T, hidden)
            let count = h.shape[1]
            if !allPositions && count > 1 {
                // Only the last position feeds the LM head: the head is the largest matrix product
                // of a decoding step, so the prompt's other positions are not worth it.
                h = h.slice(axis: 1, start: count - 1, length: 1)           // (B, 1, hidden)
            }
            let out = logits(fromHidden: h, decoding: true)
            return allPositions ? out : out.reshaped([batch, vocabularySize])
        }
    }
}

extension KVCache {
    /// An empty cache laid out for `model` (``CausalLanguageModel/keyValueLayout``), for `batch`
    /// rows of up to `capacity` tokens each.
    public convenience init(for model: some CausalLanguageModel, batch: Int, capacity: Int) {
        self.init(layout: model.keyValueLayout, batch: batch, capacity: capacity)
    }
}

extension LlamaForCausalLM: CausalLanguageModel {
    public var vocabularySize: Int { configuration.vocabSize }
    public var hiddenSize: Int { configuration.hiddenSize }
}
