// ModelIO's view of the shared JSON reader: strict options for safetensors headers and side files.
import AlignJSON
import Foundation

extension JSONReaderOptions {
    /// Safetensors headers and Hugging Face side files: duplicate keys are rejected (which one wins
    /// would be ambiguous), integers must fit in 64 bits (offsets and shapes are exact), and nesting
    /// is shallow in every valid file.
    static let modelIO = JSONReaderOptions(duplicateKeys: .reject, requiresInt64Integers: true, maximumDepth: 64)
}

/// Parses a whole JSON document (trailing whitespace allowed: safetensors pads its header with spaces).
enum JSONParser {
    /// Parses one complete document from raw bytes.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        try JSONReader.parse(bytes.bindMemory(to: UInt8.self), options: .modelIO)
    }

    /// Parses a document held in `Data`.
    static func parse(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { try parse($0) }
    }
}

extension JSONValue {
    /// A short name of the value's kind, for error messages ("a number", "an object", ...).
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
