import AlignKernels
import AlignNN
import AlignTensor

/// The reference policy of adapter training, without a second copy of the base weights: the same
/// model run under ``withReferenceAdapters(_:)``, so each adapted layer uses its frozen starting
/// adapter (training continued from `--adapter`) or none (a new adapter, whose B is zero: the
/// same policy). TRL with PEFT does the same with `disable_adapter()` / a `ref` adapter.
///
/// Its parameters are the base model's plus the reference adapters' (`….ref.lora_A.weight`), so a
/// reference-log-prob cache keyed by them (``ReferenceCache``) stays exact.
public final class AdapterReference: CausalLanguageModel {
    public let model: any CausalLanguageModel

    public init(_ model: any CausalLanguageModel) { self.model = model }

    public var vocabularySize: Int { model.vocabularySize }
    public var hiddenSize: Int { model.hiddenSize }
    public var maxSequenceLength: Int { model.maxSequenceLength }
    public var keyValueLayout: KVCache.Layout { model.keyValueLayout }

    public func hiddenStates(ids: [Int32], batch: Int, seq: Int, attentionMask: [Float]?, positions: [Int32]?) -> Tensor {
        withReferenceAdapters { model.hiddenStates(ids: ids, batch: batch, seq: seq, attentionMask: attentionMask, positions: positions) }
    }
    public func packedHiddenStates(ids: [Int32], packing: SequencePacking) -> Tensor? {
        withReferenceAdapters { model.packedHiddenStates(ids: ids, packing: packing) }
    }
    public func hiddenStates(appending ids: [Int32], mask: [Float]?, to cache: KVCache) -> Tensor {
        withReferenceAdapters { model.hiddenStates(appending: ids, mask: mask, to: cache) }
    }
    /// The heads are never adapted.
    public func logits(fromHidden h: Tensor) -> Tensor { model.logits(fromHidden: h) }
    public func logits(fromHidden h: Tensor, decoding: Bool) -> Tensor { model.logits(fromHidden: h, decoding: decoding) }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        model.forEachParameter(prefix: prefix, visit)
        for (path, linear) in model.namedLinears() {
            guard let reference = linear.referenceAdapter else { continue }
            for (name, p) in reference.parameters { visit(prefix + path + ".ref." + name, p) }
        }
    }
}
