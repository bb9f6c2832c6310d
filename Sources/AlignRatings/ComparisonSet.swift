import AlignJSON

/// How one comparison between two items ended.
public enum Outcome: String, Sendable, Hashable, CaseIterable {
    /// The first item won.
    case firstWins
    /// The second item won.
    case secondWins
    /// Neither item was preferred.
    case tie
}

/// One pairwise comparison, with items referred to by their index in a `ComparisonSet`.
public struct Comparison: Sendable, Hashable {
    /// Index of the first item.
    public var first: Int
    /// Index of the second item.
    public var second: Int
    /// How the comparison ended.
    public var outcome: Outcome
    /// How many times this comparison counts (the input's `weight` or `count`; 1 by default).
    public var weight: Double

    /// Creates a comparison between the items at indices `first` and `second`.
    public init(first: Int, second: Int, outcome: Outcome, weight: Double = 1) {
        self.first = first
        self.second = second
        self.outcome = outcome
        self.weight = weight
    }
}

/// A malformed comparison file: names the source, the 1-based line and what is wrong.
///
/// Its description reads like a compiler diagnostic, `comparisons.jsonl:3: missing "winner"`.
public struct ComparisonParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name (or `<stdin>`) the comparisons came from.
    public var source: String
    /// The line on which the offending record starts, or `nil` for a problem with the whole input.
    public var line: Int?
    /// What is wrong, in words.
    public var reason: String

    /// Creates an error for `source`, at `line`, saying `reason`.
    public init(source: String, line: Int?, reason: String) {
        self.source = source
        self.line = line
        self.reason = reason
    }

    /// `source:line: reason`, or `source: reason` when no line applies.
    public var description: String {
        if let line { return "\(source):\(line): \(reason)" }
        return "\(source): \(reason)"
    }
}

/// The items and pairwise comparisons a Bradley–Terry model is fitted to.
///
/// Items are numbered in the order they first appear. Build one in code with `append`, or read a
/// comparison file with `init(json:source:)`:
///
/// ```swift
/// var comparisons = ComparisonSet()
/// comparisons.append(winner: "A", loser: "B")
/// comparisons.append("B", "C", outcome: .tie)
/// ```
public struct ComparisonSet: Sendable {
    /// Every item, in order of first appearance; `Comparison.first`/`second` index this array.
    public private(set) var items: [ItemID] = []
    /// Every comparison, in input order.
    public private(set) var comparisons: [Comparison] = []
    private var indexByID: [ItemID: Int] = [:]

    /// Creates an empty set.
    public init() {}

    /// The index of `id` in `items`, if it has been compared.
    public func index(of id: ItemID) -> Int? { indexByID[id] }

    /// The sum of all comparison weights.
    public var totalWeight: Double { comparisons.reduce(0) { $0 + $1.weight } }

    /// Adds a comparison between `first` and `second`, registering new items as they appear.
    ///
    /// - Precondition: `first != second` and `weight` is finite and positive.
    public mutating func append(_ first: ItemID, _ second: ItemID, outcome: Outcome, weight: Double = 1) {
        precondition(first != second, "an item cannot be compared with itself")
        precondition(weight.isFinite && weight > 0, "comparison weights must be finite and positive")
        comparisons.append(
            Comparison(first: register(first), second: register(second), outcome: outcome, weight: weight))
    }

    /// Adds a decisive comparison: `winner` was preferred over `loser`.
    public mutating func append(winner: ItemID, loser: ItemID, weight: Double = 1) {
        append(winner, loser, outcome: .firstWins, weight: weight)
    }

    private mutating func register(_ id: ItemID) -> Int {
        if let index = indexByID[id] { return index }
        indexByID[id] = items.count
        items.append(id)
        return items.count - 1
    }

    /// Per-item totals of (weighted) wins, losses and ties, indexed like `items`.
    public func tallies() -> [(wins: Double, losses: Double, ties: Double)] {
        var result = [(wins: Double, losses: Double, ties: Double)](repeating: (0, 0, 0), count: items.count)
        for c in comparisons {
            switch c.outcome {
            case .firstWins:
                result[c.first].wins += c.weight
                result[c.second].losses += c.weight
            case .secondWins:
                result[c.second].wins += c.weight
                result[c.first].losses += c.weight
            case .tie:
                result[c.first].ties += c.weight
                result[c.second].ties += c.weight
            }
        }
        return result
    }
}

// MARK: - Reading comparison files

extension ComparisonSet {
    /// Reads comparisons from JSON Lines (one object per line) or from a JSON array of objects.
    ///
    /// Each record is either `{"winner": id, "loser": id}` or `{"a": id, "b": id, "winner": "a"|"b"|"tie"}`,
    /// where an id is a JSON string or number. An optional positive `weight` (or `count`) makes the
    /// record count that many times. Blank lines in JSON Lines are skipped. The input is a JSON array
    /// when its first non-blank character is `[`.
    ///
    /// - Parameters:
    ///   - json: the file's bytes, UTF-8.
    ///   - source: the name used in error messages, e.g. the file path or `<stdin>`.
    /// - Throws: `ComparisonParseError` naming `source`, the line and the reason for the first bad record.
    public init<Bytes: Collection>(json: Bytes, source: String) throws where Bytes.Element == UInt8 {
        self.init()
        var bytes = Array(json)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }  // a UTF-8 byte-order mark
        let firstNonBlank = bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        if firstNonBlank == UInt8(ascii: "[") {
            let elements: [(line: Int, value: JSONValue)]
            do {
                elements = try bytes.withUnsafeBufferPointer {
                    var reader = JSONReader($0, options: .comparisons)
                    return try reader.readArrayWithLines()
                }
            } catch let e as JSONSyntaxError {
                throw ComparisonParseError(
                    source: source, line: e.line, reason: "invalid JSON: \(e.message) (column \(e.column))")
            }
            for (line, value) in elements {
                try appendRecord(value, source: source, line: line)
            }
        } else {
            var lineNumber = 0
            var start = 0
            while start <= bytes.count {
                lineNumber += 1
                var end = start
                while end < bytes.count && bytes[end] != 0x0A { end += 1 }
                var lineBytes = bytes[start..<end]
                if lineBytes.last == 0x0D { lineBytes = lineBytes.dropLast() }
                start = end + 1
                if lineBytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                let value: JSONValue
                do {
                    value = try JSONReader.parse(lineBytes, options: .comparisons)
                } catch let e as JSONSyntaxError {
                    throw ComparisonParseError(
                        source: source, line: lineNumber, reason: "invalid JSON: \(e.message) (column \(e.column))")
                }
                try appendRecord(value, source: source, line: lineNumber)
            }
        }
        if comparisons.isEmpty {
            throw ComparisonParseError(source: source, line: nil, reason: "no comparisons found")
        }
    }

    /// Validates one record and appends it, or throws naming `source:line`.
    private mutating func appendRecord(_ value: JSONValue, source: String, line: Int) throws {
        func fail(_ reason: String) -> ComparisonParseError {
            ComparisonParseError(source: source, line: line, reason: reason)
        }
        guard case .object(let members) = value else {
            throw fail("expected a JSON object with \"winner\" and \"loser\" (or \"a\", \"b\" and \"winner\"), found \(value.brief)")
        }
        func id(_ key: String) throws -> ItemID {
            guard let v = value[key] else { throw fail("missing \"\(key)\"") }
            switch v {
            case .string(let s): return .string(s)
            case .number(let n): return .number(n.text)
            default: throw fail("\"\(key)\" must be a string or number id, found \(v.brief)")
            }
        }

        let weight: Double
        switch (value["weight"], value["count"]) {
        case (.some, .some):
            throw fail("give \"weight\" or \"count\", not both")
        case (.some(let w), nil), (nil, .some(let w)):
            let key = value["weight"] != nil ? "weight" : "count"
            guard case .number(let n) = w, let x = n.double, x.isFinite, x > 0 else {
                throw fail("\"\(key)\" must be a positive number, found \(w.brief)")
            }
            weight = x
        case (nil, nil):
            weight = 1
        }

        let hasPairForm = value["a"] != nil || value["b"] != nil
        if hasPairForm {
            if value["loser"] != nil {
                throw fail("mixes the {\"winner\", \"loser\"} and {\"a\", \"b\", \"winner\"} forms")
            }
            let a = try id("a"), b = try id("b")
            guard let winner = value["winner"] else {
                throw fail("missing \"winner\" (expected \"a\", \"b\" or \"tie\")")
            }
            let outcome: Outcome
            switch winner {
            case .string("a"): outcome = .firstWins
            case .string("b"): outcome = .secondWins
            case .string("tie"): outcome = .tie
            default: throw fail("\"winner\" must be \"a\", \"b\" or \"tie\", found \(winner.brief)")
            }
            if a == b { throw fail("an item cannot be compared with itself (\(a))") }
            append(a, b, outcome: outcome, weight: weight)
        } else {
            guard value["winner"] != nil || value["loser"] != nil else {
                let keys = members.map { "\"\($0.key)\"" }.joined(separator: ", ")
                throw fail("expected \"winner\" and \"loser\" (or \"a\", \"b\" and \"winner\"), found keys: \(keys.isEmpty ? "none" : keys)")
            }
            let winner = try id("winner"), loser = try id("loser")
            if winner == loser { throw fail("an item cannot be compared with itself (\(winner))") }
            append(winner: winner, loser: loser, weight: weight)
        }
    }
}
