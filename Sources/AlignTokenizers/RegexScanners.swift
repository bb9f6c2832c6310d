/// Hand-written scanners that reproduce, match for match, the pre-tokenization regexes of the common
/// byte-level BPE tokenizers. Each scanner walks the scalars once, choosing at every position the first
/// alternative of the pattern that matches (regex alternation is ordered, not longest-match), and
/// reports each match as a half-open range of offsets into the piece.
///
/// Why not NSRegularExpression or Swift Regex: they are slow on megabytes of text, differ between
/// platforms in their Unicode tables, and the lookahead `\s+(?!\S)` is easy to reproduce exactly by hand.
enum RegexScanners {
    /// Which known pattern a scanner implements.
    enum Pattern: Equatable {
        /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
        case gpt2
        /// Llama-3 (maxDigits 3) and Qwen2 (maxDigits 1):
        /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
        case llama3(maxDigits: Int)

        /// The pattern a `Split` pre-tokenizer's regex string denotes, when it is one we implement.
        init?(regex: String) {
            switch regex {
            case Self.gpt2Source: self = .gpt2
            case Self.llama3Source, Self.smaugSource: self = .llama3(maxDigits: 3)
            case Self.qwen2Source: self = .llama3(maxDigits: 1)
            default: return nil
            }
        }

        static let gpt2Source = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
        static let llama3Source = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        static let qwen2Source = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        /// llama.cpp's spelling of the Llama-3 pattern without the `(?i:...)` group (smaug-bpe, dbrx).
        static let smaugSource = #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    }

    /// Appends the end offset of every match of `pattern` in `scalars` to `ends` (matches tile the input:
    /// each starts where the previous ended, so ends alone describe them).
    static func scan(_ pattern: Pattern, _ scalars: UnsafeBufferPointer<UInt32>, _ classes: UnsafeBufferPointer<UInt8>,
                     ends: inout [Int]) {
        switch pattern {
        case .gpt2: scanGPT2(scalars, classes, ends: &ends)
        case .llama3(let maxDigits): scanLlama3(scalars, classes, maxDigits: maxDigits, ends: &ends)
        }
    }

    /// Length of the contraction (`'s 't 're 've 'm 'll 'd`) starting at `i` (an apostrophe), or 0.
    @inline(__always)
    static func contractionLength(_ s: UnsafeBufferPointer<UInt32>, _ i: Int, caseInsensitive: Bool) -> Int {
        let n = s.count
        guard i + 1 < n else { return 0 }
        @inline(__always) func fold(_ c: UInt32) -> UInt32 {
            guard caseInsensitive else { return c }
            if c >= 0x41 && c <= 0x5A { return c + 0x20 }
            if c == 0x17F { return 0x73 }  // LATIN SMALL LETTER LONG S case-folds to "s"
            return c
        }
        let a = fold(s[i + 1])
        switch a {
        case 0x73, 0x74, 0x6D, 0x64: return 2  // s t m d
        case 0x72, 0x76:  // r v: need "e"
            return i + 2 < n && fold(s[i + 2]) == 0x65 ? 3 : 0
        case 0x6C:  // l: need another "l"
            return i + 2 < n && fold(s[i + 2]) == 0x6C ? 3 : 0
        default: return 0
        }
    }

    /// End of the run of scalars from `i` whose class has any bit of `mask` (or, with `exact`, equals it).
    @inline(__always)
    static func runEnd(_ c: UnsafeBufferPointer<UInt8>, from i: Int, where test: (UInt8) -> Bool) -> Int {
        var j = i
        while j < c.count && test(c[j]) { j &+= 1 }
        return j
    }

    @inline(__always) static func isOther(_ k: UInt8) -> Bool { k == ScalarClass.other }
    @inline(__always) static func isLetter(_ k: UInt8) -> Bool { k == ScalarClass.letter }
    @inline(__always) static func isNumber(_ k: UInt8) -> Bool { k == ScalarClass.number }
    @inline(__always) static func isSpace(_ k: UInt8) -> Bool { k & ScalarClass.space != 0 }
    @inline(__always) static func isNewline(_ k: UInt8) -> Bool { k & ScalarClass.newline != 0 }

    /// The whitespace alternatives `\s+(?!\S)|\s+` at `i`: a run that reaches the end is taken whole;
    /// otherwise the last whitespace scalar is left for the following token, unless the run is a
    /// single scalar (then `\s+` takes it alone).
    @inline(__always)
    static func trailingWhitespaceEnd(_ c: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        let r = runEnd(c, from: i, where: isSpace)
        if r == c.count { return r }
        return r - i >= 2 ? r - 1 : i + 1
    }

    static func scanGPT2(_ s: UnsafeBufferPointer<UInt32>, _ c: UnsafeBufferPointer<UInt8>, ends: inout [Int]) {
        let n = s.count
        var i = 0
        while i < n {
            var end: Int
            if s[i] == 0x27, case let len = contractionLength(s, i, caseInsensitive: false), len > 0 {
                end = i + len
            } else {
                // ` ?X+` alternatives: an optional single U+0020 then a run of one class.
                let start = (s[i] == 0x20 && i + 1 < n && !isSpace(c[i + 1])) ? i + 1 : i
                let k = c[start]
                if isLetter(k) {
                    end = runEnd(c, from: start, where: isLetter)
                } else if isNumber(k) {
                    end = runEnd(c, from: start, where: isNumber)
                } else if isOther(k) {
                    end = runEnd(c, from: start, where: isOther)
                } else {
                    end = trailingWhitespaceEnd(c, i)
                }
            }
            ends.append(end)
            i = end
        }
    }

    static func scanLlama3(_ s: UnsafeBufferPointer<UInt32>, _ c: UnsafeBufferPointer<UInt8>, maxDigits: Int,
                           ends: inout [Int]) {
        let n = s.count
        var i = 0
        while i < n {
            let k = c[i]
            var end: Int
            if s[i] == 0x27, case let len = contractionLength(s, i, caseInsensitive: true), len > 0 {
                end = i + len
            } else if isLetter(k) {
                // [^\r\n\p{L}\p{N}]?\p{L}+ without the optional prefix
                end = runEnd(c, from: i, where: isLetter)
            } else if !isNumber(k) && !isNewline(k) && i + 1 < n && isLetter(c[i + 1]) {
                // ...with one prefix scalar that is neither newline, letter nor number (space, tab, '(' ...)
                end = runEnd(c, from: i + 1, where: isLetter)
            } else if isNumber(k) {
                end = min(runEnd(c, from: i, where: isNumber), i + maxDigits)
            } else if isOther(k) || (s[i] == 0x20 && i + 1 < n && isOther(c[i + 1])) {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                let start = isOther(k) ? i : i + 1
                end = runEnd(c, from: runEnd(c, from: start, where: isOther), where: isNewline)
            } else {
                // `\s*[\r\n]+`: up to and including the last newline of the whitespace run.
                let r = runEnd(c, from: i, where: isSpace)
                var lastNewline = -1
                var j = r - 1
                while j >= i {
                    if isNewline(c[j]) { lastNewline = j; break }
                    j -= 1
                }
                end = lastNewline >= 0 ? lastNewline + 1 : trailingWhitespaceEnd(c, i)
            }
            ends.append(end)
            i = end
        }
    }
}
