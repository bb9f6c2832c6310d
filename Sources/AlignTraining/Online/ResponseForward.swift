import AlignModels
import AlignNN
import AlignTensor

/// Rows of prompt + response tokens run through a model, and the positions online objectives read:
/// position `q − 1 + i` of a row with a `q`-token prompt predicts its response token i (TRL's
/// `logits[:, context_length - 1 : -1]`). Rows are packed end to end without padding when the model
/// supports it, so no padding position is ever computed.
public struct ResponseRows: Sendable {
    /// Prompt ids per row.
    public var queries: [[Int32]]
    /// Response tokens fed to the model per row (the log-probs of all of them are read).
    public var responses: [[Int32]]

    public init(queries: [[Int32]], responses: [[Int32]]) {
        precondition(queries.count == responses.count && queries.allSatisfy { !$0.isEmpty }, "response rows need a non-empty prompt each")
        self.queries = queries; self.responses = responses
    }

    public var count: Int { queries.count }

    /// Final hidden states of every row (total tokens, hidden) with each row's first position.
    func hidden(_ forward: (_ ids: [Int32], _ lengths: [Int]) -> Tensor?, padded: (_ ids: [Int32], _ rows: Int, _ length: Int, _ mask: [Float]) -> Tensor,
                hiddenSize: Int) -> (states: Tensor, starts: [Int], rowLength: Int?) {
        let sequences = zip(queries, responses).map { $0 + $1 }
        let lengths = sequences.map(\.count)
        if let h = forward(sequences.flatMap { $0 }, lengths) {
            var starts: [Int] = [], offset = 0
            for l in lengths { starts.append(offset); offset += l }
            return (h.reshaped([-1, hiddenSize]), starts, nil)
        }
        let width = lengths.max() ?? 1
        var ids = [Int32](repeating: 0, count: count * width), mask = [Float](repeating: 0, count: count * width)
        for (r, s) in sequences.enumerated() {
            for (t, id) in s.enumerated() { ids[r * width + t] = id; mask[r * width + t] = 1 }
        }
        let h = padded(ids, count, width, mask)
        return (h.reshaped([-1, hiddenSize]), (0..<count).map { $0 * width }, width)
    }

    /// Flat indices (into the hidden states) of the positions predicting each row's first
    /// `counts[r]` response tokens (or values), starting at the last prompt token.
    static func positions(starts: [Int], queries: [[Int32]], counts: [Int]) -> [Int32] {
        var out: [Int32] = []
        for r in 0..<starts.count {
            for i in 0..<counts[r] { out.append(Int32(starts[r] + queries[r].count - 1 + i)) }
        }
        return out
    }

    /// Per response token log π(token | prefix) with logits divided by `temperature`, flattened in
    /// row order (Σ response lengths), differentiable through `model`; with `entropy`, also each
    /// position's entropy of the tempered distribution (no gradient).
    public func logProbs(model: some CausalLanguageModel, temperature: Float, entropy: Bool = false) -> (logps: Tensor, entropy: [Float]?) {
        let (states, starts, _) = hidden({ model.packedHiddenStates(ids: $0, sequenceLengths: $1) },
                                         padded: { model.hiddenStates(ids: $0, batch: $1, seq: $2, attentionMask: $3, positions: nil) },
                                         hiddenSize: model.hiddenSize)
        let gather = ResponseRows.positions(starts: starts, queries: queries, counts: responses.map(\.count))
        let targets = responses.flatMap { $0 }
        guard !gather.isEmpty else { return (states.sum() * 0 + Tensor.zeros([0]), entropy ? [] : nil) }
        let h = states.embedding(ids: gather, shape: [gather.count])
        let logits = model.logits(fromHidden: h) / temperature
        let logps = logits.logSoftmaxGather(targets: targets)
        guard entropy else { return (logps, nil) }
        let entropies: [Float] = withNoGrad {
            let logp = logits.detached().logSoftmax()
            return (-(logp.exp() * logp).sum(axis: 1)).toArray()
        }
        return (logps, entropies)
    }

    /// Per position value-model outputs: `counts[r]` values of row r starting at its last prompt
    /// token (TRL's `full_value[:, context_length - 1 : -1]`), flattened in row order,
    /// differentiable through `valueModel`.
    public func values(valueModel: RewardModel, counts: [Int]) -> Tensor {
        let body = valueModel.body
        let (states, starts, _) = hidden({ body.packedHiddenStates(ids: $0, sequenceLengths: $1) },
                                         padded: { body.hiddenStates(ids: $0, batch: $1, seq: $2, attentionMask: $3, positions: nil) },
                                         hiddenSize: body.hiddenSize)
        let gather = ResponseRows.positions(starts: starts, queries: queries, counts: counts)
        guard !gather.isEmpty else { return states.sum() * 0 + Tensor.zeros([0]) }
        let h = states.embedding(ids: gather, shape: [gather.count])
        return h.linear(weight: valueModel.score.weight.value).reshaped([gather.count])
    }
}
