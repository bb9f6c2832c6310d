import Foundation
import Testing
@testable import AlignReport

/// The reward–KL section with confidence intervals: error bars, one series per method, the table
/// of points and settings, and the interval on the headline.
@Suite("Frontier report")
struct FrontierReportTests {
    static func report(changeInterval: ClosedRange<Double>) -> TrainingReport {
        var report = SyntheticRun.report()
        report.before = .init(meanReward: 0.30, winRate: 0.5, klNats: 0, promptCount: 64, rewardInterval: 0.22...0.38)
        report.after = .init(meanReward: 0.50, winRate: 0.61, klNats: 0.37, promptCount: 64, rewardInterval: 0.41...0.58,
                             klInterval: 0.21...0.55, rewardChangeInterval: changeInterval)
        report.checkpoints = [
            .init(label: "β 0.1", klNats: 0.37, meanReward: 0.50, klInterval: 0.21...0.55, rewardInterval: 0.41...0.58,
                  group: "DPO", details: "31 steps; beta 0.1"),
            .init(label: "β 0.5", klNats: 0.12, meanReward: 0.41, klInterval: 0.05...0.2, rewardInterval: 0.33...0.49,
                  group: "DPO", details: "31 steps; beta 0.5"),
            .init(label: "kl_coef 0.05", klNats: 0.9, meanReward: 0.45, klInterval: 0.6...1.2, rewardInterval: 0.36...0.53,
                  group: "PPO", details: "16 steps; kl_coef 0.05"),
            .init(label: "β 0.04", klNats: 0.2, meanReward: 0.33, klInterval: 0.1...0.3, rewardInterval: 0.25...0.41,
                  group: "GRPO", details: "16 steps; beta 0.04"),
        ]
        return report
    }

    static func section(_ html: String, _ id: String) -> String {
        let start = html.range(of: "<section id=\"\(id)\">")!.lowerBound
        return String(html[start..<html[start...].range(of: "</section>")!.upperBound])
    }

    @Test("Every point with an interval gets an error bar; one legend entry per method")
    func errorBars() {
        let html = Self.report(changeInterval: 0.05...0.35).html()
        let section = Self.section(html, "reward-kl")
        // Four checkpoints and the reference: five bars, each with a whisker and two caps per axis.
        #expect(section.components(separatedBy: "<g class=\"error-bar\">").count - 1 == 5)
        for name in ["DPO", "PPO", "GRPO", "reference (before)"] { #expect(section.contains(">\(name)</text>"), "legend lacks \(name)") }
        #expect(section.contains("Error bars: 95% confidence intervals"))
        // The table: one row per point plus the reference, with settings and intervals.
        #expect(section.contains("<table class=\"frontier\">"))
        #expect(section.components(separatedBy: "<tr>").count - 1 == 1 + 1 + 4)
        #expect(section.contains("<th>PPO</th><td>kl_coef 0.05</td><td>0.9 <span class=\"ci\">[0.6, 1.2]</span></td>"))
        #expect(section.contains("16 steps; beta 0.04"))
        let body = String(html[html.range(of: "<body>")!.lowerBound..<html.range(of: "</body>")!.upperBound])
            .replacingOccurrences(of: "<col class=\"prompt\">", with: "<col class=\"prompt\"/>")
            .replacingOccurrences(of: "<col>", with: "<col/>")
        #expect(XMLCheck.check(body).error == nil)
    }

    @Test("The error bars span the interval on the plot's scale")
    func barGeometry() throws {
        let svg = SVGChart.scatter(title: "t", xLabel: "x", yLabel: "y", series: [
            .init(name: "a", points: [.init(x: 1, y: 0, label: "", xInterval: 0...2, yInterval: -1...1)]),
        ], width: 400, height: 300)
        let bar = String(svg[svg.range(of: "<g class=\"error-bar\">")!.upperBound..<svg.range(of: "</g>")!.lowerBound])
        #expect(bar.components(separatedBy: "<line").count - 1 == 6)
        // The axes stretch to the bars' ends: every end lies inside the 400 × 300 drawing.
        for attribute in ["x1", "x2", "y1", "y2"] {
            for piece in bar.components(separatedBy: " \(attribute)=\"").dropFirst() {
                let value = try #require(Double(piece.prefix { $0 != "\"" }))
                #expect(value > 0 && value < (attribute.hasPrefix("x") ? 400 : 300), "\(attribute) \(value)")
            }
        }
        let plain = SVGChart.scatter(title: "t", xLabel: "x", yLabel: "y", series: [.init(name: "a", points: [.init(x: 1, y: 0, label: "")])])
        #expect(!plain.contains("error-bar"))
    }

    @Test("The headline shows the interval of the change and says when it includes 0")
    func headlineInterval() {
        let noisy = Self.section(Self.report(changeInterval: -0.05...0.45).html(), "headline")
        #expect(noisy.contains("+0.2"))
        #expect(noisy.contains("[−0.05, +0.45] 95% CI"))
        #expect(noisy.contains("[0.21, 0.55] 95% CI"))
        #expect(noisy.contains("not distinguishable from evaluation noise"))
        let clear = Self.section(Self.report(changeInterval: 0.05...0.35).html(), "headline")
        #expect(clear.contains("[+0.05, +0.35] 95% CI"))
        #expect(clear.contains("excludes 0"))
        // Without intervals the headline is as before.
        #expect(!Self.section(SyntheticRun.report().html(), "headline").contains("CI"))
    }
}
