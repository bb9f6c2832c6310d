// The internal JSON reader/writer used for safetensors headers and shard indexes.
import Foundation
import Testing
import AlignJSON
@testable import AlignModelIO

@Suite("JSON")
struct JSONTests {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONParser.parse(Data(text.utf8))
    }

    @Test("escapes, surrogate pairs, numbers and key order")
    func parsing() throws {
        let value = try parse(#" {"b":"\u00e9\ud83d\ude00\n\"\\\/","a":[1,-2,3.5,1e3,true,false,null],"z":{}}  "#)
        guard case .object(let members) = value else { Issue.record("not an object"); return }
        #expect(members.map(\.key) == ["b", "a", "z"])
        #expect(members[0].value == .string("é😀\n\"\\/"))
        #expect(members[1].value == .array([.integer(1), .integer(-2), .double(3.5), .double(1000), .bool(true), .bool(false), .null]))
        #expect(members[2].value == .object([]))
    }

    @Test("syntax errors are reported with an offset", arguments: [
        "", "{", "{\"a\"}", "{\"a\":1,}", "[1 2]", "\"\\ud800\"", "\"\\x\"", "01", "-", "1.", "1e", "{\"a\":1} x",
        "\"abc", "tru", "{\"a\":1,\"a\":2}", String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
    ])
    func errors(text: String) {
        #expect(throws: JSONSyntaxError.self) { try parse(text) }
    }

    @Test("the writer escapes like serde_json and round-trips")
    func writing() throws {
        let value = JSONValue.object([("k\u{1}", .string("tab\there \"q\" é")), ("n", .array([.integer(-3), .bool(true), .null]))])
        let bytes = JSONWriter.bytes(value)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"k\u0001":"tab\there \"q\" é","n":[-3,true,null]}"#)
        #expect(try JSONParser.parse(Data(bytes)) == value)
        let indented = String(decoding: JSONWriter.bytes(.object([("a", .object([("b", .integer(1))])), ("c", .array([]))]), indent: 2), as: UTF8.self)
        #expect(indented == "{\n  \"a\": {\n    \"b\": 1\n  },\n  \"c\": []\n}")
    }
}
