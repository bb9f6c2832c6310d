import AlignKernels
import AlignModels
import AlignNN
import AlignTensor
import Foundation
import Testing
import TestSupport

/// Temporary: the new cached forward (training layers + KVCache) gives bit-identical logits to
/// the old hand-written one.
@Suite struct LegacyParityTmp {
    @Test(arguments: ["llama", "llama_tied_gqa", "qwen2", "mistral"])
    func bitIdentical(_ name: String) throws {
        let model = try LlamaForCausalLM(directory: fixturesDirectory.appendingPathComponent("models/\(name)"))
        let prompts: [[Int32]] = [[5, 17, 99, 140, 3, 250, 61], [44, 8, 201], [7, 7, 123, 90, 11]]
        let width = 7, batch = 3, vocab = model.vocabularySize
        var ids = [Int32](), mask = [Float]()
        for p in prompts {
            ids += [Int32](repeating: 0, count: width - p.count) + p
            mask += [Float](repeating: 0, count: width - p.count) + [Float](repeating: 1, count: p.count)
        }
        withNoGrad {
            for allPositions in [false, true] {
                let old = LegacyKVCache(for: model, batch: batch, capacity: 20)
                let new = KVCache(for: model, batch: batch, capacity: 20)
                var a = model.legacyLogits(appending: ids, mask: mask, to: old, allPositions: allPositions)
                var b = model.logits(appending: ids, mask: mask, to: new, allPositions: allPositions)
                #expect(a.shape == b.shape)
                #expect(a.toArray() == b.toArray(), "\(name) prefill allPositions \(allPositions)")
                var rows = batch
                for step in 0..<8 {
                    let next = (0..<rows).map { Int32((step * 37 + $0 * 11) % vocab) }
                    if step == 4 { old.retainRows([0, 2]); new.retainRows([0, 2]); rows = 2 }
                    let n = Array(next.prefix(rows))
                    a = model.legacyLogits(appending: n, to: old)
                    b = model.logits(appending: n, to: new)
                    #expect(a.toArray() == b.toArray(), "\(name) step \(step)")
                }
                // A multi-token chunk on top of the cache.
                let chunk = (0..<(rows * 3)).map { Int32(($0 * 13) % vocab) }
                a = model.legacyLogits(appending: chunk, to: old, allPositions: true)
                b = model.logits(appending: chunk, to: new, allPositions: true)
                #expect(a.toArray() == b.toArray(), "\(name) chunk")
            }
        }
    }
}
