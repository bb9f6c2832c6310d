extension Kernels {
    /// Gathers rows of `table` (vocab, dim) for each id into out (count, dim).
    public static func embedding(
        _ table: UnsafePointer<Float>, vocab: Int, dim: Int, ids: UnsafePointer<Int32>, count: Int,
        _ out: UnsafeMutablePointer<Float>
    ) {
        parallelFor(count, minimumChunk: max(1, elementwiseGrain / max(dim, 1))) { start, end in
            for i in start..<end {
                let id = Int(ids[i])
                // Checked in unchecked builds too: an id past the table would read other memory.
                // Callers validate ids first (tokenizer vs vocab_size), so this never fires.
                if id < 0 || id >= vocab { fatalError("token id \(id) outside the vocabulary of \(vocab)") }
                (out + i * dim).update(from: table + id * dim, count: dim)
            }
        }
    }

    /// Backward of ``embedding``: scatter-adds each row of dOut (count, dim) into dTable at its id.
    /// Parallel over feature blocks, so repeated ids never race.
    public static func embeddingBackward(
        _ dOut: UnsafePointer<Float>, ids: UnsafePointer<Int32>, count: Int, dim: Int,
        _ dTable: UnsafeMutablePointer<Float>
    ) {
        let block = 32
        let blocks = (dim + block - 1) / block
        parallelFor(blocks) { start, end in
            for bl in start..<end {
                let c0 = bl * block, c1 = Swift.min(dim, c0 + block)
                for i in 0..<count {
                    let src = dOut + i * dim, dst = dTable + Int(ids[i]) * dim
                    for c in c0..<c1 { dst[c] += src[c] }
                }
            }
        }
    }
}
