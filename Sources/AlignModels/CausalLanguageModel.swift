import AlignKernels
import AlignNN
import AlignTensor

/// What every decoder-only language model in Align offers the trainers and generators above it:
/// hidden states for a padded batch of ids, and the LM head on top of them. Keeping the head
/// separate lets objectives gather log-probs without materialising more logits than needed.
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
}

extension LlamaForCausalLM: CausalLanguageModel {
    public var vocabularySize: Int { configuration.vocabSize }
    public var hiddenSize: Int { configuration.hiddenSize }
}
