import Foundation

/// A data file (lexicon, corpus) that could not be read or holds a malformed line.
///
/// The description names the file and, where one is to blame, the 1-based line, so a user can open
/// the file at the right place.
public struct DataFileError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file's path, or the name the caller gave to in-memory contents.
    public let file: String
    /// The 1-based line at fault, or `nil` when the whole file is at fault (missing, not UTF-8).
    public let line: Int?
    /// What is wrong, in words.
    public let reason: String

    /// Creates an error for `file` (and `line`, when one line is at fault).
    public init(file: String, line: Int? = nil, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    /// `file:line: reason`, the form compilers use, so editors and terminals can jump to it.
    public var description: String {
        if let line { return "\(file):\(line): \(reason)" }
        return "\(file): \(reason)"
    }
}

/// Reads a whole file as UTF-8, failing with a `DataFileError` that names it.
func readUTF8File(_ url: URL) throws -> String {
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw DataFileError(file: url.path, reason: "cannot read file (\(error.localizedDescription))")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw DataFileError(file: url.path, reason: "file is not valid UTF-8")
    }
    return text
}

/// Splits text into lines at "\n" bytes, as Python's `split('\n')` does; a "\r" before the "\n"
/// stays on the line for the caller to strip. (Swift's `Character` treats "\r\n" as one grapheme,
/// so a `Character` split would not break CRLF files at all.)
func splitLines(_ text: String) -> [Substring] {
    var lines: [Substring] = []
    var start = text.utf8.startIndex
    var index = start
    let end = text.utf8.endIndex
    while index < end {
        if text.utf8[index] == 0x0A {
            lines.append(Substring(text.utf8[start..<index]))
            start = text.utf8.index(after: index)
        }
        index = text.utf8.index(after: index)
    }
    lines.append(Substring(text.utf8[start..<end]))
    return lines
}

/// `text` without leading and trailing Python whitespace (`str.strip()`).
func pythonStrip<S: StringProtocol>(_ text: S) -> Substring {
    let scalars = Substring(text).unicodeScalars
    guard let first = scalars.firstIndex(where: { !isPythonWhitespace($0.value) }) else {
        return Substring()
    }
    let last = scalars.lastIndex(where: { !isPythonWhitespace($0.value) })!
    return Substring(scalars[first...last])
}
