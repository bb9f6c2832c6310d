import AlignJSON
import AlignParquet
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a row sits in its file: the 1-based line it starts on and, for a JSON-array file, its 0-based
/// element index; for a Parquet file, its 0-based row and row group.
public struct RowLocation: Sendable, Equatable, CustomStringConvertible {
    /// The file's name as given (the path's last component in messages).
    public var file: String
    /// 1-based line number where the row starts (for Parquet, the 1-based row number, so locations
    /// still sort in file order).
    public var line: Int
    /// 0-based index of the row in a JSON-array file; nil for JSON Lines and Parquet.
    public var element: Int?
    /// 0-based row group of a Parquet row; nil for JSON files.
    public var rowGroup: Int?

    /// Creates a location.
    public init(file: String, line: Int, element: Int? = nil) {
        self.file = file
        self.line = line
        self.element = element
    }

    /// The location of row `row` (0-based, as `datasets` indexes it) of a Parquet file, in row group
    /// `rowGroup`.
    public init(file: String, parquetRow row: Int, rowGroup: Int) {
        self.file = file
        self.line = row + 1
        self.rowGroup = rowGroup
    }

    /// `file:line`, plus ` (element N)` for JSON arrays; `file row N (row group G)` for Parquet.
    public var description: String {
        if let rowGroup { return "\(file) row \(line - 1) (row group \(rowGroup))" }
        return element.map { "\(file):\(line) (element \($0))" } ?? "\(file):\(line)"
    }
}

/// A dataset that cannot be used: a malformed row (with its location and the reason), an unreadable
/// file, or an inconsistent dataset.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    /// The offending row, or nil for file-level problems.
    public var location: RowLocation?
    /// The file (for file-level errors; the same as `location.file` otherwise).
    public var file: String
    /// What is wrong, e.g. `missing field "chosen"`.
    public var reason: String

    /// An error at a row.
    public init(_ location: RowLocation, _ reason: String) {
        self.location = location
        self.file = location.file
        self.reason = reason
    }

    /// An error about a whole file.
    public init(file: String, _ reason: String) {
        self.location = nil
        self.file = file
        self.reason = reason
    }

    /// `file:line: reason` (or `file: reason`).
    public var description: String { "\(location?.description ?? file): \(reason)" }
}

/// How to treat rows that fail to parse or validate.
public struct ReadOptions: Sendable {
    /// Skip malformed rows and count them (``ReadReport/skippedRows``) instead of failing on the first.
    public var skipBadRows: Bool

    /// Options; by default the first malformed row is an error.
    public init(skipBadRows: Bool = false) {
        self.skipBadRows = skipBadRows
    }
}

/// What reading a file found besides its examples.
public struct ReadReport: Sendable, Equatable {
    /// Number of non-blank rows in the file.
    public var totalRows: Int = 0
    /// Rows skipped as malformed (only with ``ReadOptions/skipBadRows``).
    public var skippedRows: Int = 0
    /// The first few skip reasons (at most 20), so a user sees what was wrong without a flood.
    public var skippedReasons: [DatasetError] = []

    /// An empty report.
    public init() {}

    mutating func skip(_ error: DatasetError) {
        skippedRows += 1
        if skippedReasons.count < 20 { skippedReasons.append(error) }
    }
}

/// Longest row accepted (bytes of one JSON Lines line): far beyond any sequence a model can read,
/// small enough that tokenising a runaway line cannot exhaust memory.
public let maximumRowBytes = 8 << 20

/// Reads a JSON Lines (or JSON array) file into its rows, each with its location, with the same
/// rules as every dataset reader (BOM, CRLF, blank lines, invalid UTF-8 and over-long rows named by
/// line). The first malformed row is an error. Parquet files (`.parquet`), folders of them and
/// `*` patterns are read as ``RowReader`` reads them for datasets.
public func readJSONRows(_ url: URL) throws -> [(location: RowLocation, value: JSONValue)] {
    try RowReader.rows(of: url).map { row in (row.location, try row.value.get()) }
}

/// One raw row of a dataset file: its location and its parsed JSON, or why it failed to parse.
struct RawRow {
    var location: RowLocation
    var value: Result<JSONValue, DatasetError>
}

/// Reads JSON Lines, JSON-array and Parquet files into rows, with their locations.
enum RowReader {
    /// Reads `url`: a `.parquet` file; a folder, or a path whose last component has a `*` pattern
    /// (`data/train-*.parquet`), of Parquet files read in name order as one split (the Hub's layout);
    /// otherwise a JSON file. The JSON format is picked by the first non-whitespace byte: `[` is a JSON
    /// array of rows, anything else JSON Lines (one object per line, blank lines ignored).
    static func rows(of url: URL) throws -> [RawRow] {
        var rows: [RawRow] = []
        try forEachRow(of: url) { rows.append($0) }
        return rows
    }

    /// Hands `url`'s rows to `body` in file order, as ``rows(of:)`` reads them, and stops as soon as
    /// `body` throws. JSON Lines rows are parsed one at a time, so a strict reader that fails on line 3
    /// never parses (nor holds) the rest of the file. A JSON array or Parquet file is read whole first:
    /// a syntax error anywhere in an array, or a damaged Parquet file, is the file's error before any
    /// of its rows is judged.
    static func forEachRow(of url: URL, _ body: (RawRow) throws -> Void) throws {
        if let files = try parquetFiles(url) {
            var rows: [RawRow] = []
            for file in files { rows += try parquetRows(of: file) }
            for row in rows { try body(row) }
            return
        }
        let name = url.lastPathComponent
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw DatasetError(file: name, "cannot read the file: \(error.localizedDescription)")
        }
        try data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0
            // A UTF-8 byte-order mark is allowed (some editors write one).
            if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { start = 3 }
            var first = start
            while first < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[first]) { first += 1 }
            if first < bytes.count && bytes[first] == UInt8(ascii: "[") {
                for row in try arrayRows(bytes, start: start, name: name) { try body(row) }
                return
            }
            try lineRows(bytes, start: start, name: name, body)
        }
    }

    /// JSON Lines: each non-blank line is one row, parsed independently so a bad line spoils only itself,
    /// and handed to `body` before the next line is parsed.
    static func lineRows(_ bytes: UnsafeBufferPointer<UInt8>, start: Int, name: String,
                         _ body: (RawRow) throws -> Void) rethrows {
        var lineStart = start
        var line = 1
        let count = bytes.count
        while lineStart < count {
            var lineEnd = lineStart
            while lineEnd < count && bytes[lineEnd] != 0x0A { lineEnd &+= 1 }
            var contentEnd = lineEnd
            if contentEnd > lineStart && bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            var blank = true
            for i in lineStart..<contentEnd where bytes[i] != 0x20 && bytes[i] != 0x09 { blank = false; break }
            if !blank {
                let location = RowLocation(file: name, line: line)
                if contentEnd - lineStart > maximumRowBytes {
                    try body(RawRow(location: location, value: .failure(DatasetError(
                        location, "the row is \(contentEnd - lineStart) bytes; a row may have at most \(maximumRowBytes) (8 MiB)"))))
                    lineStart = lineEnd + 1
                    line += 1
                    continue
                }
                let value: Result<JSONValue, DatasetError>
                do {
                    value = .success(try JSONReader.parse(bytes, start: lineStart, end: contentEnd, options: .dataset))
                } catch let e as JSONSyntaxError {
                    value = .failure(DatasetError(location, "invalid JSON at column \(e.column): \(e.message)"))
                } catch {
                    value = .failure(DatasetError(location, "\(error)"))
                }
                // Outside the `do`: an error `body` throws ends the read; it is not this row's parse error.
                try body(RawRow(location: location, value: value))
            }
            lineStart = lineEnd + 1
            line += 1
        }
    }

    /// A JSON array: the elements are the rows. A syntax error inside the array ends it (no resync is
    /// possible), so it throws with the line where parsing stopped.
    static func arrayRows(_ bytes: UnsafeBufferPointer<UInt8>, start: Int, name: String) throws -> [RawRow] {
        var parser = JSONReader(bytes, start: start, options: .dataset)
        var rows: [RawRow] = []
        // Line numbers are counted incrementally from the previous element's start.
        var line = 1
        var counted = 0
        func lineAt(_ offset: Int) -> Int {
            while counted < offset {
                if bytes[counted] == 0x0A { line += 1 }
                counted += 1
            }
            return line
        }
        func fail(_ e: JSONSyntaxError, element: Int?) -> DatasetError {
            DatasetError(RowLocation(file: name, line: lineAt(min(e.offset, bytes.count)), element: element),
                         "invalid JSON: \(e.message)")
        }
        parser.skipWhitespace()
        parser.position += 1  // '['
        parser.skipWhitespace()
        if parser.position < bytes.count && bytes[parser.position] == UInt8(ascii: "]") {
            parser.position += 1
        } else {
            var index = 0
            while true {
                parser.skipWhitespace()
                let location = RowLocation(file: name, line: lineAt(parser.position), element: index)
                do {
                    let value = try parser.readValue()
                    rows.append(RawRow(location: location, value: .success(value)))
                } catch let e as JSONSyntaxError {
                    throw fail(e, element: index)
                }
                parser.skipWhitespace()
                guard parser.position < bytes.count else {
                    throw fail(parser.error("unterminated array (missing ']')"), element: nil)
                }
                if bytes[parser.position] == UInt8(ascii: ",") { parser.position += 1; index += 1; continue }
                if bytes[parser.position] == UInt8(ascii: "]") { parser.position += 1; break }
                throw fail(parser.error("expected ',' or ']' after element \(index)"), element: index)
            }
        }
        parser.skipWhitespace()
        if parser.position < bytes.count {
            throw fail(parser.error("unexpected text after the top-level array"), element: nil)
        }
        return rows
    }
}

extension RowReader {
    /// The Parquet files `url` names, or nil when it names a JSON file. A folder must hold `.parquet`
    /// files (other files beside them are ignored); a pattern must match at least one.
    static func parquetFiles(_ url: URL) throws -> [URL]? {
        let name = url.lastPathComponent
        if url.pathExtension.lowercased() == "parquet" && !name.contains("*") { return [url] }
        var isFolder: ObjCBool = false
        let folder: URL, pattern: String?
        if name.contains("*") {
            folder = url.deletingLastPathComponent()
            pattern = name
        } else if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
            folder = url
            pattern = nil
        } else {
            return nil
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            throw DatasetError(file: pattern == nil ? name : folder.lastPathComponent,
                               "cannot list the folder: \(error.localizedDescription)")
        }
        let matches = names.filter { candidate in
            if let pattern { return fnmatch(pattern, candidate, 0) == 0 }
            return candidate.lowercased().hasSuffix(".parquet")
        }.sorted()
        guard !matches.isEmpty else {
            throw DatasetError(file: name, pattern == nil ? "the folder holds no .parquet files" : "no file matches the pattern")
        }
        return matches.map { folder.appendingPathComponent($0) }
    }

    /// A Parquet file's rows, each located by row and row group. A damaged or unsupported file is an
    /// error naming the file, row group and column (Parquet has no per-row resynchronisation, so
    /// `skipBadRows` cannot skip past it); rows that are not valid dataset rows are judged later, one by one.
    static func parquetRows(of url: URL) throws -> [RawRow] {
        let name = url.lastPathComponent
        do {
            let file = try ParquetFile(contentsOf: url)
            var rows: [RawRow] = []
            rows.reserveCapacity(min(file.rowCount, 1 << 20))
            var index = 0
            for group in 0..<file.rowGroupCount {
                for value in try file.rows(inRowGroup: group) {
                    rows.append(RawRow(location: RowLocation(file: name, parquetRow: index, rowGroup: group), value: .success(value)))
                    index += 1
                }
            }
            return rows
        } catch let error as ParquetError {
            throw DatasetError(file: error.file, error.detail)
        }
    }
}
