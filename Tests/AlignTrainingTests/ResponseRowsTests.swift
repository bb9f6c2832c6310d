import AlignModels
import AlignTensor
import AlignTraining
import Foundation
import Testing
import TestSupport

/// Rows that share a prompt (a GRPO group) are computed with the prompt once and each response as
/// a branch; the log-probs, values and gradients must equal computing every row on its own.
@Suite struct ResponseRowsTests {
    static let folder = fixturesDirectory.appendingPathComponent("models/llama")

    @Test func sharedPromptsGiveEachRowsOwnLogProbsValuesAndGradients() throws {
        let promptA: [Int32] = [5, 17, 42, 8, 99, 3], promptB: [Int32] = [7, 7, 21]
        // Two groups of the same prompt, a lone row, and an empty response (stands alone).
        let queries = [promptA, promptA, promptA, promptB, promptB, promptA, promptB]
        let responses: [[Int32]] = [[11, 12, 13, 2], [11, 40], [9, 8, 7, 6, 5], [30, 31, 2], [44], [61, 62], []]
        let model = try LlamaForCausalLM(directory: Self.folder)
        let (grouped, _) = ResponseRows(queries: queries, responses: responses).logProbs(model: model, temperature: 0.7)
        let weights = Tensor(shape: [grouped.shape[0]], values: (0..<grouped.shape[0]).map { Float($0 % 5) - 1.5 })
        (grouped * weights).sum().backward()
        let groupedGrads = model.namedParameters().map { $0.parameter.grad!.toArray() }
        model.zeroGrad()

        var alone: [Float] = []
        var offset = 0
        for r in queries.indices {
            let (logps, _) = ResponseRows(queries: [queries[r]], responses: [responses[r]]).logProbs(model: model, temperature: 0.7)
            let n = responses[r].count
            if n > 0 {
                let w = Tensor(shape: [n], values: (offset..<(offset + n)).map { Float($0 % 5) - 1.5 })
                (logps * w).sum().backward()
            }
            alone += logps.toArray(); offset += n
        }
        expectClose(grouped.toArray(), alone, atol: 2e-5, rtol: 0, "log-probs")
        for ((name, p), g) in zip(model.namedParameters(), groupedGrads) {
            expectClose(g, p.grad!.toArray(), atol: 2e-5, rtol: 1e-3, "gradient of \(name)")
        }

        let valueModel = try RewardModel(directory: Self.folder)
        let counts = responses.map { $0.count + 1 }   // PPO reads one past the last response token's predictor
        let values = ResponseRows(queries: queries, responses: responses).values(valueModel: valueModel, counts: counts).toArray()
        var valuesAlone: [Float] = []
        for r in queries.indices {
            valuesAlone += ResponseRows(queries: [queries[r]], responses: [responses[r]]).values(valueModel: valueModel, counts: [counts[r]]).toArray()
        }
        expectClose(values, valuesAlone, atol: 2e-5, rtol: 0, "values")
    }
}
