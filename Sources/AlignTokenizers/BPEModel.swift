import Foundation

/// The BPE model: a vocabulary, ranked merges, and the rules for symbols the vocabulary lacks.
///
/// Works in one of two alphabets. Byte-level models (GPT-2, Llama-3, Qwen2, SmolLM2) start every word
/// from its UTF-8 bytes; character models (SentencePiece-style Llama-2/Mistral) start from Unicode
/// scalars and fall back to `<0xNN>` byte tokens for scalars outside the vocabulary.
final class BPEModel: @unchecked Sendable {
    /// Token string to id, as in `tokenizer.json` (byte-level tokens spelled in the GPT-2 alphabet).
    let vocabulary: [String: Int32]
    /// Pair key `left << 32 | right` to `rank << 32 | merged id`.
    let merges: [UInt64: UInt64]
    let isByteLevel: Bool
    /// Byte-level: id of the single-byte token for each byte (-1 when absent).
    let byteIDs: [Int32]
    /// Character models: id of each single-scalar token, ASCII in an array, the rest in a dictionary.
    let asciiIDs: [Int32]
    let scalarIDs: [UInt32: Int32]
    /// Ids of `<0x00>`...`<0xFF>` when byte fallback is on and all 256 exist.
    let byteFallbackIDs: [Int32]?
    let unknownID: Int32?
    let fusesUnknown: Bool
    /// Llama-3: a word that is itself a vocabulary entry is emitted whole, without merging.
    let ignoresMerges: Bool

    /// Character models whose vocabulary has no token with "▁" right after another character: words
    /// can then be cut before each such "▁" without changing the result.
    let splitsAtSpaceMarks: Bool

    private let cache = WordCache()

    /// Builds the model. `merges` are in priority order unless `ranks` gives explicit (possibly tied) ranks.
    init(vocabulary: [String: Int32], merges: [(String, String)], ranks: [Int]? = nil, isByteLevel: Bool,
         unknownToken: String?, byteFallback: Bool, fusesUnknown: Bool, ignoresMerges: Bool) {
        self.vocabulary = vocabulary
        self.isByteLevel = isByteLevel
        self.fusesUnknown = fusesUnknown
        self.ignoresMerges = ignoresMerges
        unknownID = unknownToken.flatMap { vocabulary[$0] }

        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(merges.count)
        for (index, (left, right)) in merges.enumerated() {
            guard let a = vocabulary[left], let b = vocabulary[right], let merged = vocabulary[left + right] else { continue }
            let rank = UInt64(ranks?[index] ?? index)
            table[BPEModel.key(a, b)] = rank << 32 | UInt64(UInt32(bitPattern: merged))
        }
        self.merges = table

        byteIDs = (0..<256).map { vocabulary[string([ByteLevelAlphabet.scalarOfByte[$0]])] ?? -1 }
        var ascii = [Int32](repeating: -1, count: 128)
        var others: [UInt32: Int32] = [:]
        if !isByteLevel {
            for (token, id) in vocabulary {
                var iterator = token.unicodeScalars.makeIterator()
                guard let first = iterator.next(), iterator.next() == nil else { continue }
                if first.value < 128 { ascii[Int(first.value)] = id } else { others[first.value] = id }
            }
        }
        asciiIDs = ascii
        scalarIDs = others
        splitsAtSpaceMarks = !isByteLevel && vocabulary["\u{2581}"] != nil && !vocabulary.keys.contains { token in
            var previous: Unicode.Scalar? = nil
            for scalar in token.unicodeScalars {
                if scalar == "\u{2581}", let previous, previous != "\u{2581}" { return true }
                previous = scalar
            }
            return false
        }
        if byteFallback {
            let ids = (0..<256).map { vocabulary[String(format: "<0x%02X>", $0)] }
            byteFallbackIDs = ids.contains(where: { $0 == nil }) ? nil : ids.map { $0! }
        } else {
            byteFallbackIDs = nil
        }
    }

    @inline(__always)
    static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }

    /// Encodes one pre-tokenized word, appending its ids. `utf8` is scratch space.
    func encode(_ word: UnsafeBufferPointer<UInt32>, into output: inout [Int32], utf8: inout [UInt8]) {
        guard !word.isEmpty else { return }
        if splitsAtSpaceMarks && word.count > 16 {
            // No token spans "x▁" (x not ▁), so no merge can cross such a boundary: encode the pieces
            // between them separately, which is exact and lets the word cache work on whole lines.
            var start = 0
            var i = 1
            while i < word.count {
                if word[i] == 0x2581 && word[i - 1] != 0x2581 {
                    encodeCached(UnsafeBufferPointer(rebasing: word[start..<i]), into: &output, utf8: &utf8)
                    start = i
                }
                i += 1
            }
            encodeCached(UnsafeBufferPointer(rebasing: word[start...]), into: &output, utf8: &utf8)
        } else {
            encodeCached(word, into: &output, utf8: &utf8)
        }
    }

    private func encodeCached(_ word: UnsafeBufferPointer<UInt32>, into output: inout [Int32], utf8: inout [UInt8]) {
        utf8.removeAll(keepingCapacity: true)
        appendUTF8(word, to: &utf8)
        guard word.count <= 64 else {
            encodeUncached(word, utf8: utf8, into: &output)
            return
        }
        let hash = utf8.withUnsafeBufferPointer { WordCache.hash($0) }
        if utf8.withUnsafeBufferPointer({ cache.lookup($0, hash: hash, into: &output) }) { return }
        let start = output.count
        encodeUncached(word, utf8: utf8, into: &output)
        utf8.withUnsafeBufferPointer { cache.insert($0, hash: hash, ids: output[start...]) }
    }

    private func encodeUncached(_ word: UnsafeBufferPointer<UInt32>, utf8: [UInt8], into output: inout [Int32]) {
        if ignoresMerges {
            let spelled = isByteLevel ? ByteLevelAlphabet.token(ofBytes: utf8) : String(decoding: utf8, as: UTF8.self)
            if let id = vocabulary[spelled] {
                output.append(id)
                return
            }
        }
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        if isByteLevel {
            for byte in utf8 {
                let id = byteIDs[Int(byte)]
                if id >= 0 { symbols.append(id) } else { appendUnknown(&symbols) }
            }
        } else {
            var previousUnknown = false
            var bytes: [UInt8] = []
            for value in word {
                let id = value < 128 ? asciiIDs[Int(value)] : (scalarIDs[value] ?? -1)
                if id >= 0 {
                    symbols.append(id)
                    previousUnknown = false
                } else if let fallback = byteFallbackIDs {
                    bytes.removeAll(keepingCapacity: true)
                    appendUTF8(CollectionOfOne(value), to: &bytes)
                    for byte in bytes { symbols.append(fallback[Int(byte)]) }
                    previousUnknown = false
                } else if let unknown = unknownID {
                    if !(fusesUnknown && previousUnknown) { symbols.append(unknown) }
                    previousUnknown = true
                }
            }
        }
        if symbols.count <= 48 {
            mergeSmall(&symbols)
        } else {
            mergeLarge(&symbols)
        }
        output.append(contentsOf: symbols)
    }

    private func appendUnknown(_ symbols: inout [Int32]) {
        if let unknown = unknownID, !(fusesUnknown && symbols.last == unknown) { symbols.append(unknown) }
    }

    @inline(__always)
    private func merge(_ a: Int32, _ b: Int32) -> UInt64 {
        merges[BPEModel.key(a, b)] ?? UInt64.max
    }

    /// Short words: keep the rank of every adjacent pair, merge the lowest (leftmost on ties), and
    /// refresh only the two pairs the merge touched.
    private func mergeSmall(_ symbols: inout [Int32]) {
        guard symbols.count >= 2 else { return }
        var ranks = [UInt64](repeating: 0, count: symbols.count - 1)
        for i in 0..<ranks.count { ranks[i] = merge(symbols[i], symbols[i + 1]) }
        while !ranks.isEmpty {
            var best = 0
            var bestRank = ranks[0]
            for i in 1..<ranks.count where ranks[i] < bestRank {
                best = i
                bestRank = ranks[i]
            }
            if bestRank == UInt64.max { break }
            symbols[best] = Int32(bitPattern: UInt32(truncatingIfNeeded: bestRank))
            symbols.remove(at: best + 1)
            ranks.remove(at: best)
            if best > 0 { ranks[best - 1] = merge(symbols[best - 1], symbols[best]) }
            if best < ranks.count { ranks[best] = merge(symbols[best], symbols[best + 1]) }
        }
    }

    /// Long words (a whole SentencePiece line, say): a binary heap of candidate pairs ordered by
    /// (rank, position) over a doubly linked list of symbols, so each merge costs O(log n).
    private func mergeLarge(_ symbols: inout [Int32]) {
        let n = symbols.count
        var ids = symbols
        var next = [Int32](repeating: -1, count: n)
        var previous = [Int32](repeating: -1, count: n)
        for i in 0..<n {
            next[i] = i + 1 < n ? Int32(i + 1) : -1
            previous[i] = Int32(i - 1)
        }
        var heap = PairHeap()
        heap.reserve(n)
        for i in 0..<(n - 1) {
            let m = merge(ids[i], ids[i + 1])
            if m != UInt64.max { heap.push(PairCandidate(rank: UInt32(m >> 32), position: Int32(i), left: ids[i], right: ids[i + 1])) }
        }
        while let candidate = heap.pop() {
            let p = Int(candidate.position)
            // Stale entries: the left symbol was absorbed, or either side changed since the push.
            guard ids[p] == candidate.left, next[p] >= 0, ids[Int(next[p])] == candidate.right else { continue }
            let r = Int(next[p])
            let m = merge(ids[p], ids[r])
            ids[p] = Int32(bitPattern: UInt32(truncatingIfNeeded: m))
            ids[r] = -1
            next[p] = next[r]
            if next[r] >= 0 { previous[Int(next[r])] = Int32(p) }
            if previous[p] >= 0 {
                let q = Int(previous[p])
                let mq = merge(ids[q], ids[p])
                if mq != UInt64.max { heap.push(PairCandidate(rank: UInt32(mq >> 32), position: Int32(q), left: ids[q], right: ids[p])) }
            }
            if next[p] >= 0 {
                let s = Int(next[p])
                let ms = merge(ids[p], ids[s])
                if ms != UInt64.max { heap.push(PairCandidate(rank: UInt32(ms >> 32), position: Int32(p), left: ids[p], right: ids[s])) }
            }
        }
        symbols.removeAll(keepingCapacity: true)
        var i: Int32 = 0
        while i >= 0 {
            symbols.append(ids[Int(i)])
            i = next[Int(i)]
        }
    }
}

/// Appends the UTF-8 encoding of scalar values (valid scalars; others are skipped).
@inline(__always)
func appendUTF8<C: Collection>(_ scalars: C, to bytes: inout [UInt8]) where C.Element == UInt32 {
    for v in scalars {
        if v < 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v))
        } else if v < 0x800 {
            bytes.append(UInt8(truncatingIfNeeded: 0xC0 | (v >> 6)))
            bytes.append(UInt8(truncatingIfNeeded: 0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            bytes.append(UInt8(truncatingIfNeeded: 0xE0 | (v >> 12)))
            bytes.append(UInt8(truncatingIfNeeded: 0x80 | ((v >> 6) & 0x3F)))
            bytes.append(UInt8(truncatingIfNeeded: 0x80 | (v & 0x3F)))
        } else if v < 0x110000 {
            bytes.append(UInt8(truncatingIfNeeded: 0xF0 | (v >> 18)))
            bytes.append(UInt8(truncatingIfNeeded: 0x80 | ((v >> 12) & 0x3F)))
            bytes.append(UInt8(truncatingIfNeeded: 0x80 | ((v >> 6) & 0x3F)))
            bytes.append(UInt8(truncatingIfNeeded: 0x80 | (v & 0x3F)))
        }
    }
}

/// A candidate merge of the symbols at `position` and its successor.
struct PairCandidate {
    var rank: UInt32
    var position: Int32
    var left: Int32
    var right: Int32

    @inline(__always)
    var order: UInt64 { UInt64(rank) << 32 | UInt64(UInt32(bitPattern: position)) }
}

/// A minimal binary min-heap on (rank, position).
struct PairHeap {
    private var items: [PairCandidate] = []

    mutating func reserve(_ count: Int) { items.reserveCapacity(count) }

    mutating func push(_ item: PairCandidate) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if items[parent].order <= items[child].order { break }
            items.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() -> PairCandidate? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            let count = items.count
            while true {
                let left = 2 * parent + 1
                if left >= count { break }
                var smallest = left
                if left + 1 < count && items[left + 1].order < items[left].order { smallest = left + 1 }
                if items[parent].order <= items[smallest].order { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}

/// Thread-safe cache from a pre-tokenized word (its UTF-8 bytes) to its ids.
///
/// An open-addressing table over two flat arenas (key bytes, ids) with an FNV-1a hash: a hit costs one
/// short hash, a probe or two and a copy, with no String building, Swift hashing or per-entry
/// allocation. When it fills it is simply emptied, so memory stays bounded over long corpora.
final class WordCache: @unchecked Sendable {
    private struct Slot {
        var hash: UInt64 = 0
        var keyStart: Int32 = -1  // -1: empty
        var keyCount: Int32 = 0
        var idsStart: Int32 = 0
        var idsCount: Int32 = 0
    }

    private let slotCount: Int
    /// Allocated on first insert (3 MB by default), so tokenizers that never encode cost nothing.
    private var slots: [Slot] = []
    private var keys: [UInt8] = []
    private var ids: [Int32] = []
    private var used = 0
    private let lock = NSLock()

    /// A cache with `slotCount` (a power of two) slots, emptied when half of them are used.
    init(slotCount: Int = 1 << 17) {
        precondition(slotCount > 0 && slotCount & (slotCount - 1) == 0, "slot count must be a power of two")
        self.slotCount = slotCount
    }

    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return h
    }

    /// Appends the cached ids of `key` to `output` and returns true, or returns false on a miss.
    func lookup(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64, into output: inout [Int32]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if slots.isEmpty { return false }
        let mask = slotCount - 1
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots[index]
            if slot.keyStart < 0 { return false }
            if slot.hash == hash && Int(slot.keyCount) == key.count {
                let start = Int(slot.keyStart)
                let equal = keys.withUnsafeBufferPointer { stored in
                    memcmp(stored.baseAddress! + start, key.baseAddress!, key.count) == 0
                }
                if equal {
                    output.append(contentsOf: ids[Int(slot.idsStart)..<Int(slot.idsStart + slot.idsCount)])
                    return true
                }
            }
            index = (index + 1) & mask
        }
    }

    /// Remembers the ids of `key`.
    func insert(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64, ids newIDs: ArraySlice<Int32>) {
        lock.lock()
        defer { lock.unlock() }
        if slots.isEmpty { slots = [Slot](repeating: Slot(), count: slotCount) }
        if used >= slotCount / 2 || keys.count + key.count >= Int(Int32.max) / 2 {
            for i in slots.indices { slots[i].keyStart = -1 }
            keys.removeAll(keepingCapacity: true)
            ids.removeAll(keepingCapacity: true)
            used = 0
        }
        let mask = slotCount - 1
        var index = Int(truncatingIfNeeded: hash) & mask
        while slots[index].keyStart >= 0 { index = (index + 1) & mask }
        slots[index] = Slot(hash: hash, keyStart: Int32(keys.count), keyCount: Int32(key.count),
                            idsStart: Int32(ids.count), idsCount: Int32(newIDs.count))
        keys.append(contentsOf: key)
        ids.append(contentsOf: newIDs)
        used += 1
    }
}
