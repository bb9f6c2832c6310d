import Foundation
import Testing

/// The engine boundary, checked on the sources: above AlignTensor, code works on tensors through
/// their operations, never on raw float memory, so that a second backend (a GPU) implements the
/// ops in AlignTensor and nothing else (README, "Layout"). AlignBench is exempt: it times the
/// kernels themselves.
@Suite("engine boundary")
struct LayeringTests {
    static let modulesAboveTheEngine = ["AlignNN", "AlignOptim", "AlignModels", "AlignTraining", "AlignHub",
                                        "AlignWorkflows", "AlignCLI", "AlignReport"]

    @Test("no module above AlignTensor touches raw float memory")
    func noRawMemoryAboveTheEngine() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let forbidden = try Regex(#"\.pointer\b|\.baseAddress\b|Unsafe(Mutable)?(Buffer)?Pointer<Float>|UnsafeMutableRawPointer"#)
        var offenders: [String] = []
        var scanned = 0
        for module in Self.modulesAboveTheEngine {
            let folder = sources.appendingPathComponent(module)
            guard let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { continue }
            for case let file as URL in files where file.pathExtension == "swift" {
                scanned += 1
                let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
                for (n, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                    if line.contains(forbidden) { offenders.append("\(module)/\(file.lastPathComponent):\(n + 1): \(line.trimmingCharacters(in: .whitespaces))") }
                }
            }
        }
        #expect(scanned > 50, "found only \(scanned) source files under \(sources.path)")
        #expect(offenders.isEmpty, "raw memory above the engine:\n\(offenders.joined(separator: "\n"))")
    }
}
