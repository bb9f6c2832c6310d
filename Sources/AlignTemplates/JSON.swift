// JSON text to TemplateValue through the shared reader, keeping object key order, because tool schemas and
// messages are rendered by `tojson` in the order they were written (Foundation's JSONSerialization loses it).
import AlignJSON

extension TemplateValue {
    /// Parses JSON text (RFC 8259). Integers without fraction or exponent become `.int`, other numbers
    /// `.double`; object keys keep their order.
    public init(json: String) throws {
        var text = json
        let value: JSONValue
        do {
            value = try text.withUTF8 { try JSONReader.parse($0, options: .templates) }
        } catch let error as JSONSyntaxError {
            throw TemplateError(.syntax, "invalid JSON at line \(error.line), column \(error.column) (byte \(error.offset)): \(error.message)")
        }
        self.init(value)
    }

    /// This value as compact JSON in Python's `json.dumps` format (`", "` and `": "` separators, non-ASCII kept).
    public func jsonString() throws -> String {
        var out = ""
        try JSONWriter(ensureASCII: false, indent: nil, itemSeparator: ", ", keySeparator: ": ", sortKeys: false, line: nil)
            .write(self, level: 0, into: &out)
        return out
    }
}

extension JSONReaderOptions {
    /// Template arguments (tool schemas, messages) are read as Python's `json` reads them: the last
    /// duplicate key wins and a lone surrogate escape becomes U+FFFD.
    static let templates = JSONReaderOptions(duplicateKeys: .lastWins, loneSurrogates: .replace, maximumDepth: 512)
}

extension TemplateValue {
    /// The template value of parsed JSON: integers that fit in `Int` become `.int`, other numbers
    /// `.double`; a repeated key keeps its first position and takes its last value, as in a Python dict.
    init(_ json: JSONValue) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .number(let n):
            if let i = n.integer { self = .int(i) } else { self = .double(n.double ?? .nan) }
        case .string(let s): self = .string(s)
        case .array(let items): self = .array(items.map(TemplateValue.init))
        case .object(let members):
            var object = TemplateObject()
            for (key, value) in members { object[key] = TemplateValue(value) }
            self = .object(object)
        }
    }
}
