import AlignKernels
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

    /// Where a row's positions went: its prompt is the placement's prefix, its response the rest.
    typealias RowPlacement = SequenceLogProbs.RowPlacement

    /// The packed layout without padding: consecutive rows with the same prompt (GRPO and RLOO
    /// sample `num_generations` responses per prompt, PPO may repeat a prompt) form one group whose
    /// prompt is computed once and which every response continues as a branch, so a group of g rows
    /// costs one prompt instead of g. Rows with an empty response stand alone.
    func packedLayout() -> (ids: [Int32], packing: SequencePacking, placement: [RowPlacement]) {
        var ids: [Int32] = [], prefixes: [Int] = [], branches: [[Int]] = []
        var placement: [RowPlacement] = []
        ids.reserveCapacity(zip(queries, responses).reduce(0) { $0 + $1.0.count + $1.1.count })
        var r = 0
        while r < count {
            var end = r + 1
            if !responses[r].isEmpty {
                while end < count && !responses[end].isEmpty && queries[end] == queries[r] { end += 1 }
            }
            let start = ids.count, q = queries[r].count
            ids += queries[r]
            if end == r + 1 {
                // A lone row is a plain sequence: prompt and response as one prefix.
                ids += responses[r]
                placement.append(RowPlacement(prefixStart: start, prefix: q, restStart: start + q))
                prefixes.append(q + responses[r].count); branches.append([])
            } else {
                for row in r..<end {
                    placement.append(RowPlacement(prefixStart: start, prefix: q, restStart: ids.count))
                    ids += responses[row]
                }
                prefixes.append(q); branches.append(responses[r..<end].map(\.count))
            }
            r = end
        }
        return (ids, SequencePacking(prefixes: prefixes, branches: branches), placement)
    }

    /// Final hidden states (packed rows, hidden) of every row with where each row's positions are.
    func hidden(_ forward: (_ ids: [Int32], _ packing: SequencePacking) -> Tensor?, padded: (_ ids: [Int32], _ rows: Int, _ length: Int, _ mask: [Float]) -> Tensor,
                hiddenSize: Int) -> (states: Tensor, placement: [RowPlacement]) {
        let layout = packedLayout()
        if let h = forward(layout.ids, layout.packing) {
            return (h.reshaped([-1, hiddenSize]), layout.placement)
        }
        let sequences = zip(queries, responses).map { $0 + $1 }
        let width = sequences.map(\.count).max() ?? 1
        var ids = [Int32](repeating: 0, count: count * width), mask = [Float](repeating: 0, count: count * width)
        for (r, s) in sequences.enumerated() {
            for (t, id) in s.enumerated() { ids[r * width + t] = id; mask[r * width + t] = 1 }
        }
        let h = padded(ids, count, width, mask)
        let placement = (0..<count).map { RowPlacement(prefixStart: $0 * width, prefix: queries[$0].count,
                                                       restStart: $0 * width + queries[$0].count) }
        return (h.reshaped([-1, hiddenSize]), placement)
    }

    /// Flat indices (into the hidden states) of the positions predicting each row's first
    /// `counts[r]` response tokens (or values), starting at the last prompt token.
    static func positions(placement: [RowPlacement], counts: [Int]) -> [Int32] {
        var out: [Int32] = []
        for (r, p) in placement.enumerated() {
            for i in 0..<counts[r] { out.append(Int32(p.hiddenRow(p.prefix - 1 + i))) }
        }
        return out
    }

    /// Per response token log π(token | prefix) with logits divided by `temperature`, flattened in
    /// row order (Σ response lengths), differentiable through `model`; with `entropy`, also each
    /// position's entropy of the tempered distribution (no gradient).
    public func logProbs(model: some CausalLanguageModel, temperature: Float, entropy: Bool = false) -> (logps: Tensor, entropy: [Float]?) {
        let (states, placement) = hidden({ model.packedHiddenStates(ids: $0, packing: $1) },
                                         padded: { model.hiddenStates(ids: $0, batch: $1, seq: $2, attentionMask: $3, positions: nil) },
                                         hiddenSize: model.hiddenSize)
        let gather = ResponseRows.positions(placement: placement, counts: responses.map(\.count))
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
        let (states, placement) = hidden({ body.packedHiddenStates(ids: $0, packing: $1) },
                                         padded: { body.hiddenStates(ids: $0, batch: $1, seq: $2, attentionMask: $3, positions: nil) },
                                         hiddenSize: body.hiddenSize)
        let gather = ResponseRows.positions(placement: placement, counts: counts)
        guard !gather.isEmpty else { return states.sum() * 0 + Tensor.zeros([0]) }
        let h = states.embedding(ids: gather, shape: [gather.count])
        return h.linear(weight: valueModel.score.weight.value).reshaped([gather.count])
    }
}
