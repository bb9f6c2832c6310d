/// The `decoder` of `tokenizer.json`: turns the token strings of an id sequence back into text.
/// Like Hugging Face, each step maps a list of token strings to a new list.
indirect enum Decoder {
    case sequence([Decoder])
    /// Undo the GPT-2 byte alphabet and join into one string (invalid UTF-8 becomes U+FFFD).
    case byteLevel
    /// Replace a literal string in every token.
    case replace(pattern: String, content: String)
    /// Runs of `<0xNN>` tokens become the text their bytes spell (U+FFFD per byte when not valid UTF-8).
    case byteFallback
    /// Join all tokens into one.
    case fuse
    /// Remove up to `start` leading and `stop` trailing copies of `content` from each token.
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    /// Replacement character back to spaces; the first token loses them when a prefix was prepended.
    case metaspace(replacement: Unicode.Scalar, prepend: PreTokenizer.PrependScheme)

    init(json: [String: Any], file: String) throws {
        let type = json["type"] as? String ?? ""
        switch type {
        case "Sequence":
            let items = json["decoders"] as? [[String: Any]] ?? []
            self = .sequence(try items.map { try Decoder(json: $0, file: file) })
        case "ByteLevel":
            self = .byteLevel
        case "Replace":
            guard let pattern = (json["pattern"] as? [String: Any])?["String"] as? String else {
                throw TokenizerError(file, "Replace decoder with a regex pattern is not supported")
            }
            self = .replace(pattern: pattern, content: json["content"] as? String ?? "")
        case "ByteFallback":
            self = .byteFallback
        case "Fuse":
            self = .fuse
        case "Strip":
            let content = (json["content"] as? String)?.unicodeScalars.first ?? " "
            self = .strip(content: content, start: JSON.int(json["start"]) ?? 0, stop: JSON.int(json["stop"]) ?? 0)
        case "Metaspace":
            let replacement = (json["replacement"] as? String)?.unicodeScalars.first ?? "\u{2581}"
            self = .metaspace(replacement: replacement, prepend: try metaspaceScheme(json, file: file))
        default:
            throw TokenizerError(file, "decoder type \"\(type)\" is not supported")
        }
    }

    /// Applies this step to the token strings.
    func decode(_ tokens: [String]) -> [String] {
        switch self {
        case .sequence(let steps):
            return steps.reduce(tokens) { $1.decode($0) }
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                if let spelled = ByteLevelAlphabet.bytes(ofToken: token) {
                    bytes += spelled
                } else {
                    bytes += Array(token.utf8)  // outside the alphabet (an added token with a space, say)
                }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .replace(let pattern, let content):
            guard let first = pattern.unicodeScalars.first else { return tokens }
            // Most tokens lack the pattern's first scalar; leave those untouched without copying.
            return tokens.map { $0.unicodeScalars.contains(first) ? $0.replacingAll(pattern, with: content) : $0 }
        case .byteFallback:
            var output: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                let text = String(decoding: pending, as: UTF8.self)
                if text.utf8.elementsEqual(pending) {  // valid UTF-8: decoding changed nothing
                    output.append(text)
                } else {
                    output.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
                }
                pending.removeAll()
            }
            for token in tokens {
                if let byte = Decoder.fallbackByte(token) {
                    pending.append(byte)
                } else {
                    flush()
                    output.append(token)
                }
            }
            flush()
            return output
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                // Hugging Face counts Unicode scalars (Rust chars), not grapheme clusters.
                var characters = Substring(token).unicodeScalars
                var removed = 0
                while removed < start, characters.first == content {
                    characters = characters.dropFirst()
                    removed += 1
                }
                removed = 0
                while removed < stop, characters.last == content {
                    characters = characters.dropLast()
                    removed += 1
                }
                return String(characters)
            }
        case .metaspace(let replacement, let prepend):
            return tokens.enumerated().map { index, token in
                var result = String.UnicodeScalarView()
                for scalar in token.unicodeScalars {
                    if scalar == replacement {
                        if index == 0 && prepend != .never { continue }
                        result.append(" ")
                    } else {
                        result.append(scalar)
                    }
                }
                return String(result)
            }
        }
    }

    /// The byte of a `<0xNN>` token (read without copying the token: this runs once per token).
    static func fallbackByte(_ token: String) -> UInt8? {
        let utf8 = token.utf8
        guard utf8.count == 6 else { return nil }
        var index = utf8.startIndex
        var value: UInt8 = 0
        for position in 0..<6 {
            let byte = utf8[index]
            switch position {
            case 0: guard byte == 0x3C else { return nil }  // <
            case 1: guard byte == 0x30 else { return nil }  // 0
            case 2: guard byte == 0x78 else { return nil }  // x
            case 5: guard byte == 0x3E else { return nil }  // >
            default:
                let digit: UInt8
                switch byte {
                case 0x30...0x39: digit = byte - 0x30
                case 0x41...0x46: digit = byte - 0x41 + 10
                case 0x61...0x66: digit = byte - 0x61 + 10
                default: return nil
                }
                value = value << 4 | digit
            }
            index = utf8.index(after: index)
        }
        return value
    }
}

extension String {
    /// Every non-overlapping occurrence of `pattern` replaced, left to right (no Foundation needed).
    func replacingAll(_ pattern: String, with replacement: String) -> String {
        guard !pattern.isEmpty else { return self }
        return string(replaceAll(scalars(self), scalars(pattern), scalars(replacement)))
    }
}
