/// GPT-2's reversible map between the 256 byte values and printable Unicode scalars: byte-level BPE
/// vocabularies spell every byte with one of these scalars (a space is "Ġ", a newline "Ċ").
enum ByteLevelAlphabet {
    /// `scalarOfByte[b]` is the scalar value that spells byte `b`.
    static let scalarOfByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        // Printable Latin-1 bytes stand for themselves; the rest are moved, in order, to U+0100 onwards.
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        for byte in printable { table[byte] = UInt32(byte) }
        var next: UInt32 = 256
        for byte in 0..<256 where !printable.contains(byte) {
            table[byte] = next
            next += 1
        }
        return table
    }()

    /// Inverse map: `byteOfScalar[s]` is the byte spelled by scalar value `s`, or -1 (index up to 0x143).
    static let byteOfScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarOfByte.enumerated() { table[Int(scalar)] = Int16(byte) }
        return table
    }()

    /// The bytes a byte-level token spells, or nil when a scalar is outside the alphabet.
    static func bytes(ofToken token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            let value = Int(scalar.value)
            guard value < byteOfScalar.count, byteOfScalar[value] >= 0 else { return nil }
            bytes.append(UInt8(byteOfScalar[value]))
        }
        return bytes
    }

    /// Spells raw bytes in the alphabet.
    static func token(ofBytes bytes: some Sequence<UInt8>) -> String {
        string(bytes.lazy.map { scalarOfByte[Int($0)] })
    }
}
