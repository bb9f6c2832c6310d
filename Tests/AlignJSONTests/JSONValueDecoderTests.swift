// JSONValueDecoder: the checks behind every config.json and YAML setting, with errors naming the key.
import AlignJSON
import Testing

@Suite("JSONValueDecoder")
struct JSONValueDecoderTests {
    struct Settings: Decodable, Equatable {
        var batch: Int
        var seed: UInt64?
        var rate: Float?
        var names: [String]?
        var nested: Inner?
        struct Inner: Decodable, Equatable { var factor: Double }
    }

    enum Mode: String, Decodable, CaseIterable, JSONChoice { case fast, slow }
    struct WithMode: Decodable { var mode: Mode }

    private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONValueDecoder().decode(type, from: JSONReader.parse(Array(json.utf8), options: JSONReaderOptions(allowsNonFiniteNumbers: true)))
    }

    private func message<T: Decodable>(_ type: T.Type, _ json: String) -> String? {
        do { _ = try decode(type, json) } catch { return "\(error)" }
        return nil
    }

    @Test("valid values decode; 8.0 is accepted as an integer")
    func valid() throws {
        let s = try decode(Settings.self, #"{"batch": 8.0, "seed": 3, "rate": 5e-7, "names": ["a"], "nested": {"factor": 2}}"#)
        #expect(s == Settings(batch: 8, seed: 3, rate: 5e-7, names: ["a"], nested: .init(factor: 2)))
        #expect(try decode(Settings.self, #"{"batch": 1, "seed": null}"#).seed == nil)
    }

    @Test("each bad value names its key, what was expected and what was found")
    func errors() {
        #expect(message(Settings.self, #"{"batch": 2.5}"#) == "batch: expected an integer, found 2.5")
        #expect(message(Settings.self, #"{"batch": "8"}"#) == #"batch: expected an integer, found "8""#)
        #expect(message(Settings.self, #"{"batch": 1, "seed": -1}"#)?.hasPrefix("seed: expected a non-negative integer") == true)
        #expect(message(Settings.self, #"{"batch": 1, "rate": 1e300}"#)?.hasPrefix("rate: expected a number within the 32-bit float range") == true)
        #expect(message(Settings.self, #"{"batch": 1, "rate": NaN}"#) == "rate: expected a finite number, found NaN")
        #expect(message(Settings.self, #"{"batch": 1, "names": ["a", 3]}"#) == "names[1]: expected a string, found 3")
        #expect(message(Settings.self, #"{"batch": 1, "nested": {"factor": Infinity}}"#) == "nested.factor: expected a finite number, found Infinity")
        #expect(message(Settings.self, #"{}"#) == #"missing key "batch" (expected a value)"#)
        #expect(message(Settings.self, #"{"batch": 99999999999999999999}"#)?.contains("within ±9.2e18") == true)
        #expect(message(WithMode.self, #"{"mode": "fats"}"#) == #"mode: expected one of fast, slow, found "fats""#)
    }
}
