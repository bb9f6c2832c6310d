import Foundation

/// Reads JSON Lines (or a JSON array) into objects, naming file:line on a malformed row.
func readJSONObjects(_ path: String) throws -> [[String: Any]] {
    let url = URL(fileURLWithPath: path)
    let text: String
    do { text = try String(contentsOf: url, encoding: .utf8) } catch {
        throw ValidationErrorMessage("\(path): cannot read (\(error.localizedDescription))")
    }
    let trimmed = text.drop { $0.isWhitespace }
    if trimmed.first == "[" {
        guard let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw ValidationErrorMessage("\(path): not a JSON array of objects")
        }
        return array
    }
    var rows: [[String: Any]] = []
    for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let s = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if s.isEmpty { continue }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any] else {
            throw ValidationErrorMessage("\(path):\(i + 1): not a JSON object")
        }
        rows.append(obj)
    }
    return rows
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

/// A required string field of a row, with file:line-style context.
func stringField(_ row: [String: Any], _ key: String, _ source: String, _ index: Int) throws -> String {
    guard let v = row[key] as? String else { throw ValidationErrorMessage("\(source): row \(index + 1) has no string \"\(key)\"") }
    return v
}
