// Fuzzes dataset files (JSON Lines or a JSON array of rows) through every dataset kind, with and
// without skipping bad rows: a malformed row is a DatasetError naming its line, never a crash.
import AlignData
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONLines(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let url = Scratch.write(start, count, name: "rows.jsonl")
    for options in [ReadOptions(), ReadOptions(skipBadRows: true)] {
        if let pairs = try? PreferenceDataset(contentsOf: url, options: options) {
            _ = UnpairedDataset(unpairing: pairs)
        }
        _ = try? UnpairedDataset(contentsOf: url, options: options)
        _ = try? LanguageModelingDataset(contentsOf: url, options: options)
    }
    return 0
}
