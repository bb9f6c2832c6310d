import Foundation
import Testing
@testable import AlignReport

@Suite("Training report")
struct TrainingReportTests {
    @Test("Contains every section, in order, and the headline numbers")
    func sections() {
        let html = SyntheticRun.report().html()
        var position = html.startIndex
        for id in TrainingReport.sectionIDs {
            guard let range = html.range(of: "<section id=\"\(id)\">", range: position..<html.endIndex) else {
                Issue.record("section \(id) missing or out of order")
                return
            }
            position = range.upperBound
        }
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        // Headline: reward before → after, the change, KL, win rate and prompt count.
        let headline = String(html[html.range(of: "<section id=\"headline\">")!.lowerBound..<html.range(of: "<section id=\"training-curves\">")!.lowerBound])
        for text in ["0.132", "0.614", "+0.482", "3.21</strong> nats", "78.1%", "256 prompts", "300"] {
            #expect(headline.contains(text), "headline lacks \(text)")
        }
        for title in ["Loss", "Preference accuracy", "Reward margin", "Log-probabilities", "Implicit rewards",
                      "Learning rate", "Gradient norm", "Throughput", "Mean reward against KL from the reference"] {
            #expect(html.contains("<title>\(title)</title>"), "chart \(title) missing")
        }
        #expect(html.contains("step 150"))
        #expect(html.contains("Positive share"))
        #expect(html.contains("<th>loss_type</th><td>sigmoid</td>"))
    }

    @Test("Needs no scripts, fonts or network")
    func selfContained() {
        let html = SyntheticRun.report().html()
        #expect(!html.contains("<script"))
        #expect(!html.contains("http://") || !html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        #expect(!html.contains("https://"))
        #expect(!html.contains("@font-face") && !html.contains("@import") && !html.contains("url("))
    }

    @Test("Sample text is escaped: no injected markup survives")
    func escaping() {
        let html = SyntheticRun.report().html()
        #expect(html.contains("The &lt;b&gt;director&lt;/b&gt; &amp; &quot;cast&quot; didn&#39;t"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
        #expect(!html.contains("<b>director"))
    }

    @Test("The body is well-formed XML (so every inline SVG is too)")
    func wellFormed() {
        let html = SyntheticRun.report().html()
        // The HTML is written XHTML-style apart from the doctype and void <meta>/<col> elements.
        let body = String(html[html.range(of: "<body>")!.lowerBound..<html.range(of: "</body>")!.upperBound])
            .replacingOccurrences(of: "<col class=\"prompt\">", with: "<col class=\"prompt\"/>")
            .replacingOccurrences(of: "<col>", with: "<col/>")
        let result = XMLCheck.check(body)
        #expect(result.error == nil, "\(result.error ?? "")")
        #expect(result.elements["svg"] == 10)
        #expect(result.elements["section"] == 6)
    }

    @Test("Same report gives the same bytes")
    func deterministic() {
        #expect(SyntheticRun.report().html() == SyntheticRun.report().html())
    }

    @Test("Missing data gives explanatory placeholders, not a crash")
    func empty() {
        let report = TrainingReport(metadata: .init(title: "empty run", model: "m", dataset: "d"))
        let html = report.html()
        for id in TrainingReport.sectionIDs { #expect(html.contains("<section id=\"\(id)\">")) }
        #expect(html.contains("No training log was recorded."))
        #expect(html.contains("No policy was evaluated."))
        #expect(html.contains("No samples were recorded."))
    }

    @Test("NaN in the log shows as a gap, not as text in a coordinate")
    func nanLog() {
        var rows = SyntheticRun.rows(steps: 40)
        rows[10]["loss"] = .nan
        rows[11]["loss"] = .infinity
        let report = TrainingReport(metadata: .init(title: "nan", model: "m", dataset: "d"), logRows: rows)
        let html = report.html()
        let lossChart = html.components(separatedBy: "<title>Loss</title>")[1].components(separatedBy: "</svg>")[0]
        #expect(!lossChart.contains("NaN"))
        // Smoothed and raw line each break into two runs around the gap.
        #expect(lossChart.components(separatedBy: "<path").count - 1 == 4)
    }

    @Test("Awkward input still gives a well-formed page with every section")
    func edgeCases() {
        let html = SyntheticRun.edgeReport().html()
        let body = String(html[html.range(of: "<body>")!.lowerBound..<html.range(of: "</body>")!.upperBound])
            .replacingOccurrences(of: "<col class=\"prompt\">", with: "<col class=\"prompt\"/>")
            .replacingOccurrences(of: "<col>", with: "<col/>")
        let result = XMLCheck.check(body)
        #expect(result.error == nil, "\(result.error ?? "")")
        #expect(!html.contains("\"NaN") && !html.contains(" NaN"))
        #expect(html.contains("<title>Edge cases &amp; &lt;odd&gt; input</title>"))
        #expect(html.contains("−0.21") || html.contains("-0.21"))
        #expect(html.contains("β = 0.05"))
        #expect(html.contains("<th>my_metric</th><td>42</td>"))
        #expect(html.contains("2 log lines could not be read"))
        #expect(html.contains("3 log lines"))
        #expect(html.contains("<div class=\"score\">—</div>"))
        // Log-prob and implicit-reward charts have no data but are still drawn, saying so.
        #expect(result.texts.filter { $0 == "No data" }.count == 2)
    }

    @Test("Writes the example pages when ALIGN_REPORT_EXAMPLE names a path")
    func example() throws {
        guard let path = ProcessInfo.processInfo.environment["ALIGN_REPORT_EXAMPLE"] else { return }
        try SyntheticRun.report().write(to: URL(fileURLWithPath: path))
        try SyntheticRun.edgeReport().write(to: URL(fileURLWithPath: path + ".edge.html"))
        #expect(FileManager.default.fileExists(atPath: path))
    }
}
