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
}
