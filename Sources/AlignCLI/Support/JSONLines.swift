import AlignData
import AlignJSON
import Foundation

/// One row of a JSON Lines (or JSON array) file with where it came from, read by the same reader
/// as every dataset (``readJSONRows(_:)``): BOM, CRLF, blank lines, invalid UTF-8 and over-long
/// rows are handled, and named by line, the same way everywhere.
struct JSONRow {
    /// `file:line` of the row.
    let location: RowLocation
    /// The parsed row.
    let value: JSONValue

    /// A string field, or nil when absent.
    func string(_ key: String) -> String? {
        if case .string(let s)? = value[key] { return s }
        return nil
    }

    /// A required string field.
    func requireString(_ key: String) throws -> String {
        guard let s = string(key) else { throw DatasetError(location, "missing string field \"\(key)\"") }
        return s
    }

    /// A required list of strings.
    func requireStrings(_ key: String) throws -> [String] {
        guard case .array(let items)? = value[key] else { throw DatasetError(location, "missing list field \"\(key)\"") }
        return try items.map { item in
            guard case .string(let s) = item else { throw DatasetError(location, "\"\(key)\" must hold only strings") }
            return s
        }
    }

    /// Whether the row has `key`.
    func has(_ key: String) -> Bool { value[key] != nil }
}

/// Reads JSON Lines (or a JSON array of objects); a malformed row is an error naming file:line.
func readJSONObjects(_ path: String) throws -> [JSONRow] {
    try readJSONRows(URL(fileURLWithPath: (path as NSString).expandingTildeInPath)).map { location, value in
        guard case .object = value else { throw DatasetError(location, "expected a JSON object") }
        return JSONRow(location: location, value: value)
    }
}

/// Writes objects as JSON Lines with sorted keys.
func writeJSONObjects(_ rows: [[String: Any]], to path: String) throws {
    var data = Data()
    for row in rows {
        data.append(try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys, .withoutEscapingSlashes]))
        data.append(0x0A)
    }
    try data.write(to: URL(fileURLWithPath: path), options: .atomic)
}
