// Fuzzes YAML training configs through AlignSettings.SettingsFile, the bounded reader every
// command's --config goes through: any text is a mapping of settings or a SettingsError naming
// the file (and line); nesting past 64 levels and alias expansion past 100,000 values ("billion
// laughs") are refused, never expanded.
import AlignSettings
import Foundation
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYAML(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = Data(inputBytes(start, count))
    guard let file = try? SettingsFile(data: data, path: "fuzz.yaml") else { return 0 }
    precondition(file.values.count == file.lines.count, "every top-level key has a line")
    return 0
}
