import Foundation

/// How the rows of a packed (rows, features) matrix form sequences for attention, with no padding
/// stored anywhere. Each group is a shared prefix followed by zero or more branches laid out one
/// after another: prefix rows attend causally among themselves; each branch row attends to the
/// whole prefix and causally within its own branch, never to another branch. A plain sequence is a
/// group with no branches. A preference pair is one group: the prompt once, then the chosen and the
/// rejected completion as two branches, so the prompt is computed once for both.
public struct SequencePacking: Sendable, Hashable {
    /// One prefix and its branches, starting at row `start`.
    public struct Group: Sendable, Hashable {
        /// First row of the group in the packed matrix.
        public var start: Int
        /// Rows of the shared prefix (0 for none).
        public var prefix: Int
        /// Rows of each branch, laid out in this order after the prefix.
        public var branches: [Int]
        /// Rows the group occupies.
        public var rows: Int { prefix + branches.reduce(0, +) }
    }

    /// The groups, in row order.
    public private(set) var groups: [Group]
    /// Total rows.
    public private(set) var rows: Int

    /// Independent causal sequences of the given lengths, packed end to end.
    public init(lengths: [Int]) {
        self.init(prefixes: lengths, branches: lengths.map { _ in [] })
    }

    /// Groups of a prefix and its branches, packed end to end in that order.
    public init(prefixes: [Int], branches: [[Int]]) {
        precondition(prefixes.count == branches.count, "\(prefixes.count) prefixes for \(branches.count) branch lists")
        var groups: [Group] = []
        var at = 0
        for (p, bs) in zip(prefixes, branches) {
            precondition(p >= 0 && bs.allSatisfy { $0 >= 0 }, "negative sequence length")
            groups.append(Group(start: at, prefix: p, branches: bs))
            at += p + bs.reduce(0, +)
        }
        self.groups = groups
        self.rows = at
    }

    /// Position ids per row: 0..<prefix on the prefix, and each branch continuing from the prefix.
    public var positions: [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(rows)
        for g in groups {
            out += (0..<g.prefix).map(Int32.init)
            for b in g.branches { out += (g.prefix..<(g.prefix + b)).map(Int32.init) }
        }
        return out
    }

    /// Each part of a group as (first row, rows, prefix rows it sees before itself): the prefix
    /// first (seeing nothing before it), then every branch.
    func parts(_ g: Group) -> [(start: Int, count: Int, visiblePrefix: Int)] {
        var out = [(start: g.start, count: g.prefix, visiblePrefix: 0)]
        var at = g.start + g.prefix
        for b in g.branches {
            out.append((at, b, g.prefix))
            at += b
        }
        return out
    }
}

/// A packed layout with the head configuration of one attention call.
public struct AttentionSegments: Sendable, Hashable {
    /// How the rows form sequences.
    public var packing: SequencePacking
    /// Query heads, key/value heads (a divisor of `heads`) and the width of one head.
    public var heads: Int, kvHeads: Int, headDim: Int
    /// Score scale, usually 1/√headDim.
    public var scale: Float

    public init(packing: SequencePacking, heads: Int, kvHeads: Int, headDim: Int, scale: Float? = nil) {
        precondition(heads % kvHeads == 0, "\(heads) query heads cannot share \(kvHeads) key/value heads")
        self.packing = packing
        self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
    }

    /// Independent sequences of `lengths` rows.
    public init(lengths: [Int], heads: Int, kvHeads: Int, headDim: Int, scale: Float? = nil) {
        self.init(packing: SequencePacking(lengths: lengths), heads: heads, kvHeads: kvHeads, headDim: headDim, scale: scale)
    }

    /// Total rows.
    public var rows: Int { packing.rows }
}

/// Per-task scratch for packed attention: one task is one (group, key/value head), so nothing in
/// here is shared between threads.
struct AttentionScratch {
    /// Query rows per block: the (block, keys) score tile stays small while every tile product
    /// still has long enough loops.
    static let block = 48
    let dPad: Int, keysPad: Int
    let storage: UnsafeMutablePointer<Float>
    /// Kᵀ and Vᵀ of the part's visible keys (D, keysPad); K and V (keys, dPad).
    let kT: UnsafeMutablePointer<Float>, vT: UnsafeMutablePointer<Float>
    let kRows: UnsafeMutablePointer<Float>, vRows: UnsafeMutablePointer<Float>
    /// dK and dV of the part's visible keys (keys, dPad), accumulated over heads and blocks.
    let dK: UnsafeMutablePointer<Float>, dV: UnsafeMutablePointer<Float>
    /// Scores/probabilities and their gradient (block, keysPad).
    let p: UnsafeMutablePointer<Float>, dP: UnsafeMutablePointer<Float>
    /// A block of queries, output gradients and results (block, dPad).
    let qBlock: UnsafeMutablePointer<Float>, gBlock: UnsafeMutablePointer<Float>, oBlock: UnsafeMutablePointer<Float>
    /// The softmax backward's row terms of a block (block).
    let delta: UnsafeMutablePointer<Float>

    init(headDim: Int, maxKeys: Int, backward: Bool) {
        dPad = (headDim + 7) / 8 * 8
        keysPad = (maxKeys + 7) / 8 * 8
        let kv = headDim * keysPad, rowsSize = keysPad * dPad, blockScores = Self.block * keysPad, blockRows = Self.block * dPad
        let total = 2 * kv + (backward ? 4 : 1) * rowsSize + (backward ? 2 : 1) * blockScores + 3 * blockRows + Self.block
        storage = .allocate(capacity: total)
        storage.update(repeating: 0, count: total)
        var at = storage
        func take(_ n: Int) -> UnsafeMutablePointer<Float> { defer { at += n }; return at }
        kT = take(kv); vT = take(kv)
        vRows = take(rowsSize)
        kRows = backward ? take(rowsSize) : vRows
        dK = backward ? take(rowsSize) : vRows
        dV = backward ? take(rowsSize) : vRows
        p = take(blockScores)
        dP = backward ? take(blockScores) : p
        qBlock = take(blockRows); gBlock = take(blockRows); oBlock = take(blockRows)
        delta = take(Self.block)
    }

    func free() { storage.deallocate() }
}

extension Kernels {
    /// Copies head `head`'s columns of the visible keys (the prefix rows, then the part's own
    /// rows up to `count`) of a (rows, kvHeads·D) matrix, transposed into `t` (D, keysPad) and as
    /// rows into `r` (keys, dPad) when given. Pad columns of `t` and `r` stay zero.
    @inlinable
    static func gatherKeys(_ x: UnsafePointer<Float>, rowStride: Int, column: Int, headDim d: Int,
                           prefixStart: Int, prefix: Int, partStart: Int, count: Int,
                           t: UnsafeMutablePointer<Float>?, keysPad: Int, r: UnsafeMutablePointer<Float>?, dPad: Int) {
        for c in 0..<(prefix + count) {
            let row = c < prefix ? prefixStart + c : partStart + c - prefix
            let src = x + row * rowStride + column
            if let t { for j in 0..<d { t[j * keysPad + c] = src[j] } }
            if let r { (r + c * dPad).update(from: src, count: d) }
        }
        // Columns between the visible keys and the padded width may hold a previous part's keys.
        if let t, prefix + count < keysPad {
            for j in 0..<d { (t + j * keysPad + prefix + count).update(repeating: 0, count: keysPad - prefix - count) }
        }
    }

    /// Softmax of a block of score rows in place: row i (query `first + i` of its part) sees
    /// keys [0, visiblePrefix + first + i]; later columns up to `width` become 0. With `storedLSE`
    /// the row's log Σ exp is read instead of computed (backward's recomputation).
    @inlinable
    static func blockSoftmax(_ p: UnsafeMutablePointer<Float>, ld: Int, rows: Int, width: Int, first: Int, visiblePrefix: Int,
                             lse: UnsafeMutablePointer<Float>?, lseStride: Int, storedLSE: UnsafePointer<Float>?) {
        for i in 0..<rows {
            let r = p + i * ld
            let n = visiblePrefix + first + i + 1
            if let storedLSE {
                exponentiate(r, n, minus: storedLSE[i * lseStride])
            } else {
                lse![i * lseStride] = softmaxInPlace(r, n)
            }
            if n < width { (r + n).update(repeating: 0, count: width - n) }
        }
    }

    /// Runs `body(group, kvHead, scratch)` for every (group, key/value head) pair in parallel, with
    /// scratch sized for the group's longest part (groups with no rows are skipped).
    static func forEachAttentionTask(_ s: AttentionSegments, backward: Bool,
                                     _ body: (SequencePacking.Group, Int, AttentionScratch) -> Void) {
        let groups = s.packing.groups
        parallelFor(groups.count * s.kvHeads) { start, end in
            for task in start..<end {
                let g = groups[task / s.kvHeads]
                let maxKeys = g.prefix + (g.branches.max() ?? 0)
                if maxKeys == 0 { continue }
                let w = AttentionScratch(headDim: s.headDim, maxKeys: maxKeys, backward: backward)
                body(g, task % s.kvHeads, w)
                w.free()
            }
        }
    }

    /// Causal attention over a packed layout (see ``SequencePacking``): q (rows, heads·D), k and v
    /// (rows, kvHeads·D), out (rows, heads·D), `lse` (rows, heads) keeps each query's log Σ exp for
    /// the backward pass. Runs in parallel over (group, key/value head) with register-tiled products
    /// (no BLAS), each task touching only its own rows' outputs.
    public static func attention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                 segments s: AttentionSegments, out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) {
        let d = s.headDim, qRow = s.heads * d, kvRow = s.kvHeads * d, group = s.heads / s.kvHeads
        forEachAttentionTask(s, backward: false) { g, kvh, w in
            for part in s.packing.parts(g) where part.count > 0 {
                gatherKeys(k, rowStride: kvRow, column: kvh * d, headDim: d, prefixStart: g.start, prefix: part.visiblePrefix,
                           partStart: part.start, count: part.count, t: w.kT, keysPad: w.keysPad, r: nil, dPad: w.dPad)
                gatherKeys(v, rowStride: kvRow, column: kvh * d, headDim: d, prefixStart: g.start, prefix: part.visiblePrefix,
                           partStart: part.start, count: part.count, t: nil, keysPad: w.keysPad, r: w.vRows, dPad: w.dPad)
                for h in (kvh * group)..<((kvh + 1) * group) {
                    var i0 = 0
                    while i0 < part.count {
                        let rows = Swift.min(AttentionScratch.block, part.count - i0)
                        let visible = part.visiblePrefix + i0 + rows, width = (visible + 7) / 8 * 8
                        for i in 0..<rows {
                            (w.qBlock + i * w.dPad).update(from: q + (part.start + i0 + i) * qRow + h * d, count: d)
                        }
                        // S (rows, width) = scale · Q_block Kᵀ
                        tileProduct(m: rows, n: width, k: d, alpha: s.scale, a: w.qBlock, aRow: w.dPad, aColumn: 1,
                                    b: w.kT, ldb: w.keysPad, c: w.p, ldc: w.keysPad)
                        blockSoftmax(w.p, ld: w.keysPad, rows: rows, width: width, first: i0, visiblePrefix: part.visiblePrefix,
                                     lse: lse + (part.start + i0) * s.heads + h, lseStride: s.heads, storedLSE: nil)
                        // O_block (rows, dPad) = P V
                        tileProduct(m: rows, n: w.dPad, k: visible, a: w.p, aRow: w.keysPad, aColumn: 1,
                                    b: w.vRows, ldb: w.dPad, c: w.oBlock, ldc: w.dPad)
                        for i in 0..<rows {
                            (out + (part.start + i0 + i) * qRow + h * d).update(from: w.oBlock + i * w.dPad, count: d)
                        }
                        i0 += rows
                    }
                }
            }
        }
    }

    /// Backward of the packed ``attention(q:k:v:segments:out:lse:)``: gradients of q, k and v
    /// (overwritten), recomputing each block's probabilities from the saved `lse`.
    public static func attentionBackward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                         out: UnsafePointer<Float>, lse: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                                         segments s: AttentionSegments,
                                         dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
        let d = s.headDim, qRow = s.heads * d, kvRow = s.kvHeads * d, group = s.heads / s.kvHeads
        forEachAttentionTask(s, backward: true) { g, kvh, w in
            // This task owns dK and dV of its group's rows for this key/value head.
            for r in g.start..<(g.start + g.rows) {
                (dk + r * kvRow + kvh * d).update(repeating: 0, count: d)
                (dv + r * kvRow + kvh * d).update(repeating: 0, count: d)
            }
            for part in s.packing.parts(g) where part.count > 0 {
                let keys = part.visiblePrefix + part.count
                gatherKeys(k, rowStride: kvRow, column: kvh * d, headDim: d, prefixStart: g.start, prefix: part.visiblePrefix,
                           partStart: part.start, count: part.count, t: w.kT, keysPad: w.keysPad, r: w.kRows, dPad: w.dPad)
                gatherKeys(v, rowStride: kvRow, column: kvh * d, headDim: d, prefixStart: g.start, prefix: part.visiblePrefix,
                           partStart: part.start, count: part.count, t: w.vT, keysPad: w.keysPad, r: w.vRows, dPad: w.dPad)
                w.dK.update(repeating: 0, count: keys * w.dPad)
                w.dV.update(repeating: 0, count: keys * w.dPad)
                for h in (kvh * group)..<((kvh + 1) * group) {
                    var i0 = 0
                    while i0 < part.count {
                        let rows = Swift.min(AttentionScratch.block, part.count - i0)
                        let visible = part.visiblePrefix + i0 + rows, width = (visible + 7) / 8 * 8
                        let delta = w.delta
                        for i in 0..<rows {
                            let row = part.start + i0 + i
                            (w.qBlock + i * w.dPad).update(from: q + row * qRow + h * d, count: d)
                            (w.gBlock + i * w.dPad).update(from: dOut + row * qRow + h * d, count: d)
                            // δ_i = Σ_d dO ⊙ O: the softmax backward's row term.
                            let o = out + row * qRow + h * d, gr = dOut + row * qRow + h * d
                            var acc: Float = 0
                            for j in 0..<d { acc += o[j] * gr[j] }
                            delta[i] = acc
                        }
                        // P (rows, width) rebuilt from the saved log Σ exp.
                        tileProduct(m: rows, n: width, k: d, alpha: s.scale, a: w.qBlock, aRow: w.dPad, aColumn: 1,
                                    b: w.kT, ldb: w.keysPad, c: w.p, ldc: w.keysPad)
                        blockSoftmax(w.p, ld: w.keysPad, rows: rows, width: width, first: i0, visiblePrefix: part.visiblePrefix,
                                     lse: nil, lseStride: s.heads, storedLSE: lse + (part.start + i0) * s.heads + h)
                        // dP (rows, width) = dO Vᵀ
                        tileProduct(m: rows, n: width, k: d, a: w.gBlock, aRow: w.dPad, aColumn: 1,
                                    b: w.vT, ldb: w.keysPad, c: w.dP, ldc: w.keysPad)
                        // dS = P ⊙ (dP − δ), in place in dP; zero where P is (masked keys).
                        for i in 0..<rows {
                            let pr = w.p + i * w.keysPad, dr = w.dP + i * w.keysPad
                            let dl = SIMD8<Float>(repeating: delta[i])
                            var j = 0
                            while j < width {
                                let pv = UnsafeRawPointer(pr + j).loadUnaligned(as: SIMD8<Float>.self)
                                let gv = UnsafeRawPointer(dr + j).loadUnaligned(as: SIMD8<Float>.self)
                                UnsafeMutableRawPointer(dr + j).storeBytes(of: pv * (gv - dl), as: SIMD8<Float>.self)
                                j += 8
                            }
                        }
                        // dV_visible += Pᵀ dO_block ; dK_visible += scale · dSᵀ Q_block
                        tileProduct(m: visible, n: w.dPad, k: rows, a: w.p, aRow: 1, aColumn: w.keysPad,
                                    b: w.gBlock, ldb: w.dPad, c: w.dV, ldc: w.dPad, accumulate: true)
                        tileProduct(m: visible, n: w.dPad, k: rows, alpha: s.scale, a: w.dP, aRow: 1, aColumn: w.keysPad,
                                    b: w.qBlock, ldb: w.dPad, c: w.dK, ldc: w.dPad, accumulate: true)
                        // dQ_block = scale · dS K_visible
                        tileProduct(m: rows, n: w.dPad, k: visible, alpha: s.scale, a: w.dP, aRow: w.keysPad, aColumn: 1,
                                    b: w.kRows, ldb: w.dPad, c: w.oBlock, ldc: w.dPad)
                        for i in 0..<rows {
                            (dq + (part.start + i0 + i) * qRow + h * d).update(from: w.oBlock + i * w.dPad, count: d)
                        }
                        i0 += rows
                    }
                }
                // Scatter the part's key gradients back: prefix keys first, then its own rows.
                for c in 0..<keys {
                    let row = c < part.visiblePrefix ? g.start + c : part.start + c - part.visiblePrefix
                    let kd = dk + row * kvRow + kvh * d, vd = dv + row * kvRow + kvh * d
                    let ks = w.dK + c * w.dPad, vs = w.dV + c * w.dPad
                    for j in 0..<d { kd[j] += ks[j]; vd[j] += vs[j] }
                }
            }
        }
    }
}
