import Testing
@testable import AlignTokenizers

/// The hand-written scanners against splits worked out from the regex definitions.
@Suite struct PreTokenizerTests {
    func split(_ text: String, _ pretokenizer: PreTokenizer) -> [String] {
        var output: [String] = []
        scalars(text).withUnsafeBufferPointer { buffer in
            PreTokenization(pretokenizer.steps).forEachWord(Fragment(scalars: buffer, atStart: true)) {
                output.append(string($0.scalars))
            }
        }
        return output
    }

    let gpt2 = PreTokenizer.regex(.gpt2, .isolated)
    let llama3 = PreTokenizer.regex(.llama3(maxDigits: 3), .isolated)
    let qwen2 = PreTokenizer.regex(.llama3(maxDigits: 1), .isolated)

    @Test func gpt2Pattern() {
        #expect(split("Hello world", gpt2) == ["Hello", " world"])
        #expect(split("a   b", gpt2) == ["a", "  ", " b"])
        #expect(split("a\n\nb", gpt2) == ["a", "\n", "\n", "b"])
        #expect(split("end  ", gpt2) == ["end", "  "])
        #expect(split("don't DON'T", gpt2) == ["don", "'t", " DON", "'", "T"])
        #expect(split("x 123456 !?", gpt2) == ["x", " 123456", " !?"])
        #expect(split("   123", gpt2) == ["  ", " 123"])
        #expect(split("café\u{00A0}naïve", gpt2) == ["café", "\u{00A0}", "naïve"])
    }

    @Test func llama3Pattern() {
        #expect(split("don't DON'T we'LL", llama3) == ["don", "'t", " DON", "'T", " we", "'LL"])
        #expect(split("1234567", llama3) == ["123", "456", "7"])
        #expect(split("   123", llama3) == ["  ", " ", "123"])
        #expect(split(" \n hello", llama3) == [" \n", " hello"])
        #expect(split("\ttab (paren ...dots", llama3) == ["\ttab", " (", "paren", " ...", "dots"])
        #expect(split("x!!\n\ny", llama3) == ["x", "!!\n\n", "y"])
        #expect(split("'sam", llama3) == ["'s", "am"])
        #expect(split("(paren", llama3) == ["(paren"])
        // Oniguruma's case-insensitive match folds LATIN SMALL LETTER LONG S to "s" (checked with HF).
        #expect(split("'\u{17F}ab", llama3) == ["'\u{17F}", "ab"])
        #expect(split("'\u{17F}ab", gpt2) == ["'", "\u{17F}ab"])
        #expect(split("1234567", qwen2) == ["1", "2", "3", "4", "5", "6", "7"])
    }

    @Test func digitsAndMetaspace() {
        #expect(split("ab12c3", .digits(individual: true)) == ["ab", "1", "2", "c", "3"])
        #expect(split("ab12c3", .digits(individual: false)) == ["ab", "12", "c", "3"])
        let metaspace = PreTokenizer.metaspace(replacement: 0x2581, prepend: .first, split: true)
        #expect(split("hi  there", metaspace) == ["\u{2581}hi", "\u{2581}", "\u{2581}there"])
        let whole = PreTokenizer.metaspace(replacement: 0x2581, prepend: .always, split: false)
        #expect(split("a b", whole) == ["\u{2581}a\u{2581}b"])
    }

    @Test func knownRegexSourcesAreRecognised() {
        #expect(RegexScanners.Pattern(regex: RegexScanners.Pattern.llama3Source) == .llama3(maxDigits: 3))
        #expect(RegexScanners.Pattern(regex: RegexScanners.Pattern.qwen2Source) == .llama3(maxDigits: 1))
        #expect(RegexScanners.Pattern(regex: RegexScanners.Pattern.gpt2Source) == .gpt2)
        #expect(RegexScanners.Pattern(regex: "\\w+") == nil)
    }
}
