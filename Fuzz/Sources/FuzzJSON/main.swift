// Fuzzes the JSON reader under every option set the project uses. Whatever parses must write back
// out and parse again to an equal value (the writer and reader agree on every accepted document).
import AlignJSON
import FuzzSupport

let optionSets: [JSONReaderOptions] = [
    JSONReaderOptions(),
    // Dataset rows (AlignData): last duplicate wins, NaN/Infinity allowed, lone surrogates replaced.
    JSONReaderOptions(duplicateKeys: .lastWins, allowsNonFiniteNumbers: true, loneSurrogates: .replace, maximumDepth: 512),
    // Model files (AlignModelIO): exact 64-bit integers, shallow nesting.
    JSONReaderOptions(duplicateKeys: .reject, requiresInt64Integers: true, maximumDepth: 64),
    JSONReaderOptions(rejectsInvalidUTF8: true),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = inputBytes(start, count)
    for options in optionSets {
        guard let value = try? JSONReader.parse(bytes, options: options) else { continue }
        // Non-finite numbers and replaced surrogates have no exact JSON spelling; the rest round-trip.
        let written = JSONWriter.bytes(value)
        let again = try? JSONReader.parse(written, options: JSONReaderOptions(
            duplicateKeys: options.duplicateKeys, allowsNonFiniteNumbers: true, loneSurrogates: .replace, maximumDepth: 1 << 20))
        precondition(again != nil, "the writer produced JSON the reader rejects: \(String(decoding: written.prefix(200), as: UTF8.self))")
        _ = JSONWriter.bytes(value, indent: 2)
    }
    return 0
}
