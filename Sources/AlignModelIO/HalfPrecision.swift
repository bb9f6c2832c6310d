// Conversions between fp32 and the 16-bit float formats stored in checkpoints.
//
// Written with bit manipulation instead of `Float16` because `Float16` is unavailable on Intel Macs,
// and a 64K-entry table makes half -> float a single load per element in the hot loops.

/// Converts IEEE binary16 bits to a `Float` (exact: every half is representable).
@inline(__always)
func halfBitsToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
        // Zero or subnormal: mantissa * 2^-24, exact in Float.
        let magnitude = Float(mantissa) * (1.0 / 16_777_216.0)
        return Float(bitPattern: sign | magnitude.bitPattern)
    }
    if exponent == 31 {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// Every half-precision bit pattern converted to `Float`, built once on first use.
let halfToFloatTable: UnsafeMutablePointer<Float> = {
    let table = UnsafeMutablePointer<Float>.allocate(capacity: 65536)
    for bits in 0..<65536 { table[bits] = halfBitsToFloat(UInt16(bits)) }
    return table
}()

/// Converts a `Float` to IEEE binary16 bits, rounding to nearest with ties to even (as numpy and
/// PyTorch do); overflow gives infinity and NaN stays a (quiet) NaN.
@inline(__always)
func floatToHalfBits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
    let magnitude = bits & 0x7FFF_FFFF
    if magnitude >= 0x7F80_0000 {
        // Infinity, or NaN with its top payload bits kept and the quiet bit set.
        return magnitude == 0x7F80_0000 ? sign | 0x7C00 : sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3FF)
    }
    if magnitude >= 0x477F_F000 { return sign | 0x7C00 }  // >= 65520 rounds to infinity
    if magnitude < 0x3880_0000 {
        // Below the smallest normal half (2^-14): a subnormal count of 2^-24 units. Scaling by
        // 2^24 is exact, and rounding that to an integer rounds the half correctly (the result
        // 0x400 is the smallest normal, also correct).
        let units = (Float(bitPattern: magnitude) * 16_777_216.0).rounded(.toNearestOrEven)
        return sign | UInt16(units)
    }
    // Normal: round away the 13 low mantissa bits to nearest even, then rebias the exponent
    // (127 - 15 = 112). A carry out of the mantissa correctly bumps the exponent.
    let rounded = magnitude &+ 0xFFF &+ ((magnitude >> 13) & 1)
    return sign | UInt16(truncatingIfNeeded: (rounded &- 0x3800_0000) >> 13)
}

/// Converts bfloat16 bits to a `Float` (exact: bfloat16 is the top half of a float).
@inline(__always)
func bfloat16BitsToFloat(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}

/// Converts a `Float` to bfloat16 bits with round-to-nearest-even, as PyTorch does; NaN becomes
/// the canonical quiet NaN 0x7FC0 (with the sign kept).
@inline(__always)
func floatToBFloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) & 0x8000 | 0x7FC0 }
    return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
}

/// Converts `count` little-endian half-precision values at `source` (any alignment) to floats.
func convertHalfToFloat(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, count: Int) {
    let table = halfToFloatTable
    for i in 0..<count {
        destination[i] = table[Int(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))]
    }
}

/// Converts `count` little-endian bfloat16 values at `source` (any alignment) to floats.
func convertBFloat16ToFloat(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count {
        destination[i] = Float(bitPattern: UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
    }
}
