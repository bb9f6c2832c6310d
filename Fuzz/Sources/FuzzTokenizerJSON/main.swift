// Fuzzes tokenizer.json loading, then encodes and decodes a short text with whatever loaded.
import AlignTokenizers
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerJSON(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let url = Scratch.write(start, count, name: "tokenizer.json")
    guard let tokenizer = try? Tokenizer(tokenizerJSON: url) else { return 0 }
    for text in ["Hello, world!  12345 héllo\n\tend", "<s>[INST] hi [/INST]</s>", ""] {
        let ids = tokenizer.encode(text)
        _ = tokenizer.decode(ids)
        _ = tokenizer.decode(ids, skipSpecialTokens: true)
    }
    return 0
}
