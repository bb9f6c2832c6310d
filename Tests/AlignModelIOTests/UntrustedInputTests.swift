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

    /// Found by FuzzGGUF: a llama GGUF with neither `vocab_size` nor a token list takes its vocabulary
    /// size from `token_embd.weight`'s rows, and a tensor of no dimensions (GGUF allows a scalar)
    /// trapped on `shape[0]`. Written by hand: GGUFWriter refuses zero-dimension tensors.
    @Test("a llama GGUF whose token_embd.weight has no dimensions is refused, naming the file")
    func ggufScalarTokenEmbedding() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        var bytes = Data("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); bytes.append(contentsOf: Array(s.utf8)) }
        let integers: [(String, UInt32)] = [
            ("llama.context_length", 64), ("llama.embedding_length", 8), ("llama.block_count", 1),
            ("llama.feed_forward_length", 16), ("llama.attention.head_count", 2),
        ]
        u32(3)                                   // version
        u64(1)                                   // tensors
        u64(UInt64(1 + integers.count))          // metadata entries
        string("general.architecture"); u32(8); string("llama")
        for (key, value) in integers { string(key); u32(4); u32(value) }
        string("token_embd.weight"); u32(0); u32(0); u64(0)  // no dimensions, F32, offset 0
        bytes.append(contentsOf: [UInt8](repeating: 0, count: (32 - bytes.count % 32) % 32))
        u32(0)                                   // the scalar's one element
        let url = folder.appendingPathComponent("scalar-embedding.gguf")
        try bytes.write(to: url)
        let file = try GGUFFile(url: url)
        #expect(file.tensor(named: "token_embd.weight")?.shape == [])
        let error = expectModelIOError { _ = try LlamaConfig(gguf: file) }
        #expect(error?.path == url.path)
        #expect(error?.reason.contains("token_embd.weight has no dimensions") == true, "\(String(describing: error))")
    }
}
