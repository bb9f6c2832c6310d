// Regressions for problems found while fuzzing the readers (Fuzz/, scripts/fuzz.sh): each test
// pins down one refusal that must name the file and what is wrong with it.
import AlignKernels
import Foundation
import Testing
@testable import AlignModelIO

@Suite("untrusted model files")
struct UntrustedInputTests {
    /// A GGUF whose tensor count is −1 read as a u64 (every bit set) must be refused before
    /// anything is allocated, with an error naming the file, not read as a huge loop count.
    @Test("a GGUF tensor or metadata count of −1 is refused, naming the file")
    func ggufCountMinusOne() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        for countOffset in [8, 16] {  // tensor count, then metadata count
            var bytes = Data("GGUF".utf8) + Data([3, 0, 0, 0]) + Data(count: 16)
            bytes.replaceSubrange(countOffset..<countOffset + 8, with: [UInt8](repeating: 0xFF, count: 8))
            let url = folder.appendingPathComponent("minus-one-\(countOffset).gguf")
            try bytes.write(to: url)
            let error = expectModelIOError { _ = try GGUFFile(url: url) }
            #expect(error?.path == url.path)
            #expect(error?.reason.contains("18446744073709551615 is impossible") == true, "\(String(describing: error))")
            #expect(error?.description.hasPrefix(url.path + ": malformed file: ") == true)
        }
    }

    /// Found by FuzzGGUF: a llama Q projection stored with zero rows passed the "rows split into
    /// heads" check (0 is a multiple of anything) and the un-permutation then divided by zero.
    @Test("a llama GGUF whose Q projection has zero rows is refused, naming the file")
    func ggufZeroRowQProjection() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let config = LlamaConfig(hiddenSize: 8, layerCount: 1, headCount: 2, keyValueHeadCount: 1, intermediateSize: 16,
                                 rmsNormEpsilon: 1e-5, ropeTheta: 10_000, vocabularySize: 4, maxPositionEmbeddings: 16,
                                 tieWordEmbeddings: true)
        let url = folder.appendingPathComponent("zero-rows.gguf")
        try GGUFWriter.write(metadata: [("general.architecture", .string("llama"))] + config.ggufMetadata,
                             tensors: [.init(name: "blk.0.attn_q.weight", shape: [0, 8], storage: TensorStorage(count: 0))],
                             to: url)
        let file = try GGUFFile(url: url)
        let error = expectModelIOError {
            _ = try LlamaGGUF.loadTensor("model.layers.0.self_attn.q_proj.weight", from: file, config: try LlamaConfig(gguf: file))
        }
        #expect(error?.path == url.path)
        #expect(error?.reason.contains("has shape [0, 8], which does not split into 2 heads") == true, "\(String(describing: error))")
    }
}
