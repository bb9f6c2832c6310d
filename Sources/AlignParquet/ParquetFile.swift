// A Parquet file opened for reading rows as JSON values, the form every Align dataset reader takes.
import AlignJSON
import Foundation

/// A Parquet file that cannot be read, in Align's words: the file, and where known the row group and
/// the column (dotted schema path) where reading stopped.
public struct ParquetError: Error, CustomStringConvertible, Equatable {
    /// The file's name as given (its last path component).
    public var file: String
    /// 0-based row group, when the problem is inside one.
    public var rowGroup: Int?
    /// Dotted column path (e.g. `chosen.list.element.content`), when the problem is in one column.
    public var column: String?
    /// What is wrong.
    public var reason: String

    /// An error at a place in a file.
    public init(file: String, rowGroup: Int? = nil, column: String? = nil, _ reason: String) {
        self.file = file
        self.rowGroup = rowGroup
        self.column = column
        self.reason = reason
    }

    /// Where and what, without the file name: `row group 2, column "chosen": reason`.
    public var detail: String {
        var parts: [String] = []
        if let rowGroup { parts.append("row group \(rowGroup)") }
        if let column { parts.append("column \"\(column)\"") }
        return parts.isEmpty ? reason : parts.joined(separator: ", ") + ": " + reason
    }

    /// `file: row group 2, column "chosen": reason`.
    public var description: String { "\(file): \(detail)" }
}

/// A Parquet file: its footer parsed and its schema rebuilt, ready to read rows.
///
/// Reads what pyarrow, Hugging Face `datasets` and the Hub write: data pages v1 and v2; PLAIN,
/// dictionary (RLE/bit-packed indices), RLE booleans and the DELTA_* encodings; SNAPPY, ZSTD, GZIP or no
/// compression; nullable and nested columns (lists, including the conversational
/// `list<struct<role, content>>`, structs and maps) assembled from definition and repetition levels.
/// BYTE_STREAM_SPLIT, LZ4/BROTLI/LZO compression, INT96, binary DECIMAL and
/// encrypted files are refused with an error that says so.
///
/// ```swift
/// let file = try ParquetFile(contentsOf: URL(fileURLWithPath: "train.parquet"))
/// for group in 0..<file.rowGroupCount {
///     for row in try file.rows(inRowGroup: group) { print(row["prompt"] ?? .null) }
/// }
/// ```
public struct ParquetFile {
    /// The file's name (last path component), used in every error.
    public let name: String
    /// Total rows, as the footer records them (checked against the row groups).
    public let rowCount: Int
    /// Rows in each row group.
    public let rowGroupRowCounts: [Int]
    /// The top-level field names, in schema order (the keys of every row object).
    public let fieldNames: [String]
    /// The writer named in the footer (`created_by`), if any.
    public let createdBy: String?

    let data: Data
    let metadata: FileMetadata
    let schema: Schema
    /// The offset where the footer starts (column data lies before it).
    let footerStart: Int

    /// Number of row groups.
    public var rowGroupCount: Int { rowGroupRowCounts.count }

    /// Opens `url` (memory-mapped) and parses its footer; a file that is not Parquet, is truncated or
    /// has a malformed footer throws a ``ParquetError`` naming it.
    public init(contentsOf url: URL) throws {
        let name = url.lastPathComponent
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw ParquetError(file: name, "cannot read the file: \(error.localizedDescription)")
        }
        try self.init(data: data, name: name)
    }

    /// Parses Parquet bytes already in memory; `name` is used in errors.
    public init(data: Data, name: String) throws {
        self.name = name
        self.data = data
        func fail(_ reason: String) -> ParquetError { ParquetError(file: name, reason) }
        let parsed: (FileMetadata, Int) = try data.withUnsafeBytes { bytes in
            let size = bytes.count
            // "PAR1", data, footer, 4-byte footer length, "PAR1".
            guard size >= 12 else { throw fail("not a Parquet file: \(size) bytes is too short") }
            let magic = Array(bytes[0..<4]), tail = Array(bytes[(size - 4)...])
            if tail == Array("PARE".utf8) { throw fail("the file is encrypted, which is not supported") }
            guard magic == Array("PAR1".utf8) else { throw fail("not a Parquet file (it does not start with PAR1)") }
            guard tail == Array("PAR1".utf8) else {
                throw fail("the file is truncated or damaged (it does not end with PAR1)")
            }
            let footerLength = Int(loadLittleEndian(bytes, size - 8, as: UInt32.self))
            guard footerLength <= size - 12 else {
                throw fail("the footer length (\(footerLength) bytes) is larger than the file allows (\(size - 12))")
            }
            let footerStart = size - 8 - footerLength
            var reader = ThriftReader(UnsafeRawBufferPointer(rebasing: bytes[footerStart..<(size - 8)]))
            do {
                return (try FileMetadata(&reader), footerStart)
            } catch let e as ThriftError {
                throw fail("the footer is malformed: \(e.message)")
            }
        }
        metadata = parsed.0
        footerStart = parsed.1
        do { schema = try Schema(metadata.schema) } catch let e as ThriftError {
            throw fail("the schema is malformed: \(e.message)")
        }
        guard !schema.leaves.isEmpty else { throw fail("the schema has no columns") }
        var counts: [Int] = []
        var total: Int64 = 0
        for (g, group) in metadata.rowGroups.enumerated() {
            guard group.numRows >= 0, group.numRows <= Int64(maximumChunkEntries) else {
                throw ParquetError(file: name, rowGroup: g, "the row group claims \(group.numRows) rows")
            }
            guard group.columns.count == schema.leaves.count else {
                throw ParquetError(file: name, rowGroup: g,
                                   "the row group has \(group.columns.count) column chunks; the schema has \(schema.leaves.count) columns")
            }
            counts.append(Int(group.numRows))
            total += group.numRows
        }
        guard metadata.numRows == total else {
            throw fail("the footer says \(metadata.numRows) rows; the row groups hold \(total)")
        }
        rowCount = Int(total)
        rowGroupRowCounts = counts
        fieldNames = schema.root.children.map(\.name)
        createdBy = metadata.createdBy
    }

    /// The rows of row group `index` (0-based), each a JSON object with the top-level fields in schema
    /// order. Throws a ``ParquetError`` naming the row group and column on damaged or unsupported data.
    public func rows(inRowGroup index: Int) throws -> [JSONValue] {
        precondition(index >= 0 && index < rowGroupCount, "row group \(index) out of range")
        let group = metadata.rowGroups[index]
        let name = self.name
        return try data.withUnsafeBytes { bytes -> [JSONValue] in
            let reader = ColumnReader(file: bytes, dataEnd: footerStart)
            var leaves: [LeafData] = []
            leaves.reserveCapacity(schema.leaves.count)
            for (i, column) in schema.leaves.enumerated() {
                do {
                    leaves.append(try reader.read(group.columns[i], leaf: column))
                } catch let e as ThriftError {
                    throw ParquetError(file: name, rowGroup: index, column: column.path, e.message)
                }
            }
            var assembler = RecordAssembler(leaves: leaves, columns: schema.leaves)
            var rows: [JSONValue] = []
            // Rows need at least one entry of the first column each; a footer claiming more gets no
            // head start on its allocation.
            rows.reserveCapacity(min(rowGroupRowCounts[index], leaves[0].count))
            do {
                for _ in 0..<rowGroupRowCounts[index] { rows.append(try assembler.row(schema.root)) }
                try assembler.checkFinished()
            } catch let e as ThriftError {
                throw ParquetError(file: name, rowGroup: index, column: assembler.failingLeaf.map { schema.leaves[$0].path },
                                   e.message)
            }
            return rows
        }
    }

    /// Every row, row group after row group.
    public func rows() throws -> [JSONValue] {
        var all: [JSONValue] = []
        all.reserveCapacity(min(rowCount, 1 << 20))
        for g in 0..<rowGroupCount { all += try rows(inRowGroup: g) }
        return all
    }
}
