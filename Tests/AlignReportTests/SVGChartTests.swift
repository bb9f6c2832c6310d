import Testing
@testable import AlignReport

@Suite("SVG charts")
struct SVGChartTests {
    /// A wiggly decreasing curve: 0.69 − 0.005·i, plus 0.02 on every third step.
    static func wiggle(_ i: Int) -> Double {
        let bump: Double = i % 3 == 0 ? 0.02 : 0
        return 0.69 - 0.005 * Double(i) + bump
    }

    static let series: [SVGChart.Series] = [
        .init(name: "train", x: (1...50).map { Double($0) }, y: (1...50).map { wiggle($0) }),
        .init(name: "eval", x: [10, 20, 30, 40, 50], y: [0.64, 0.59, 0.55, 0.52, 0.5], dashed: true, smoothed: false),
    ]

    @Test("Line chart is well-formed XML with one path per series")
    func lineWellFormed() {
        let svg = SVGChart.line(title: "Loss", xLabel: "step", yLabel: "loss", series: Self.series)
        let result = XMLCheck.check(svg)
        #expect(result.error == nil)
        #expect(result.elements["svg"] == 1)
        #expect(result.elements["path"] == 2)
        #expect(result.texts.contains("Loss"))
        #expect(result.texts.contains("step"))
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 560 320\""))
        #expect(!svg.contains("NaN"))
    }

    @Test("Smoothing draws the raw series faintly behind the smoothed one")
    func smoothing() {
        let svg = SVGChart.line(title: "Loss", xLabel: "step", yLabel: "loss", series: Self.series, smoothing: 0.6)
        #expect(XMLCheck.check(svg).error == nil)
        // train: raw + smoothed; eval: not smoothed (flag off) so one path.
        #expect(XMLCheck.check(svg).elements["path"] == 3)
        #expect(svg.contains("stroke-opacity=\"0.28\""))
    }

    @Test("EMA is debiased, identity at weight 0, and keeps gaps")
    func ema() {
        #expect(SVGChart.ema([1, 2, 3], weight: 0) == [1, 2, 3])
        let constant = SVGChart.ema([5, 5, 5, 5], weight: 0.9)
        #expect(constant.allSatisfy { abs($0 - 5) < 1e-12 })
        let gapped = SVGChart.ema([1, .nan, 3], weight: 0.5)
        #expect(gapped[0] == 1)
        #expect(gapped[1].isNaN)
        // (0.5·0.5 + 0.5·3) / (1 − 0.25) = 1.75 / 0.75
        #expect(abs(gapped[2] - 1.75 / 0.75) < 1e-12)
    }

    @Test("Text is escaped everywhere: titles, labels, legends, point labels")
    func escaping() {
        let evil = "<b>&\"'</b>"
        let svg = SVGChart.line(title: evil, xLabel: evil, yLabel: evil,
                                series: [.init(name: evil, x: [1, 2], y: [1, 2]), .init(name: "b", x: [1], y: [3])])
        let result = XMLCheck.check(svg)
        #expect(result.error == nil)
        #expect(result.elements["b"] == nil)
        #expect(result.texts.filter { $0 == evil }.count == 4)
        let scatter = SVGChart.scatter(title: evil, xLabel: "KL", yLabel: "reward",
                                       series: [.init(name: evil, points: [.init(x: 1, y: 1, label: evil)])])
        #expect(XMLCheck.check(scatter).error == nil)
        #expect(XMLCheck.check(scatter).texts.contains(evil))
        let bars = SVGChart.comparison(title: evil, items: [.init(name: evil, before: 1, after: 2)], beforeLabel: evil)
        #expect(XMLCheck.check(bars).error == nil)
    }

    @Test("Same input gives the same bytes")
    func deterministic() {
        let a = SVGChart.line(title: "Loss", xLabel: "step", yLabel: "loss", series: Self.series, smoothing: 0.6)
        let b = SVGChart.line(title: "Loss", xLabel: "step", yLabel: "loss", series: Self.series, smoothing: 0.6)
        #expect(a == b)
        let points = [SVGChart.LabeledPoint(x: 0.5, y: 0.2, label: "β = 0.5"), .init(x: 1.5, y: 0.4, label: "β = 0.1")]
        #expect(SVGChart.scatter(title: "F", xLabel: "KL", yLabel: "r", series: [.init(name: "s", points: points, connected: true)])
                == SVGChart.scatter(title: "F", xLabel: "KL", yLabel: "r", series: [.init(name: "s", points: points, connected: true)]))
    }

    @Test("NaN and infinite values become gaps, never coordinates")
    func nanHandling() {
        let y: [Double] = [1, 2, .nan, 4, 5, .infinity, 7, .nan, 9]
        let svg = SVGChart.line(title: "t", xLabel: "x", yLabel: "y",
                                series: [.init(name: "s", x: (1...9).map(Double.init), y: y)], smoothing: 0.5)
        let result = XMLCheck.check(svg)
        #expect(result.error == nil)
        #expect(!svg.contains("NaN") && !svg.contains("inf"))
        // Runs [1,2], [4,5], [7], [9]: two raw paths + two smoothed; the isolated points as dots.
        #expect(result.elements["path"] == 4)
        #expect(result.elements["circle"] == 2)
    }

    @Test("A single point and an empty chart still draw")
    func degenerate() {
        let one = SVGChart.line(title: "t", xLabel: "x", yLabel: "y", series: [.init(name: "s", x: [10], y: [0.5])])
        let r1 = XMLCheck.check(one)
        #expect(r1.error == nil)
        #expect(r1.elements["circle"] == 1)
        let none = SVGChart.line(title: "t", xLabel: "x", yLabel: "y", series: [])
        let r2 = XMLCheck.check(none)
        #expect(r2.error == nil)
        #expect(r2.texts.contains("No data"))
        let allNaN = SVGChart.scatter(title: "t", xLabel: "x", yLabel: "y",
                                      series: [.init(name: "s", points: [.init(x: .nan, y: 1, label: "a")])])
        #expect(XMLCheck.check(allNaN).texts.contains("No data"))
    }

    @Test("Scatter: labels, connecting line and legend")
    func scatter() {
        let svg = SVGChart.scatter(
            title: "Reward vs KL", xLabel: "KL", yLabel: "reward",
            series: [.init(name: "reference", points: [.init(x: 0, y: 0.1, label: "before")]),
                     .init(name: "checkpoints", points: [.init(x: 1, y: 0.3, label: "step 100"),
                                                         .init(x: 2, y: 0.5, label: "step 200")], connected: true)],
            xIncludes: 0...0)
        let result = XMLCheck.check(svg)
        #expect(result.error == nil)
        #expect(result.elements["path"] == 1)
        #expect(result.elements["circle"] == 3 + 2)  // three points + two legend markers
        for label in ["before", "step 100", "step 200", "reference", "checkpoints"] {
            #expect(result.texts.contains(label))
        }
    }

    @Test("Bars: one pair per item, values written, negative values below zero")
    func bars() {
        let svg = SVGChart.comparison(title: "Before vs after", items: [
            .init(name: "Mean reward", before: -0.2, after: 0.6),
            .init(name: "Win rate", before: 0.5, after: 0.78, style: .percent),
            .init(name: "KL", before: .nan, after: 3.2),
        ])
        let result = XMLCheck.check(svg)
        #expect(result.error == nil)
        // Background + 2 legend squares + 5 finite bars (the NaN one is written as a dash).
        #expect(result.elements["rect"] == 1 + 2 + 5)
        for text in ["-0.2", "0.6", "50.0%", "78.0%", "—", "3.2", "change +0.8", "change +28.0 pt"] {
            #expect(result.texts.contains(text), "missing \(text)")
        }
    }
}
