/// Several SFT sequences laid back to back in one row of at most the packing length.
public struct PackedSequence: Sendable, Equatable {
    /// The concatenated ids.
    public var inputIDs: [Int32]
    /// The concatenated labels (each example's own, ``ignoredLabel`` where it takes no loss).
    public var labels: [Int32]
    /// Length of each example in the row, in order (they sum to `inputIDs.count`).
    public var segmentLengths: [Int]
}

/// Packs sequences into rows of at most `length` tokens with best-fit decreasing, as TRL 1.16's default
/// `packing_strategy="bfd"`: empty sequences are dropped, longer ones are cut to `length` (keeping the start),
/// sequences are taken longest first (ties in input order) and each goes into the open row with the least
/// room that still fits it (the oldest such row on ties), or a new row.
public func packSequences(_ sequences: [TokenizedSequence], length: Int) -> [PackedSequence] {
    precondition(length > 0, "packing length must be positive")
    let items = sequences.indices.filter { !sequences[$0].inputIDs.isEmpty }
    let lengths = items.map { min(sequences[$0].inputIDs.count, length) }
    // Stable sort by length, descending.
    let order = lengths.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
    var bins: [(members: [Int], used: Int)] = []
    // binsWithRoom[r]: open bins with exactly r tokens of room, oldest first. Room `length` never has
    // entries: a new bin is opened instead.
    var binsWithRoom = [[Int]](repeating: [], count: length + 1)
    var heads = [Int](repeating: 0, count: length + 1)  // queue heads, so popping the oldest is O(1)
    for k in order {
        let need = lengths[k]
        var room = need
        while room < length && heads[room] == binsWithRoom[room].count { room += 1 }
        let bin: Int
        if room < length {
            bin = binsWithRoom[room][heads[room]]
            heads[room] += 1
        } else {
            bin = bins.count
            bins.append(([], 0))
            room = length
        }
        bins[bin].members.append(items[k])
        bins[bin].used += need
        let left = room - need
        if left > 0 { binsWithRoom[left].append(bin) }
    }
    return bins.map { bin in
        var ids: [Int32] = [], labels: [Int32] = [], lengthsInRow: [Int] = []
        ids.reserveCapacity(bin.used)
        labels.reserveCapacity(bin.used)
        for i in bin.members {
            let n = min(sequences[i].inputIDs.count, length)
            ids.append(contentsOf: sequences[i].inputIDs[..<n])
            labels.append(contentsOf: sequences[i].labels[..<n])
            lengthsInRow.append(n)
        }
        return PackedSequence(inputIDs: ids, labels: labels, segmentLengths: lengthsInRow)
    }
}
