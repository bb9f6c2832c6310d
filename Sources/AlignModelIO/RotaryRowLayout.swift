import AlignKernels

extension TensorStorage {
    /// Reorders the rows of a Q or K projection between the two RoPE layouts. Rows are viewed as
    /// `[heads, 2, headDim/2]` (Hugging Face) or `[heads, headDim/2, 2]` (llama.cpp);
    /// `toGGUF` selects the direction. Returns a new storage; a format conversion, so it lives with
    /// the file readers rather than in the models.
    public func permutingRotaryRows(rows: Int, heads: Int, toGGUF: Bool) -> TensorStorage {
        let storage = self
        // `rows > 0` first: `storage.count % rows` would otherwise divide by zero.
        precondition(heads > 0 && rows > 0 && rows % (2 * heads) == 0 && storage.count % rows == 0, "rows \(rows) do not split into \(heads) heads of even size")
        let columns = storage.count / rows
        let half = rows / heads / 2
        let result = TensorStorage(count: storage.count)
        let source = storage.pointer
        let destination = result.pointer
        for head in 0..<heads {
            let base = head * 2 * half
            for i in 0..<half {
                for j in 0..<2 {
                    let hfRow = base + j * half + i
                    let ggufRow = base + 2 * i + j
                    let (from, to) = toGGUF ? (hfRow, ggufRow) : (ggufRow, hfRow)
                    (destination + to * columns).update(from: source + from * columns, count: columns)
                }
            }
        }
        withExtendedLifetime(storage) {}
        return result
    }
}
