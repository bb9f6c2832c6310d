// One column chunk of one row group: its pages (dictionary, data v1, data v2) decoded into
// definition levels, repetition levels and the non-null values, ready for record assembly.
import AlignJSON

/// A decoded column chunk plus the assembler's cursors into it.
struct LeafData {
    /// Definition level of each entry; empty when the column's maximum is 0 (every entry is defined).
    var definitions: [UInt8] = []
    /// Repetition level of each entry; empty when the column's maximum is 0 (every entry starts a row).
    var repetitions: [UInt8] = []
    /// The non-null values, in order.
    var values: [JSONValue] = []
    /// Number of entries (level pairs), nulls included.
    var count = 0
    /// The assembler's next entry and next value.
    var entry = 0
    var value = 0
}

/// Most level entries (values and nulls) accepted in one column chunk. Run-length encoding lets a few
/// bytes claim billions of entries, so this bound is what keeps a hostile page from exhausting memory;
/// writers cut row groups far below it (pyarrow: about a million rows).
let maximumChunkEntries = 1 << 26

/// Reads column chunks out of the file's bytes.
struct ColumnReader {
    /// The whole file.
    let file: UnsafeRawBufferPointer
    /// Where the footer starts: column data must lie before it.
    let dataEnd: Int

    func read(_ chunk: ColumnChunk, leaf: LeafColumn) throws -> LeafData {
        if let path = chunk.filePath {
            throw ThriftError("the column's data is in another file (\"\(path)\"), which is not supported")
        }
        guard let meta = chunk.metadata else { throw ThriftError("the column chunk has no metadata") }
        guard meta.type == leaf.physicalType else {
            throw ThriftError("the column chunk holds \(meta.type.map { "\($0)" } ?? "no type"); the schema says \(leaf.physicalType)")
        }
        if !meta.path.isEmpty && meta.path != leaf.pathComponents {
            throw ThriftError("the column chunk is for \"\(meta.path.joined(separator: "."))\"; the schema puts \"\(leaf.path)\" here")
        }
        if case .unsupported(let what) = leaf.kind { throw ThriftError("\(what) are not supported") }
        let total = meta.numValues
        guard total >= 0, total <= Int64(maximumChunkEntries) else {
            throw ThriftError("the column chunk claims \(total) values; at most \(maximumChunkEntries) are accepted per row group")
        }
        var start = meta.dataPageOffset
        // Some writers put 0 here when there is no dictionary; a real page cannot start inside the magic.
        if let d = meta.dictionaryPageOffset, d >= 4, d < start { start = d }
        let size = meta.totalCompressedSize
        guard start >= 4, size >= 0, start <= Int64(dataEnd), size <= Int64(dataEnd) - start else {
            throw ThriftError("the column chunk (\(size) bytes at offset \(start)) lies outside the file's data (bytes 4..<\(dataEnd))")
        }
        let end = Int(start + size)
        var position = Int(start)
        var data = LeafData()
        let converter = ValueConverter(kind: leaf.kind, typeLength: leaf.typeLength)
        var dictionary: [JSONValue]?
        let codec = meta.codec
        let definitionWidth = bitWidth(leaf.maxDefinition), repetitionWidth = bitWidth(leaf.maxRepetition)

        while Int64(data.count) < total {
            guard position < end else {
                throw ThriftError("the column chunk ends after \(data.count) of its \(total) values")
            }
            var reader = ThriftReader(UnsafeRawBufferPointer(rebasing: file[position..<end]))
            let header: PageHeader
            do { header = try PageHeader(&reader) } catch let e as ThriftError {
                throw ThriftError("the page header at byte \(position) is malformed: \(e.message)")
            }
            position += reader.position
            let compressed = Int(header.compressedPageSize), uncompressed = Int(header.uncompressedPageSize)
            guard compressed >= 0, uncompressed >= 0, compressed <= end - position else {
                throw ThriftError("the page at byte \(position) claims \(compressed) bytes; the column chunk has \(end - position) left")
            }
            let payload = UnsafeRawBufferPointer(rebasing: file[position..<position + compressed])
            let pageStart = position
            position += compressed

            switch PageType(rawValue: header.type) {
            case .dictionaryPage?:
                guard let h = header.dictionaryPage else { throw ThriftError("dictionary page without its header") }
                guard dictionary == nil else { throw ThriftError("the column chunk has two dictionary pages") }
                guard h.encoding == 0 || h.encoding == 2 else {
                    throw ThriftError("dictionary page in \(encodingName(h.encoding)) is not supported")
                }
                guard h.numValues >= 0 else { throw ThriftError("dictionary page claims \(h.numValues) values") }
                var entries: [JSONValue] = []
                try withDecompressed(codec: codec, payload, size: uncompressed) { bytes in
                    try converter.plain(bytes, type: leaf.physicalType, count: Int(h.numValues), into: &entries)
                }
                dictionary = entries
            case .dataPage?:
                guard let h = header.dataPage else { throw ThriftError("data page without its header") }
                let n = Int(h.numValues)
                guard n >= 0, Int64(n) <= total - Int64(data.count) else {
                    throw ThriftError("the data page at byte \(pageStart) holds \(n) values; the chunk has \(total - Int64(data.count)) left")
                }
                try withDecompressed(codec: codec, payload, size: uncompressed) { page in
                    var offset = 0
                    // v1 levels: each run-length block is prefixed by its 4-byte length.
                    func levels(_ width: Int, _ max: Int, _ encoding: Int32, _ what: String, into out: inout [UInt8]) throws {
                        guard encoding == 3 else {
                            throw ThriftError("\(what) levels in \(encodingName(encoding)) are not supported (only RLE)")
                        }
                        guard page.count - offset >= 4 else { throw ThriftError("the data page ends before its \(what) levels") }
                        let length = Int(loadLittleEndian(page, offset, as: UInt32.self))
                        offset += 4
                        guard length <= page.count - offset else { throw ThriftError("\(what) levels run past the data page") }
                        try decodeHybrid(UnsafeRawBufferPointer(rebasing: page[offset..<offset + length]), bitWidth: width,
                                         count: n, maxValue: UInt32(max), into: &out)
                        offset += length
                    }
                    if leaf.maxRepetition > 0 {
                        try levels(repetitionWidth, leaf.maxRepetition, h.repetitionLevelEncoding, "repetition", into: &data.repetitions)
                    }
                    if leaf.maxDefinition > 0 {
                        try levels(definitionWidth, leaf.maxDefinition, h.definitionLevelEncoding, "definition", into: &data.definitions)
                    }
                    try decodeValues(UnsafeRawBufferPointer(rebasing: page[offset...]), encoding: h.encoding, entries: n,
                                     leaf: leaf, converter: converter, dictionary: dictionary, into: &data)
                }
            case .dataPageV2?:
                guard let h = header.dataPageV2 else { throw ThriftError("data page v2 without its header") }
                let n = Int(h.numValues)
                guard n >= 0, Int64(n) <= total - Int64(data.count) else {
                    throw ThriftError("the data page at byte \(pageStart) holds \(n) values; the chunk has \(total - Int64(data.count)) left")
                }
                let repLength = Int(h.repetitionLevelsByteLength), defLength = Int(h.definitionLevelsByteLength)
                guard repLength >= 0, defLength >= 0, repLength + defLength <= compressed, repLength + defLength <= uncompressed else {
                    throw ThriftError("the data page v2 at byte \(pageStart) has level lengths \(repLength) + \(defLength) that do not fit its \(compressed) bytes")
                }
                // v2 keeps its levels uncompressed and unprefixed ahead of the (maybe compressed) values.
                if leaf.maxRepetition > 0 {
                    try decodeHybrid(UnsafeRawBufferPointer(rebasing: payload[0..<repLength]), bitWidth: repetitionWidth,
                                     count: n, maxValue: UInt32(leaf.maxRepetition), into: &data.repetitions)
                }
                if leaf.maxDefinition > 0 {
                    try decodeHybrid(UnsafeRawBufferPointer(rebasing: payload[repLength..<repLength + defLength]),
                                     bitWidth: definitionWidth, count: n, maxValue: UInt32(leaf.maxDefinition), into: &data.definitions)
                }
                let values = UnsafeRawBufferPointer(rebasing: payload[(repLength + defLength)...])
                let valuesSize = uncompressed - repLength - defLength
                try withDecompressed(codec: h.isCompressed ? codec : 0, values, size: h.isCompressed ? valuesSize : values.count) { bytes in
                    try decodeValues(bytes, encoding: h.encoding, entries: n, leaf: leaf, converter: converter,
                                     dictionary: dictionary, into: &data)
                }
            default:
                continue  // index pages and unknown page types carry nothing a reader needs
            }
        }
        return data
    }

    /// Decodes the values of a data page with `entries` level entries (the non-null ones have values),
    /// then advances the entry count.
    private func decodeValues(_ bytes: UnsafeRawBufferPointer, encoding: Int32, entries: Int, leaf: LeafColumn,
                              converter: ValueConverter, dictionary: [JSONValue]?, into data: inout LeafData) throws {
        var present = entries
        if leaf.maxDefinition > 0 {
            present = 0
            let maxDefinition = UInt8(leaf.maxDefinition)
            for level in data.definitions[data.count...] where level == maxDefinition { present += 1 }
        }
        data.count += entries
        switch encoding {
        case 0:
            try converter.plain(bytes, type: leaf.physicalType, count: present, into: &data.values)
        case 2, 8:
            guard let dictionary else { throw ThriftError("a dictionary-encoded page comes before any dictionary page") }
            if present == 0 { return }
            guard bytes.count >= 1 else { throw ThriftError("a dictionary-encoded page is empty") }
            var indices: [UInt32] = []
            try decodeHybrid(UnsafeRawBufferPointer(rebasing: bytes[1...]), bitWidth: Int(bytes[0]), count: present,
                             maxValue: UInt32.max, into: &indices)
            data.values.reserveCapacity(data.values.count + present)
            let limit = dictionary.count
            for index in indices {
                guard Int(index) < limit else {
                    throw ThriftError("dictionary index \(index) is past the dictionary's \(limit) entries")
                }
                data.values.append(dictionary[Int(index)])
            }
        case 3 where leaf.physicalType == .boolean:
            guard bytes.count >= 4 else { throw ThriftError("an RLE boolean page ends before its length") }
            let length = Int(loadLittleEndian(bytes, 0, as: UInt32.self))
            guard length <= bytes.count - 4 else { throw ThriftError("RLE booleans run past the page") }
            var bits: [UInt8] = []
            try decodeHybrid(UnsafeRawBufferPointer(rebasing: bytes[4..<4 + length]), bitWidth: 1, count: present,
                             maxValue: 1, into: &bits)
            data.values.reserveCapacity(data.values.count + present)
            for b in bits { data.values.append(.bool(b == 1)) }
        case 5 where leaf.physicalType == .int32 || leaf.physicalType == .int64:
            var numbers: [Int64] = []
            try decodeDeltaBinaryPacked(bytes, into: &numbers)
            guard numbers.count >= present else { throw ThriftError("DELTA_BINARY_PACKED holds \(numbers.count) values; the page needs \(present)") }
            data.values.reserveCapacity(data.values.count + present)
            for v in numbers.prefix(present) {
                data.values.append(leaf.physicalType == .int32 ? converter.int32(Int32(truncatingIfNeeded: v)) : converter.int64(v))
            }
        case 6 where leaf.physicalType == .byteArray:
            // Lengths (DELTA_BINARY_PACKED), then the values' bytes end to end.
            var lengths: [Int64] = []
            var position = try decodeDeltaBinaryPacked(bytes, into: &lengths)
            guard lengths.count >= present else { throw ThriftError("DELTA_LENGTH_BYTE_ARRAY holds \(lengths.count) lengths; the page needs \(present)") }
            data.values.reserveCapacity(data.values.count + present)
            for length in lengths.prefix(present) {
                guard length >= 0, length <= Int64(bytes.count - position) else { throw ThriftError("a \(length)-byte value runs past the page") }
                data.values.append(try converter.bytes(UnsafeRawBufferPointer(rebasing: bytes[position..<position + Int(length)])))
                position += Int(length)
            }
        case 7 where leaf.physicalType == .byteArray || leaf.physicalType == .fixedLenByteArray:
            // Each value is a prefix of the previous one plus a suffix: prefix lengths, then the
            // suffixes as DELTA_LENGTH_BYTE_ARRAY.
            var prefixes: [Int64] = [], suffixes: [Int64] = []
            var position = try decodeDeltaBinaryPacked(bytes, into: &prefixes)
            position += try decodeDeltaBinaryPacked(UnsafeRawBufferPointer(rebasing: bytes[position...]), into: &suffixes)
            guard prefixes.count >= present, suffixes.count >= present else {
                throw ThriftError("DELTA_BYTE_ARRAY holds fewer lengths than the page's \(present) values")
            }
            var previous: [UInt8] = []
            data.values.reserveCapacity(data.values.count + present)
            for i in 0..<present {
                let prefix = prefixes[i], suffix = suffixes[i]
                guard prefix >= 0, prefix <= Int64(previous.count), suffix >= 0, suffix <= Int64(bytes.count - position) else {
                    throw ThriftError("DELTA_BYTE_ARRAY value \(i) has prefix \(prefix) and suffix \(suffix) that do not fit")
                }
                var current = Array(previous[..<Int(prefix)])
                current += UnsafeRawBufferPointer(rebasing: bytes[position..<position + Int(suffix)])
                position += Int(suffix)
                data.values.append(try current.withUnsafeBytes { try converter.bytes($0) })
                previous = current
            }
        default:
            throw ThriftError("\(encodingName(encoding)) encoding is not supported for \(leaf.physicalType) (PLAIN, dictionary, RLE booleans and DELTA_* are)")
        }
    }
}
