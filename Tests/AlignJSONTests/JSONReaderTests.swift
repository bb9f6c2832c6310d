// The shared JSON reader: its options, positions, number views and writer.
import AlignJSON
import Testing

@Suite("AlignJSON reader")
struct JSONReaderTests {
    private func parse(_ text: String, _ options: JSONReaderOptions = JSONReaderOptions()) throws -> JSONValue {
        try JSONReader.parse(Array(text.utf8), options: options)
    }

    private func failure(_ text: String, _ options: JSONReaderOptions = JSONReaderOptions()) -> JSONSyntaxError? {
        do { _ = try parse(text, options) } catch let e as JSONSyntaxError { return e } catch { return nil }
        return nil
    }

    @Test("numbers keep their literal text; integer and double views derive from it")
    func numbers() throws {
        guard case .array(let items) = try parse("[0, -12, 3.50, 1e3, 99999999999999999999]") else {
            Issue.record("not an array"); return
        }
        let numbers = items.compactMap { if case .number(let n) = $0 { return n } else { return nil } }
        #expect(numbers.map(\.text) == ["0", "-12", "3.50", "1e3", "99999999999999999999"])
        #expect(numbers.map(\.isInteger) == [true, true, false, false, true])
        #expect(numbers.map(\.integer) == [0, -12, nil, nil, nil])
        #expect(numbers[2].double == 3.5 && numbers[3].double == 1000)
        // Integers and doubles differ; the same value spelled differently does not.
        #expect(JSONValue.integer(1) != .double(1))
        #expect(numbers[3] == JSONNumber(1000.0))
    }

    @Test("objects keep key order; equality is ordered, Python equality is not")
    func order() throws {
        let a = try parse(#"{"b": 1, "a": [2.0, {"x": null}]}"#)
        let b = try parse(#"{"a": [2, {"x": null}], "b": 1.0}"#)
        guard case .object(let members) = a else { Issue.record("not an object"); return }
        #expect(members.map(\.key) == ["b", "a"])
        #expect(a != b)
        #expect(a.isPythonEqual(to: b))
        #expect(!a.isPythonEqual(to: try parse(#"{"a": [2], "b": 1}"#)))
    }

    @Test("duplicate keys: rejected at the key, or all kept with the last one winning lookups")
    func duplicateKeys() throws {
        let text = #"{"k": 1, "k": 2}"#
        let e = failure(text)
        #expect(e?.message == "duplicate key \"k\"")
        #expect(e?.offset == 9)
        let value = try parse(text, JSONReaderOptions(duplicateKeys: .lastWins))
        #expect(value["k"] == .integer(2))
        guard case .object(let members) = value else { Issue.record("not an object"); return }
        #expect(members.count == 2)
    }

    @Test("Python's NaN and Infinity only when allowed")
    func nonFinite() throws {
        let python = JSONReaderOptions(allowsNonFiniteNumbers: true)
        guard case .array(let items) = try parse("[NaN, Infinity, -Infinity]", python) else { Issue.record("not an array"); return }
        let doubles = items.compactMap { if case .number(let n) = $0 { return n.double } else { return nil } }
        #expect(doubles.count == 3 && doubles[0].isNaN && doubles[1] == .infinity && doubles[2] == -.infinity)
        #expect(failure("[NaN]")?.message == "unexpected 'N', expected a value")
        #expect(failure("-Infinity")?.message == "invalid number")
    }

    @Test("lone surrogates are rejected or replaced; pairs always decode")
    func surrogates() throws {
        #expect(try parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(failure(#""\ud800""#)?.message == "unpaired UTF-16 surrogate in \\u escape")
        #expect(failure(#""\udc00""#) != nil)
        let replace = JSONReaderOptions(loneSurrogates: .replace)
        #expect(try parse(#""\ud800x\udc00\ud800\u0041""#, replace) == .string("\u{FFFD}x\u{FFFD}\u{FFFD}A"))
    }

    @Test("invalid UTF-8 is an error at the string's start, or repaired")
    func invalidUTF8() throws {
        let bytes: [UInt8] = Array(#"["ab"#.utf8) + [0xFF] + Array(#""]"#.utf8)
        do {
            _ = try JSONReader.parse(bytes)
            Issue.record("accepted invalid UTF-8")
        } catch let e as JSONSyntaxError {
            #expect(e.message == "invalid UTF-8 in a string" && e.offset == 2)
        }
        #expect(try JSONReader.parse(bytes, options: JSONReaderOptions(rejectsInvalidUTF8: false)) == .array([.string("ab\u{FFFD}")]))
    }

    @Test("errors carry the byte offset and the line and column")
    func positions() {
        let e = failure("{\n  \"a\": 1,\n  \"b\" 2\n}")
        #expect(e == JSONSyntaxError(offset: 18, line: 3, column: 7, message: "expected ':' but found '2'"))
        // A reader over part of a buffer counts from its start.
        let bytes = Array("xx\n{\"a\": tru}".utf8)
        bytes.withUnsafeBufferPointer { buffer in
            do {
                _ = try JSONReader.parse(buffer, start: 3, end: buffer.count)
                Issue.record("accepted")
            } catch let e as JSONSyntaxError {
                #expect(e.offset == 9 && e.line == 1 && e.column == 7)
            } catch {
                Issue.record("\(error)")
            }
        }
        #expect(failure("[1] x")?.message == "unexpected 'x' after the JSON value")
        #expect(failure("[1 2]")?.message == "expected ',' or ']' but found '2'")
    }

    @Test("strict grammar", arguments: ["", "{", "{\"a\"}", "{\"a\":1,}", "\"\\x\"", "01", "-", "1.", "1e", "\"abc", "tru", "\"\u{01}\""])
    func syntaxErrors(text: String) {
        #expect(failure(text) != nil)
    }

    @Test("nesting depth and 64-bit integers are checked when asked")
    func limits() throws {
        let deep = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect(failure(deep, JSONReaderOptions(maximumDepth: 9))?.message == "nesting deeper than 9 levels")
        #expect(try parse(deep, JSONReaderOptions(maximumDepth: 10)) != .null)
        let big = "[1, 99999999999999999999]"
        let e = failure(big, JSONReaderOptions(requiresInt64Integers: true))
        #expect(e?.message == "integer 99999999999999999999 does not fit in 64 bits" && e?.offset == 4)
        #expect(try parse("[1.5e300]", JSONReaderOptions(requiresInt64Integers: true)) == .array([.double(1.5e300)]))
    }

    @Test("the writer: compact, indented, canonical numbers, and a byte-identical round trip")
    func writer() throws {
        let header = #"{"__metadata__":{"format":"pt"},"b.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"a\u0001":"é"}"#
        #expect(String(decoding: JSONWriter.bytes(try parse(header)), as: UTF8.self) == header)
        let indented = JSONWriter.bytes(try parse(#"{"a": {"b": 1.50}, "c": [], "d": 1e-05}"#), indent: 2)
        #expect(String(decoding: indented, as: UTF8.self) == "{\n  \"a\": {\n    \"b\": 1.5\n  },\n  \"c\": [],\n  \"d\": 1e-05\n}")
    }

    /// Found by the FuzzJSON fuzzer: a literal beyond Double's range was written as `inf`, and the
    /// NaN/Infinity literals a dataset row may hold as `nan`/`inf`, none of which reads back.
    @Test("the writer keeps out-of-range and non-finite literals readable")
    func writerNonFinite() throws {
        #expect(String(decoding: JSONWriter.bytes(try parse("[1e999, -2E400]")), as: UTF8.self) == "[1e999,-2E400]")
        let lenient = JSONReaderOptions(allowsNonFiniteNumbers: true)
        let written = JSONWriter.bytes(try parse("[NaN, Infinity, -Infinity]", lenient))
        #expect(String(decoding: written, as: UTF8.self) == "[NaN,Infinity,-Infinity]")
        _ = try JSONReader.parse(written, options: lenient)  // NaN != NaN, so reading back is the check
    }
}
