// GGML tensor types and their dequantisation to fp32.
//
// Block layouts follow ggml's `ggml-common.h`; each function below states its layout. All reads
// are unaligned loads because GGUF only aligns the start of each tensor, and block sizes (18, 20,
// 34, 210 bytes...) leave most blocks unaligned.

/// A GGML tensor element type, with ggml's numbering (the value stored in GGUF tensor infos).
public enum GGMLType: UInt32, CaseIterable, Sendable, CustomStringConvertible {
    /// Plain floats and the legacy 32-element block quantisations.
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    /// K-quants: 256-element super-blocks with 6- or 8-bit sub-block scales.
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    /// Importance-matrix quantisations (recognised for validation; not dequantised here).
    case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20, iq3_S = 21, iq2_S = 22, iq4_XS = 23
    /// Integers, doubles and bfloat16.
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_M = 29, bf16 = 30
    /// Ternary and microscaling formats (recognised for validation; not dequantised here).
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39

    /// Elements per block (1 for plain types, 32 for the legacy quants, 256 for K-quants).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_NL, .mxfp4: return 32
        default: return 256
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .f64, .i64: return 8
        case .i8: return 1
        case .q4_0, .iq4_NL: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q8_0: return 34
        case .q8_1: return 40
        case .q2_K: return 84
        case .q3_K: return 110
        case .q4_K: return 144
        case .q5_K: return 176
        case .q6_K: return 210
        case .q8_K: return 292
        case .iq2_XXS: return 66
        case .iq2_XS: return 74
        case .iq3_XXS: return 98
        case .iq1_S: return 50
        case .iq3_S: return 110
        case .iq2_S: return 82
        case .iq4_XS: return 136
        case .iq1_M: return 56
        case .tq1_0: return 54
        case .tq2_0: return 66
        case .mxfp4: return 17
        }
    }

    /// Whether ``dequantize(_:count:into:)`` handles this type.
    public var canDequantize: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0,
             .q2_K, .q3_K, .q4_K, .q5_K, .q6_K:
            return true
        default:
            return false
        }
    }

    /// ggml's name for the type ("Q4_K", "F16"...).
    public var description: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .f64: return "F64"
        case .i8: return "I8"
        case .i16: return "I16"
        case .i32: return "I32"
        case .i64: return "I64"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q8_1: return "Q8_1"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        case .q8_K: return "Q8_K"
        case .iq2_XXS: return "IQ2_XXS"
        case .iq2_XS: return "IQ2_XS"
        case .iq3_XXS: return "IQ3_XXS"
        case .iq1_S: return "IQ1_S"
        case .iq4_NL: return "IQ4_NL"
        case .iq3_S: return "IQ3_S"
        case .iq2_S: return "IQ2_S"
        case .iq4_XS: return "IQ4_XS"
        case .iq1_M: return "IQ1_M"
        case .tq1_0: return "TQ1_0"
        case .tq2_0: return "TQ2_0"
        case .mxfp4: return "MXFP4"
        }
    }

    /// Bytes taken by `elements` elements (which must be a multiple of ``blockSize``).
    public func byteCount(elements: Int) -> Int { elements / blockSize * blockBytes }
}

@inline(__always)
private func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    halfToFloatTable[Int(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))]
}

/// Unpacks the 6-bit scale and min number `j` (0..<8) of a Q4_K / Q5_K block's 12 scale bytes:
/// the first four pairs sit in the low 6 bits of bytes 0-7, the last four are split between the
/// nibbles of bytes 8-11 and the top 2 bits of bytes 0-7.
@inline(__always)
private func scaleAndMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (Float, Float) {
    let b = { (i: Int) -> UInt8 in q.load(fromByteOffset: i, as: UInt8.self) }
    if j < 4 {
        return (Float(b(j) & 63), Float(b(j + 4) & 63))
    }
    let scale = (b(j + 4) & 0xF) | ((b(j - 4) >> 6) << 4)
    let minimum = (b(j + 4) >> 4) | ((b(j) >> 6) << 4)
    return (Float(scale), Float(minimum))
}

/// Converts `count` elements of type `type` at `source` to fp32 in `out`. `count` must be a
/// multiple of the block size and the source must hold `type.byteCount(elements: count)` bytes.
/// Returns false (writing nothing) for types without a dequantiser.
@discardableResult
func dequantize(_ type: GGMLType, _ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) -> Bool {
    let blocks = count / type.blockSize
    switch type {
    case .f32:
        UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
    case .f16:
        convertHalfToFloat(source, out, count: count)
    case .bf16:
        convertBFloat16ToFloat(source, out, count: count)
    case .f64:
        for i in 0..<count { out[i] = Float(source.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
    case .i8:
        for i in 0..<count { out[i] = Float(source.load(fromByteOffset: i, as: Int8.self)) }
    case .i16:
        for i in 0..<count { out[i] = Float(source.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
    case .i32:
        for i in 0..<count { out[i] = Float(source.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }

    case .q4_0:
        // d: f16, qs: 16 bytes; element j = low nibble of qs[j], element j+16 = high nibble; x = (q-8)·d.
        for b in 0..<blocks {
            let block = source + b * 18
            let d = half(block, 0)
            let y = out + b * 32
            for j in 0..<16 {
                let q = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                y[j] = Float(Int(q & 0xF) - 8) * d
                y[j + 16] = Float(Int(q >> 4) - 8) * d
            }
        }
    case .q4_1:
        // d, m: f16, qs: 16 bytes (nibbles as Q4_0); x = q·d + m.
        for b in 0..<blocks {
            let block = source + b * 20
            let d = half(block, 0)
            let m = half(block, 2)
            let y = out + b * 32
            for j in 0..<16 {
                let q = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                y[j] = Float(q & 0xF) * d + m
                y[j + 16] = Float(q >> 4) * d + m
            }
        }
    case .q5_0:
        // d: f16, qh: u32 (fifth bit of element i is bit i), qs: 16 bytes; x = (q-16)·d.
        for b in 0..<blocks {
            let block = source + b * 22
            let d = half(block, 0)
            let qh = block.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
            let y = out + b * 32
            for j in 0..<16 {
                let q = block.load(fromByteOffset: 6 + j, as: UInt8.self)
                let low = Int(q & 0xF) | Int((qh >> UInt32(j)) & 1) << 4
                let high = Int(q >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
                y[j] = Float(low - 16) * d
                y[j + 16] = Float(high - 16) * d
            }
        }
    case .q5_1:
        // d, m: f16, qh: u32, qs: 16 bytes; x = q·d + m.
        for b in 0..<blocks {
            let block = source + b * 24
            let d = half(block, 0)
            let m = half(block, 2)
            let qh = block.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            let y = out + b * 32
            for j in 0..<16 {
                let q = block.load(fromByteOffset: 8 + j, as: UInt8.self)
                let low = UInt32(q & 0xF) | ((qh >> UInt32(j)) & 1) << 4
                let high = UInt32(q >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
                y[j] = Float(low) * d + m
                y[j + 16] = Float(high) * d + m
            }
        }
    case .q8_0:
        // d: f16, qs: 32 × i8; x = q·d.
        for b in 0..<blocks {
            let block = source + b * 34
            let d = half(block, 0)
            let y = out + b * 32
            for j in 0..<32 { y[j] = Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
        }

    case .q2_K:
        // scales[16] (low nibble scale, high nibble min), qs[64] (2-bit), d, dmin: f16.
        for b in 0..<blocks {
            let block = source + b * 84
            let d = half(block, 80)
            let dmin = half(block, 82)
            var y = out + b * 256
            var scaleIndex = 0
            for half128 in 0..<2 {
                let q = block + 16 + half128 * 32
                for shift in stride(from: 0, to: 8, by: 2) {
                    for part in 0..<2 {
                        let sc = block.load(fromByteOffset: scaleIndex, as: UInt8.self)
                        scaleIndex += 1
                        let dl = d * Float(sc & 0xF)
                        let ml = dmin * Float(sc >> 4)
                        for l in 0..<16 {
                            let v = (q.load(fromByteOffset: part * 16 + l, as: UInt8.self) >> UInt8(shift)) & 3
                            y[l] = dl * Float(v) - ml
                        }
                        y += 16
                    }
                }
            }
        }
    case .q3_K:
        // hmask[32] (third bit), qs[64] (low 2 bits), scales[12] (sixteen 6-bit scales), d: f16.
        for b in 0..<blocks {
            let block = source + b * 110
            let d = half(block, 108)
            var y = out + b * 256
            var scaleIndex = 0
            var mask: UInt8 = 1
            for half128 in 0..<2 {
                let q = block + 32 + half128 * 32
                for shift in stride(from: 0, to: 8, by: 2) {
                    for part in 0..<2 {
                        let dl = d * Float(q3KScale(scaleIndex, block + 96))
                        scaleIndex += 1
                        for l in 0..<16 {
                            let low = Int((q.load(fromByteOffset: part * 16 + l, as: UInt8.self) >> UInt8(shift)) & 3)
                            let high = block.load(fromByteOffset: part * 16 + l, as: UInt8.self) & mask
                            y[l] = dl * Float(low - (high != 0 ? 0 : 4))
                        }
                        y += 16
                    }
                    mask <<= 1
                }
            }
        }
    case .q4_K:
        // d, dmin: f16, scales[12] (eight 6-bit scale/min pairs), qs[128]: 64-element groups of
        // low nibbles then high nibbles of 32 bytes; x = d·sc·q − dmin·m.
        for b in 0..<blocks {
            let block = source + b * 144
            let d = half(block, 0)
            let dmin = half(block, 2)
            let scales = block + 4
            var y = out + b * 256
            for group in 0..<4 {
                let q = block + 16 + group * 32
                let (s1, m1) = scaleAndMinK4(2 * group, scales)
                let (s2, m2) = scaleAndMinK4(2 * group + 1, scales)
                let d1 = d * s1, min1 = dmin * m1
                let d2 = d * s2, min2 = dmin * m2
                for l in 0..<32 {
                    let v = q.load(fromByteOffset: l, as: UInt8.self)
                    y[l] = d1 * Float(v & 0xF) - min1
                    y[l + 32] = d2 * Float(v >> 4) - min2
                }
                y += 64
            }
        }
    case .q5_K:
        // As Q4_K plus qh[32] holding the fifth bit: bit 2g of qh[l] for the low nibbles of
        // group g, bit 2g+1 for the high ones.
        for b in 0..<blocks {
            let block = source + b * 176
            let d = half(block, 0)
            let dmin = half(block, 2)
            let scales = block + 4
            let qh = block + 16
            var y = out + b * 256
            for group in 0..<4 {
                let q = block + 48 + group * 32
                let (s1, m1) = scaleAndMinK4(2 * group, scales)
                let (s2, m2) = scaleAndMinK4(2 * group + 1, scales)
                let d1 = d * s1, min1 = dmin * m1
                let d2 = d * s2, min2 = dmin * m2
                let bitLow = UInt8(1) << UInt8(2 * group)
                let bitHigh = bitLow << 1
                for l in 0..<32 {
                    let v = q.load(fromByteOffset: l, as: UInt8.self)
                    let h = qh.load(fromByteOffset: l, as: UInt8.self)
                    y[l] = d1 * Float((v & 0xF) + (h & bitLow != 0 ? 16 : 0)) - min1
                    y[l + 32] = d2 * Float((v >> 4) + (h & bitHigh != 0 ? 16 : 0)) - min2
                }
                y += 64
            }
        }
    case .q6_K:
        // ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (i8), d: f16; x = d·sc·(q−32).
        for b in 0..<blocks {
            let block = source + b * 210
            let d = half(block, 208)
            var y = out + b * 256
            for half128 in 0..<2 {
                let ql = block + half128 * 64
                let qh = block + 128 + half128 * 32
                let sc = block + 192 + half128 * 8
                for l in 0..<32 {
                    let scaleBase = l / 16
                    let a = ql.load(fromByteOffset: l, as: UInt8.self)
                    let c = ql.load(fromByteOffset: l + 32, as: UInt8.self)
                    let h = qh.load(fromByteOffset: l, as: UInt8.self)
                    let q1 = Int((a & 0xF) | ((h >> 0) & 3) << 4) - 32
                    let q2 = Int((c & 0xF) | ((h >> 2) & 3) << 4) - 32
                    let q3 = Int((a >> 4) | ((h >> 4) & 3) << 4) - 32
                    let q4 = Int((c >> 4) | ((h >> 6) & 3) << 4) - 32
                    y[l] = d * Float(sc.load(fromByteOffset: scaleBase, as: Int8.self)) * Float(q1)
                    y[l + 32] = d * Float(sc.load(fromByteOffset: scaleBase + 2, as: Int8.self)) * Float(q2)
                    y[l + 64] = d * Float(sc.load(fromByteOffset: scaleBase + 4, as: Int8.self)) * Float(q3)
                    y[l + 96] = d * Float(sc.load(fromByteOffset: scaleBase + 6, as: Int8.self)) * Float(q4)
                }
                y += 128
            }
        }
    default:
        return false
    }
    return true
}

/// Scale `i` (0..<16) of a Q3_K block's 12 scale bytes, minus its offset of 32: the low 4 bits sit
/// in the nibbles of bytes 0-7, the high 2 bits in bytes 8-11.
@inline(__always)
private func q3KScale(_ i: Int, _ p: UnsafeRawPointer) -> Int {
    let low = (p.load(fromByteOffset: i % 8, as: UInt8.self) >> (i < 8 ? 0 : 4)) & 0xF
    let high = (p.load(fromByteOffset: 8 + i % 4, as: UInt8.self) >> UInt8(2 * (i / 4))) & 3
    return Int(low | high << 4) - 32
}
