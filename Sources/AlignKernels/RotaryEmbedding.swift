extension Kernels {
    /// How a rotary embedding pairs the features of a head.
    public enum RotaryConvention: Sendable, Hashable {
        /// Hugging Face's Llama/Qwen2/Mistral layout: feature i pairs with i + D/2 ("rotate half").
        case rotateHalf
        /// GPT-J / original Meta layout: features 2i and 2i+1 form a pair.
        case adjacentPairs
    }

    /// Applies (or, with `inverse`, undoes: the backward pass) rotary position embedding in place
    /// to x (batch, seq, heads, headDim). `cos`/`sin` are (positions, headDim/2) tables and
    /// `positions` (batch·seq) picks each token's row.
    public static func rotary(
        _ x: UnsafeMutablePointer<Float>, batch: Int, seq: Int, heads: Int, headDim: Int,
        cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, positions: UnsafePointer<Int32>,
        convention: RotaryConvention, inverse: Bool
    ) {
        let half = headDim / 2
        let sign: Float = inverse ? -1 : 1
        parallelFor(batch * seq, minimumChunk: max(1, elementwiseGrain / max(heads * headDim, 1))) { start, end in
            for bt in start..<end {
                let p = Int(positions[bt])
                let c = cos + p * half, s = sin + p * half
                for h in 0..<heads {
                    let v = x + (bt * heads + h) * headDim
                    switch convention {
                    case .rotateHalf:
                        for i in 0..<half {
                            let a = v[i], b = v[i + half], si = sign * s[i]
                            v[i] = a * c[i] - b * si
                            v[i + half] = b * c[i] + a * si
                        }
                    case .adjacentPairs:
                        for i in 0..<half {
                            let a = v[2 * i], b = v[2 * i + 1], si = sign * s[i]
                            v[2 * i] = a * c[i] - b * si
                            v[2 * i + 1] = b * c[i] + a * si
                        }
                    }
                }
            }
        }
    }
}
