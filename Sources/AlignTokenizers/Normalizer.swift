import Foundation

/// A text normalizer from `tokenizer.json` (`normalizer`), applied to each stretch of text between
/// added tokens before pre-tokenization. Works on Unicode scalar values.
indirect enum Normalizer {
    case sequence([Normalizer])
    /// Prepends a string when the text is not empty (Llama-2's "▁").
    case prepend([UInt32])
    /// Replaces every occurrence of a literal string.
    case replace(pattern: [UInt32], content: [UInt32])
    case nfc, nfd, nfkc, nfkd
    case lowercase
    case strip(left: Bool, right: Bool)

    /// Parses the `normalizer` JSON object; `file` names the source for errors.
    init(json: [String: Any], file: String) throws {
        let type = json["type"] as? String ?? ""
        switch type {
        case "Sequence":
            let items = json["normalizers"] as? [[String: Any]] ?? []
            self = .sequence(try items.map { try Normalizer(json: $0, file: file) })
        case "Prepend":
            self = .prepend(scalars(json["prepend"] as? String ?? ""))
        case "Replace":
            let pattern = json["pattern"] as? [String: Any]
            guard let literal = pattern?["String"] as? String else {
                throw TokenizerError(file, "Replace normalizer with a regex pattern is not supported")
            }
            self = .replace(pattern: scalars(literal), content: scalars(json["content"] as? String ?? ""))
        case "NFC": self = .nfc
        case "NFD": self = .nfd
        case "NFKC": self = .nfkc
        case "NFKD": self = .nfkd
        case "Lowercase": self = .lowercase
        case "Strip":
            self = .strip(left: JSON.bool(json["strip_left"]) ?? true, right: JSON.bool(json["strip_right"]) ?? true)
        default:
            throw TokenizerError(file, "normalizer type \"\(type)\" is not supported")
        }
    }

    /// Returns the normalized scalars.
    func normalize(_ input: [UInt32]) -> [UInt32] {
        switch self {
        case .sequence(let steps):
            return steps.reduce(input) { $1.normalize($0) }
        case .prepend(let prefix):
            return input.isEmpty ? input : prefix + input
        case .replace(let pattern, let content):
            return replaceAll(input, pattern, content)
        case .nfc: return viaString(input) { $0.precomposedStringWithCanonicalMapping }
        case .nfd: return viaString(input) { $0.decomposedStringWithCanonicalMapping }
        case .nfkc: return viaString(input) { $0.precomposedStringWithCompatibilityMapping }
        case .nfkd: return viaString(input) { $0.decomposedStringWithCompatibilityMapping }
        case .lowercase: return viaString(input) { $0.lowercased() }
        case .strip(let left, let right):
            var lower = input.startIndex, upper = input.endIndex
            if left { while lower < upper && ScalarClass.of(input[lower]) & ScalarClass.space != 0 { lower += 1 } }
            if right { while upper > lower && ScalarClass.of(input[upper - 1]) & ScalarClass.space != 0 { upper -= 1 } }
            return Array(input[lower..<upper])
        }
    }

    private func viaString(_ input: [UInt32], _ transform: (String) -> String) -> [UInt32] {
        scalars(transform(string(input)))
    }
}

/// The scalar values of a string, decoded straight from its UTF-8 storage (valid by construction).
func scalars(_ string: String) -> [UInt32] {
    var string = string
    return string.withUTF8 { bytes in
        var result = [UInt32]()
        result.reserveCapacity(bytes.count)
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = UInt32(bytes[i])
            if b0 < 0x80 {
                result.append(b0)
                i &+= 1
            } else if b0 < 0xE0 {
                result.append((b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F))
                i &+= 2
            } else if b0 < 0xF0 {
                result.append((b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F))
                i &+= 3
            } else {
                result.append((b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6
                              | UInt32(bytes[i + 3] & 0x3F))
                i &+= 4
            }
        }
        return result
    }
}

/// A string from scalar values (invalid values, which valid input never produces, are dropped).
func string<C: Collection>(_ values: C) -> String where C.Element == UInt32 {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(values.count)
    appendUTF8(values, to: &bytes)
    return String(decoding: bytes, as: UTF8.self)
}

/// Replaces every non-overlapping occurrence of `pattern`, scanning left to right.
func replaceAll(_ input: [UInt32], _ pattern: [UInt32], _ content: [UInt32]) -> [UInt32] {
    guard !pattern.isEmpty, input.count >= pattern.count else { return input }
    if pattern.count == 1 && content.count == 1 {
        let from = pattern[0], to = content[0]
        return input.map { $0 == from ? to : $0 }
    }
    var output: [UInt32] = []
    output.reserveCapacity(input.count)
    var i = 0
    let n = input.count, m = pattern.count
    while i < n {
        if i + m <= n && input[i] == pattern[0] && input[i..<(i + m)].elementsEqual(pattern) {
            output.append(contentsOf: content)
            i += m
        } else {
            output.append(input[i])
            i += 1
        }
    }
    return output
}
