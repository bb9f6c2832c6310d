// Serialises JSONValue the way the Hugging Face files this package writes expect.

/// Serialises JSON the way `serde_json` does (compact, no spaces, non-ASCII left as UTF-8, control
/// characters escaped), or with Python's `json.dumps(indent=2)` layout when `indent` is set.
///
/// Numbers are written in canonical form (integers in decimal, others as Swift's shortest round-trip
/// `Double`), not as their literal text: a side file read and written back keeps the layout it had
/// when this writer held `Int`/`Double`, and safetensors headers (integers only) round-trip byte for
/// byte either way.
public enum JSONWriter {
    /// Appends the compact or indented serialisation of `value` to `out`.
    public static func write(_ value: JSONValue, into out: inout [UInt8], indent: Int? = nil, level: Int = 0) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: canonical(n).utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent: indent, level: level + 1)
                write(element, into: &out, indent: indent, level: level + 1)
            }
            if !elements.isEmpty { newline(&out, indent: indent, level: level) }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent: indent, level: level + 1)
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                if indent != nil { out.append(UInt8(ascii: " ")) }
                write(member.value, into: &out, indent: indent, level: level + 1)
            }
            if !members.isEmpty { newline(&out, indent: indent, level: level) }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The serialisation as bytes: compact, or indented by `indent` spaces per level.
    public static func bytes(_ value: JSONValue, indent: Int? = nil) -> [UInt8] {
        var out: [UInt8] = []
        write(value, into: &out, indent: indent)
        return out
    }

    private static func canonical(_ n: JSONNumber) -> String {
        if let i = n.integer { return String(i) }
        // Only a finite Double has a JSON spelling: Swift prints `inf`/`nan`, which no reader accepts.
        if !n.isInteger, let d = n.double, d.isFinite { return "\(d)" }
        // An integer too large for Int, a literal beyond Double's range (`1e999`) or a NaN/Infinity
        // literal a lenient reader allowed: the literal itself is exact and readable again.
        return n.text
    }

    private static func newline(_ out: inout [UInt8], indent: Int?, level: Int) {
        guard let indent else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
