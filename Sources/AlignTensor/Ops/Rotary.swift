import AlignKernels
import Foundation

/// Precomputed cos/sin tables for rotary position embeddings, (positions, headDim/2) each.
///
/// Frequencies follow Hugging Face: inv_freq[i] = 1 / θ^(2i/d) in float32, optionally rescaled by
/// the Llama-3 rule, and angles = position · inv_freq rounded to float32 before cos/sin, so
/// tables match transformers bit for bit up to the last ulp of cos/sin.
public struct RotaryTable: @unchecked Sendable {
    /// cos of the angles, (maxPositions, headDim/2).
    public let cos: Tensor
    /// sin of the angles, (maxPositions, headDim/2).
    public let sin: Tensor
    /// Features per head (even).
    public let headDim: Int
    /// Number of positions tabulated.
    public let maxPositions: Int

    /// Llama 3's frequency rescaling (`rope_scaling` with `rope_type: "llama3"`).
    public struct Llama3Scaling: Sendable, Hashable, Codable {
        public var factor: Float, lowFrequencyFactor: Float, highFrequencyFactor: Float, originalMaxPositions: Int
        public init(factor: Float, lowFrequencyFactor: Float, highFrequencyFactor: Float, originalMaxPositions: Int) {
            self.factor = factor; self.lowFrequencyFactor = lowFrequencyFactor
            self.highFrequencyFactor = highFrequencyFactor; self.originalMaxPositions = originalMaxPositions
        }
    }

    /// Inverse frequencies 1/θ^(2i/d), as transformers computes them, optionally Llama-3 scaled.
    public static func inverseFrequencies(headDim: Int, theta: Float, llama3: Llama3Scaling? = nil) -> [Float] {
        var inv = (0..<(headDim / 2)).map { i -> Float in
            1 / Float(pow(Double(theta), Double(Float(2 * i) / Float(headDim))))
        }
        if let s = llama3 {
            let lowWavelen = Float(s.originalMaxPositions) / s.lowFrequencyFactor
            let highWavelen = Float(s.originalMaxPositions) / s.highFrequencyFactor
            inv = inv.map { f in
                let wavelen = 2 * Float.pi / f
                if wavelen < highWavelen { return f }
                if wavelen > lowWavelen { return f / s.factor }
                let smooth = (Float(s.originalMaxPositions) / wavelen - s.lowFrequencyFactor)
                    / (s.highFrequencyFactor - s.lowFrequencyFactor)
                return (1 - smooth) * f / s.factor + smooth * f
            }
        }
        return inv
    }

    /// Tabulates positions 0..<maxPositions.
    public init(headDim: Int, maxPositions: Int, theta: Float, llama3: Llama3Scaling? = nil) {
        precondition(headDim % 2 == 0, "rotary head dimension \(headDim) must be even")
        let inv = RotaryTable.inverseFrequencies(headDim: headDim, theta: theta, llama3: llama3)
        let half = headDim / 2
        let c = Tensor.empty([maxPositions, half]), s = Tensor.empty([maxPositions, half])
        for p in 0..<maxPositions {
            for i in 0..<half {
                let angle = Double(Float(p) * inv[i])
                c.pointer[p * half + i] = Float(Foundation.cos(angle))
                s.pointer[p * half + i] = Float(Foundation.sin(angle))
            }
        }
        self.cos = c; self.sin = s; self.headDim = headDim; self.maxPositions = maxPositions
    }

    /// Rotates x (batch, seq, heads, headDim) in place.
    func apply(to x: Tensor, positions: [Int32], heads: Int, convention: Kernels.RotaryConvention, inverse: Bool) {
        let bt = x.count / (heads * headDim)
        precondition(positions.count == bt, "\(positions.count) positions for \(bt) tokens")
        // Checked in unchecked builds too: a position past the table would read other memory.
        // Callers refuse longer sequences first (requireSequencesFit, promptsFit).
        if !positions.allSatisfy({ $0 >= 0 && Int($0) < maxPositions }) { fatalError("position beyond the rotary table's \(maxPositions)") }
        positions.withUnsafeBufferPointer { p in
            Kernels.rotary(x.pointer, batch: 1, seq: bt, heads: heads, headDim: headDim, cos: cos.pointer, sin: sin.pointer,
                           positions: p.baseAddress!, convention: convention, inverse: inverse)
        }
    }
}

extension Tensor {
    /// Rotary position embedding of x (batch, seq, heads·headDim or heads, headDim), one position
    /// id per (batch, seq) token.
    public func rotary(_ table: RotaryTable, positions: [Int32], heads: Int,
                       convention: Kernels.RotaryConvention = .rotateHalf) -> Tensor {
        let y = copy()
        table.apply(to: y, positions: positions, heads: heads, convention: convention, inverse: false)
        return Tensor.record(y, .rotary(table: table, positions: positions, heads: heads, convention: convention), inputs: [self])
    }
}
