import Foundation
import Testing
@testable import AlignReport
import TestSupport

@Suite("metrics.jsonl reader")
struct MetricsLogTests {
    @Test("Reads TRL keys, keeps unknown numeric keys, drops non-numbers")
    func basic() {
        let text = """
        {"loss": 0.6931, "rewards/accuracies": 0.5, "step": 1, "epoch": 0.01, "custom_metric": 7}
        {"eval_loss": 0.65, "eval_rewards/margins": 0.12, "step": 10, "note": "eval", "flag": true, "tags": [1, {"a": 2}], "missing": null}

        {"loss": 6.5e-1, "learning_rate": -2E-7, "step": 2}
        """
        let log = MetricsLog(jsonl: text)
        #expect(log.skippedLines.isEmpty)
        #expect(log.rows.count == 3)
        #expect(log.rows[0] == ["loss": 0.6931, "rewards/accuracies": 0.5, "step": 1, "epoch": 0.01, "custom_metric": 7])
        #expect(log.rows[1] == ["eval_loss": 0.65, "eval_rewards/margins": 0.12, "step": 10])
        #expect(log.rows[2]["loss"] == 0.65)
        #expect(log.rows[2]["learning_rate"] == -2e-7)
    }

    @Test("Python's NaN and Infinity are read as non-finite values")
    func nonFinite() {
        let log = MetricsLog(jsonl: #"{"loss": NaN, "grad_norm": Infinity, "x": -Infinity, "step": 3}"#)
        #expect(log.rows.count == 1)
        #expect(log.rows[0]["loss"]!.isNaN)
        #expect(log.rows[0]["grad_norm"] == .infinity)
        #expect(log.rows[0]["x"] == -.infinity)
    }

    @Test("Nested objects are flattened with slashes; escapes in keys are decoded")
    func nested() {
        let log = MetricsLog(jsonl: #"{"rewards": {"chosen": 0.3, "rejected": {"mean": -0.2}}, "a\/b\u00e9": 1}"#)
        #expect(log.rows == [["rewards/chosen": 0.3, "rewards/rejected/mean": -0.2, "a/bé": 1]])
    }

    @Test("Malformed and truncated lines are skipped and reported by line number")
    func malformed() {
        let text = "{\"loss\": 1}\nnot json\n{\"loss\": 0.9, \"step\"\n[1, 2]\n{\"loss\": 0.8} trailing\r\n{\"loss\": 0.7}\r\n"
        let log = MetricsLog(jsonl: text)
        #expect(log.rows.count == 2)
        #expect(log.rows.map { $0["loss"] } == [1, 0.7])
        #expect(log.skippedLines == [2, 3, 4, 5])
    }

    @Test("Reads a file from disk")
    func file() throws {
        let url = testScratchDirectory.appendingPathComponent("align-report-test-\(UInt32.random(in: 0...UInt32.max)).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data("{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": 0.4}\n".utf8).write(to: url)
        let rows = try TrainingReport.readMetrics(from: url)
        #expect(rows.count == 2)
        #expect(rows[1]["loss"] == 0.4)
        #expect(throws: (any Error).self) { try TrainingReport.readMetrics(from: url.appendingPathExtension("missing")) }
    }
}
