// Parquet's footer and page headers (parquet.thrift), decoded from the compact protocol. Only the
// fields a reader needs are kept; statistics, indexes, encryption and the rest are skipped.

/// Physical (storage) types.
enum PhysicalType: Int32, CustomStringConvertible {
    case boolean = 0, int32, int64, int96, float, double, byteArray, fixedLenByteArray

    var description: String {
        switch self {
        case .boolean: return "BOOLEAN"
        case .int32: return "INT32"
        case .int64: return "INT64"
        case .int96: return "INT96"
        case .float: return "FLOAT"
        case .double: return "DOUBLE"
        case .byteArray: return "BYTE_ARRAY"
        case .fixedLenByteArray: return "FIXED_LEN_BYTE_ARRAY"
        }
    }
}

enum Repetition: Int32 {
    case required = 0, optional, repeated
}

/// The logical annotations the reader acts on (from `LogicalType`, or the legacy `ConvertedType`).
enum LogicalKind: Equatable {
    case string, map, list, enumeration, json, bson, uuid, float16
    case decimal(scale: Int)
    case integer(bits: Int, signed: Bool)
    case date, time, timestamp, other
}

struct SchemaElement {
    var type: PhysicalType?
    var typeLength: Int32 = 0
    var repetition: Repetition = .required
    var name = ""
    var numChildren: Int32 = 0
    var convertedType: Int32?
    var scale: Int32 = 0
    var logical: LogicalKind?

    /// The annotation from the logical type, falling back to the converted type older writers use.
    var annotation: LogicalKind? {
        if let logical { return logical }
        guard let c = convertedType else { return nil }
        switch c {
        case 0: return .string
        case 1, 2: return .map
        case 3: return .list
        case 4: return .enumeration
        case 5: return .decimal(scale: Int(scale))
        case 6: return .date
        case 7, 8: return .time
        case 9, 10: return .timestamp
        case 11: return .integer(bits: 8, signed: false)
        case 12: return .integer(bits: 16, signed: false)
        case 13: return .integer(bits: 32, signed: false)
        case 14: return .integer(bits: 64, signed: false)
        case 15: return .integer(bits: 8, signed: true)
        case 16: return .integer(bits: 16, signed: true)
        case 17: return .integer(bits: 32, signed: true)
        case 18: return .integer(bits: 64, signed: true)
        case 19: return .json
        case 20: return .bson
        default: return .other
        }
    }
}

struct ColumnMetadata {
    var type: PhysicalType?
    var path: [String] = []
    var codec: Int32 = 0
    var numValues: Int64 = 0
    var totalCompressedSize: Int64 = 0
    var dataPageOffset: Int64 = -1
    var dictionaryPageOffset: Int64?
}

struct ColumnChunk {
    var filePath: String?
    var metadata: ColumnMetadata?
}

struct RowGroup {
    var columns: [ColumnChunk] = []
    var numRows: Int64 = 0
}

struct FileMetadata {
    var schema: [SchemaElement] = []
    var numRows: Int64 = 0
    var rowGroups: [RowGroup] = []
    var createdBy: String?
}

enum PageType: Int32 {
    case dataPage = 0, indexPage, dictionaryPage, dataPageV2
}

struct DataPageHeader {
    var numValues: Int32 = 0
    var encoding: Int32 = 0
    var definitionLevelEncoding: Int32 = 3
    var repetitionLevelEncoding: Int32 = 3
}

struct DataPageHeaderV2 {
    var numValues: Int32 = 0
    var numNulls: Int32 = 0
    var numRows: Int32 = 0
    var encoding: Int32 = 0
    var definitionLevelsByteLength: Int32 = 0
    var repetitionLevelsByteLength: Int32 = 0
    var isCompressed = true
}

struct DictionaryPageHeader {
    var numValues: Int32 = 0
    var encoding: Int32 = 0
}

struct PageHeader {
    var type: Int32 = -1
    var uncompressedPageSize: Int32 = 0
    var compressedPageSize: Int32 = 0
    var dataPage: DataPageHeader?
    var dictionaryPage: DictionaryPageHeader?
    var dataPageV2: DataPageHeaderV2?
}

// MARK: - Decoding

extension FileMetadata {
    init(_ r: inout ThriftReader) throws {
        try r.readStruct { r, id, type in
            switch id {
            case 2: schema = try r.list(type, of: ThriftType.structure, "schema") { try SchemaElement(&$0) }
            case 3: try r.expect(type, ThriftType.i64, "num_rows"); numRows = try r.i64()
            case 4: rowGroups = try r.list(type, of: ThriftType.structure, "row_groups") { try RowGroup(&$0) }
            case 6 where type == ThriftType.binary: createdBy = try? r.string()
            default: try r.skip(type)
            }
        }
    }
}

extension SchemaElement {
    init(_ r: inout ThriftReader) throws {
        try r.readStruct { r, id, type in
            switch id {
            case 1:
                try r.expect(type, ThriftType.i32, "type")
                let raw = try r.i32()
                guard let t = PhysicalType(rawValue: raw) else { throw ThriftError("unknown physical type \(raw)") }
                self.type = t
            case 2: try r.expect(type, ThriftType.i32, "type_length"); typeLength = try r.i32()
            case 3:
                try r.expect(type, ThriftType.i32, "repetition_type")
                let raw = try r.i32()
                guard let rep = Repetition(rawValue: raw) else { throw ThriftError("unknown repetition \(raw)") }
                repetition = rep
            case 4: try r.expect(type, ThriftType.binary, "name"); name = try r.string()
            case 5: try r.expect(type, ThriftType.i32, "num_children"); numChildren = try r.i32()
            case 6: try r.expect(type, ThriftType.i32, "converted_type"); convertedType = try r.i32()
            case 7: try r.expect(type, ThriftType.i32, "scale"); scale = try r.i32()
            case 10: try r.expect(type, ThriftType.structure, "logicalType"); logical = try Self.logicalType(&r)
            default: try r.skip(type)
            }
        }
    }

    /// `LogicalType` is a union: the one field present names the annotation.
    static func logicalType(_ r: inout ThriftReader) throws -> LogicalKind? {
        var kind: LogicalKind?
        try r.readStruct { r, id, type in
            switch id {
            case 1: kind = .string
            case 2: kind = .map
            case 3: kind = .list
            case 4: kind = .enumeration
            case 5:
                var scale = 0
                try r.expect(type, ThriftType.structure, "DECIMAL")
                try r.readStruct { r, id, type in
                    if id == 1 && type == ThriftType.i32 { scale = Int(try r.i32()) } else { try r.skip(type) }
                }
                kind = .decimal(scale: scale)
                return
            case 6: kind = .date
            case 7: kind = .time
            case 8: kind = .timestamp
            case 10:
                var bits = 64, signed = true
                try r.expect(type, ThriftType.structure, "INTEGER")
                try r.readStruct { r, id, type in
                    switch id {
                    case 1 where type == ThriftType.byte: bits = Int(Int8(bitPattern: try r.byte()))
                    case 2: signed = try r.bool(type)
                    default: try r.skip(type)
                    }
                }
                kind = .integer(bits: bits, signed: signed)
                return
            case 12: kind = .json
            case 13: kind = .bson
            case 14: kind = .uuid
            case 15: kind = .float16
            default: kind = .other
            }
            try r.skip(type)
        }
        return kind
    }
}

extension RowGroup {
    init(_ r: inout ThriftReader) throws {
        try r.readStruct { r, id, type in
            switch id {
            case 1: columns = try r.list(type, of: ThriftType.structure, "columns") { try ColumnChunk(&$0) }
            case 3: try r.expect(type, ThriftType.i64, "num_rows"); numRows = try r.i64()
            default: try r.skip(type)
            }
        }
    }
}

extension ColumnChunk {
    init(_ r: inout ThriftReader) throws {
        try r.readStruct { r, id, type in
            switch id {
            case 1: try r.expect(type, ThriftType.binary, "file_path"); filePath = try r.string()
            case 3: try r.expect(type, ThriftType.structure, "meta_data"); metadata = try ColumnMetadata(&r)
            default: try r.skip(type)
            }
        }
    }
}

extension ColumnMetadata {
    init(_ r: inout ThriftReader) throws {
        try r.readStruct { r, id, type in
            switch id {
            case 1:
                try r.expect(type, ThriftType.i32, "type")
                let raw = try r.i32()
                guard let t = PhysicalType(rawValue: raw) else { throw ThriftError("unknown physical type \(raw)") }
                self.type = t
            case 3: path = try r.list(type, of: ThriftType.binary, "path_in_schema") { try $0.string() }
            case 4: try r.expect(type, ThriftType.i32, "codec"); codec = try r.i32()
            case 5: try r.expect(type, ThriftType.i64, "num_values"); numValues = try r.i64()
            case 7: try r.expect(type, ThriftType.i64, "total_compressed_size"); totalCompressedSize = try r.i64()
            case 9: try r.expect(type, ThriftType.i64, "data_page_offset"); dataPageOffset = try r.i64()
            case 11: try r.expect(type, ThriftType.i64, "dictionary_page_offset"); dictionaryPageOffset = try r.i64()
            default: try r.skip(type)
            }
        }
    }
}

extension PageHeader {
    init(_ r: inout ThriftReader) throws {
        try r.readStruct { r, id, type in
            switch id {
            case 1: try r.expect(type, ThriftType.i32, "type"); self.type = try r.i32()
            case 2: try r.expect(type, ThriftType.i32, "uncompressed_page_size"); uncompressedPageSize = try r.i32()
            case 3: try r.expect(type, ThriftType.i32, "compressed_page_size"); compressedPageSize = try r.i32()
            case 5:
                try r.expect(type, ThriftType.structure, "data_page_header")
                var h = DataPageHeader()
                try r.readStruct { r, id, type in
                    switch id {
                    case 1: try r.expect(type, ThriftType.i32, "num_values"); h.numValues = try r.i32()
                    case 2: try r.expect(type, ThriftType.i32, "encoding"); h.encoding = try r.i32()
                    case 3: try r.expect(type, ThriftType.i32, "definition_level_encoding"); h.definitionLevelEncoding = try r.i32()
                    case 4: try r.expect(type, ThriftType.i32, "repetition_level_encoding"); h.repetitionLevelEncoding = try r.i32()
                    default: try r.skip(type)
                    }
                }
                dataPage = h
            case 7:
                try r.expect(type, ThriftType.structure, "dictionary_page_header")
                var h = DictionaryPageHeader()
                try r.readStruct { r, id, type in
                    switch id {
                    case 1: try r.expect(type, ThriftType.i32, "num_values"); h.numValues = try r.i32()
                    case 2: try r.expect(type, ThriftType.i32, "encoding"); h.encoding = try r.i32()
                    default: try r.skip(type)
                    }
                }
                dictionaryPage = h
            case 8:
                try r.expect(type, ThriftType.structure, "data_page_header_v2")
                var h = DataPageHeaderV2()
                try r.readStruct { r, id, type in
                    switch id {
                    case 1: try r.expect(type, ThriftType.i32, "num_values"); h.numValues = try r.i32()
                    case 2: try r.expect(type, ThriftType.i32, "num_nulls"); h.numNulls = try r.i32()
                    case 3: try r.expect(type, ThriftType.i32, "num_rows"); h.numRows = try r.i32()
                    case 4: try r.expect(type, ThriftType.i32, "encoding"); h.encoding = try r.i32()
                    case 5: try r.expect(type, ThriftType.i32, "definition_levels_byte_length"); h.definitionLevelsByteLength = try r.i32()
                    case 6: try r.expect(type, ThriftType.i32, "repetition_levels_byte_length"); h.repetitionLevelsByteLength = try r.i32()
                    case 7: h.isCompressed = try r.bool(type)
                    default: try r.skip(type)
                    }
                }
                dataPageV2 = h
            default: try r.skip(type)
            }
        }
    }
}
