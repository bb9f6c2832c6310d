import AlignKernels
import AlignTensor
import Testing
import TestSupport

/// Packed attention (independent sequences, and shared prefixes with branches) against finite
/// differences and against the padded-batch attention kernel run on each sequence spelled out.
@Suite struct PackedAttentionTests {
    /// The same attention computed sequence by sequence with the batched (per-head GEMM) kernel: the prefix
    /// alone for the prefix rows, and prefix + branch for each branch's rows (whose prefix
    /// outputs are discarded), reassembled in packed row order. Mathematically the packed op.
    static func spelledOut(q: Tensor, k: Tensor, v: Tensor, heads: Int, kvHeads: Int, packing: SequencePacking) -> Tensor {
        var pieces: [Tensor] = []
        func run(_ rows: [Int32], keep: Int) {
            let n = rows.count
            let qs = q.embedding(ids: rows, shape: [n]).reshaped([1, n, -1])
            let ks = k.embedding(ids: rows, shape: [n]).reshaped([1, n, -1])
            let vs = v.embedding(ids: rows, shape: [n]).reshaped([1, n, -1])
            // An all-ones key mask selects the batched per-head GEMM kernel, independent of the
            // packed one under test.
            let out = Tensor.causalAttention(q: qs, k: ks, v: vs, heads: heads, kvHeads: kvHeads,
                                             keyMask: Tensor.full([1, n], 1)).reshaped([n, -1])
            pieces.append(out.slice(axis: 0, start: n - keep, length: keep))
        }
        for g in packing.groups {
            let prefix = (0..<g.prefix).map { Int32(g.start + $0) }
            if g.prefix > 0 { run(prefix, keep: g.prefix) }
            var at = g.start + g.prefix
            for b in g.branches where b > 0 {
                run(prefix + (0..<b).map { Int32(at + $0) }, keep: b)
                at += b
            }
        }
        return Tensor.concat(pieces, axis: 0)
    }

    func check(packing: SequencePacking, heads: Int, kvHeads: Int, dim: Int, seed: UInt64) {
        let rows = packing.rows
        let q = randomTensor([rows, heads * dim], seed: seed, low: -2, high: 2)
        let k = randomTensor([rows, kvHeads * dim], seed: seed + 1, low: -2, high: 2)
        let v = randomTensor([rows, kvHeads * dim], seed: seed + 2)
        let weights = randomTensor([rows, heads * dim], seed: seed + 3)
        let inputs = [q, k, v].map { Parameter($0.copy()) }
        let packed = Tensor.causalAttention(q: inputs[0].value, k: inputs[1].value, v: inputs[2].value,
                                            heads: heads, kvHeads: kvHeads, packing: packing)
        (packed * weights).sum().backward()
        let reference = [q, k, v].map { Parameter($0.copy()) }
        let spelled = Self.spelledOut(q: reference[0].value, k: reference[1].value, v: reference[2].value,
                                      heads: heads, kvHeads: kvHeads, packing: packing)
        (spelled * weights).sum().backward()
        expectClose(packed, spelled, atol: 2e-6, rtol: 1e-5, "outputs")
        for (name, (a, b)) in zip(["dq", "dk", "dv"], zip(inputs, reference)) {
            expectClose(a.grad!, b.grad!, atol: 1e-5, rtol: 1e-4, name)
        }
    }

    @Test func independentSequencesMatchTheBatchKernel() {
        // Lengths around the 48-row query block and the 8-key padding; one empty sequence.
        check(packing: SequencePacking(lengths: [50, 97, 1, 0, 13]), heads: 4, kvHeads: 2, dim: 32, seed: 10)
    }

    @Test func sharedPrefixesMatchTheBatchKernel() {
        // A long prompt with two completions, a prompt whose completions are empty or one token,
        // no prompt at all, and a head dimension (12) that is not a multiple of 8.
        let packing = SequencePacking(prefixes: [61, 5, 0, 9], branches: [[40, 77], [0, 1], [20, 3], []])
        check(packing: packing, heads: 3, kvHeads: 1, dim: 12, seed: 20)
        check(packing: packing, heads: 2, kvHeads: 2, dim: 64, seed: 30)
    }

    @Test func sharedPrefixPositionsContinueIntoEachBranch() {
        let packing = SequencePacking(prefixes: [3, 0], branches: [[2, 1], [2]])
        #expect(packing.positions == [0, 1, 2, 3, 4, 3, 0, 1])
        #expect(packing.rows == 8)
    }

    @Test func sharedPrefixGradientsMatchFiniteDifferences() {
        let packing = SequencePacking(prefixes: [3, 2], branches: [[2, 3], [1]])
        let (heads, kvHeads, dim) = (4, 2, 4)
        let q = randomTensor([packing.rows, heads * dim], seed: 41)
        let k = randomTensor([packing.rows, kvHeads * dim], seed: 42)
        let v = randomTensor([packing.rows, kvHeads * dim], seed: 43)
        gradcheck([q, k, v], "packed attention with shared prefixes") {
            Tensor.causalAttention(q: $0[0], k: $0[1], v: $0[2], heads: heads, kvHeads: kvHeads, packing: packing)
        }
    }
}
