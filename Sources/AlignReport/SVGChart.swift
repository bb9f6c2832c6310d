/// Self-contained SVG charts: line charts of training curves, labelled scatter plots (the
/// reward–KL frontier) and before/after bar comparisons.
///
/// Each function returns one `<svg>` element as a string, sized in viewBox units so it scales to
/// its container, with no scripts, external fonts or links. Output is deterministic: the same
/// input gives the same bytes. All text is escaped; NaN and infinite values are skipped (a gap in
/// a line), never drawn at a bogus position.
///
///     let svg = SVGChart.line(
///         title: "Loss", xLabel: "step", yLabel: "loss",
///         series: [.init(name: "train", x: [1, 2, 3], y: [0.69, 0.61, 0.52])])
public enum SVGChart {
    /// Series colours, in order of use: distinguishable, and readable in greyscale print by lightness.
    public static let palette: [String] = [
        "#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563",
    ]

    /// The font stack used in the charts: fonts installed with common systems, none downloaded.
    public static let fontFamily =
        "system-ui, -apple-system, \"Segoe UI\", Roboto, \"Helvetica Neue\", Arial, sans-serif"

    /// One (x, y) value. NaN or infinite coordinates mark a missing value.
    public struct Point: Equatable, Sendable {
        /// Horizontal value (for training curves, the optimiser step).
        public var x: Double
        /// Vertical value.
        public var y: Double
        /// Creates a point.
        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    /// A named line in a line chart.
    public struct Series: Equatable, Sendable {
        /// The name shown in the legend.
        public var name: String
        /// The values; drawn in order of increasing x. Missing values break the line.
        public var points: [Point]
        /// A CSS colour; `nil` takes the next colour of `palette`.
        public var color: String?
        /// Whether to draw the line dashed (for example evaluation next to training values).
        public var dashed: Bool
        /// Whether the chart's smoothing applies to this series (turn off for sparse series such
        /// as evaluation points, which an average would only distort).
        public var smoothed: Bool

        /// Creates a series from points.
        public init(name: String, points: [Point], color: String? = nil, dashed: Bool = false, smoothed: Bool = true) {
            self.name = name
            self.points = points
            self.color = color
            self.dashed = dashed
            self.smoothed = smoothed
        }

        /// Creates a series from parallel arrays of x and y values (extra elements are ignored).
        public init(name: String, x: [Double], y: [Double], color: String? = nil, dashed: Bool = false,
                    smoothed: Bool = true) {
            self.init(name: name, points: zip(x, y).map { Point(x: $0, y: $1) }, color: color, dashed: dashed,
                      smoothed: smoothed)
        }
    }

    /// A point of a scatter plot with its label (for example a checkpoint's step or a β value).
    public struct LabeledPoint: Equatable, Sendable {
        /// Horizontal value.
        public var x: Double
        /// Vertical value.
        public var y: Double
        /// Text written next to the point; empty for none.
        public var label: String
        /// A confidence interval of `x`, drawn as a horizontal error bar; nil for none.
        public var xInterval: ClosedRange<Double>?
        /// A confidence interval of `y`, drawn as a vertical error bar; nil for none.
        public var yInterval: ClosedRange<Double>?
        /// Creates a labelled point, with error bars where intervals are given.
        public init(x: Double, y: Double, label: String, xInterval: ClosedRange<Double>? = nil,
                    yInterval: ClosedRange<Double>? = nil) {
            self.x = x
            self.y = y
            self.label = label
            self.xInterval = xInterval
            self.yInterval = yInterval
        }

        /// The interval's ends that are finite (they widen the axes so a bar is never cut off).
        var intervalEnds: (x: [Double], y: [Double]) {
            func ends(_ r: ClosedRange<Double>?) -> [Double] { r.map { [$0.lowerBound, $0.upperBound].filter(\.isFinite) } ?? [] }
            return (ends(xInterval), ends(yInterval))
        }
    }

    /// A group of scatter points drawn in one colour, optionally joined in the given order.
    public struct ScatterSeries: Equatable, Sendable {
        /// The name shown in the legend (when there is more than one group).
        public var name: String
        /// The points, in the order the connecting line visits them.
        public var points: [LabeledPoint]
        /// Whether to join the points with a line (a frontier, or checkpoints in training order).
        public var connected: Bool
        /// A CSS colour; `nil` takes the next colour of `palette`.
        public var color: String?

        /// Creates a group of scatter points.
        public init(name: String, points: [LabeledPoint], connected: Bool = false, color: String? = nil) {
            self.name = name
            self.points = points
            self.connected = connected
            self.color = color
        }
    }

    /// How a value in a bar comparison is written.
    public enum ValueStyle: Equatable, Sendable {
        /// Four significant digits (`0.4123`).
        case number
        /// A fraction shown as a percentage (`0.781` → `78.1%`).
        case percent
    }

    /// One quantity measured before and after training, drawn as a pair of bars in its own panel.
    public struct Comparison: Equatable, Sendable {
        /// The quantity's name, shown above its panel.
        public var name: String
        /// The value before training (or for the reference policy).
        public var before: Double
        /// The value after training.
        public var after: Double
        /// How the values are written.
        public var style: ValueStyle
        /// Creates a comparison.
        public init(name: String, before: Double, after: Double, style: ValueStyle = .number) {
            self.name = name
            self.before = before
            self.after = after
            self.style = style
        }
    }

    // MARK: - Line chart

    /// A line chart of several named series against a shared x axis.
    ///
    /// - Parameters:
    ///   - title: Heading drawn at the top of the chart.
    ///   - xLabel: Axis title under the x axis (for training curves, `"step"`).
    ///   - yLabel: Axis title beside the y axis.
    ///   - series: The lines. An empty list, or series with no finite points, gives an empty frame
    ///     that says "No data".
    ///   - smoothing: Exponential-moving-average weight in [0, 1) (TensorBoard's slider: 0 is off,
    ///     0.6 is moderate). When positive, each series whose `smoothed` is true is drawn as a
    ///     solid smoothed line with its raw values faint behind it.
    ///   - yIncludes: A range the y axis must cover besides the data (for example `0...1` for an
    ///     accuracy); the axis still grows to fit values outside it.
    ///   - width: Natural width in viewBox units.
    ///   - height: Natural height in viewBox units.
    /// - Returns: One `<svg>` element.
    public static func line(
        title: String, xLabel: String, yLabel: String, series: [Series],
        smoothing: Double = 0, yIncludes: ClosedRange<Double>? = nil,
        width: Double = 560, height: Double = 320
    ) -> String {
        let smoothing = smoothing.isFinite ? min(max(smoothing, 0), 0.999) : 0
        // Sort each series by x (stable, so equal steps keep their logged order).
        let sorted: [[Point]] = series.map { s in
            s.points.enumerated().sorted { a, b in
                a.element.x != b.element.x ? a.element.x < b.element.x : a.offset < b.offset
            }.map(\.element)
        }
        let colors = assignColors(series.map(\.color))
        let finite = sorted.joined().filter { $0.x.isFinite && $0.y.isFinite }

        var svg = SVGWriter(width: width, height: height, title: title)
        var top = 30.0
        svg.text(title, x: 16, y: 21, size: 14, weight: "600")
        if series.count > 1 {
            top += legend(&svg, items: series.enumerated().map { ($0.element.name, colors[$0.offset], $0.element.dashed) },
                          x: 16, y: top, maxWidth: width - 32)
        }
        top += 8

        var yValues = finite.map(\.y)
        if let yIncludes { yValues += [yIncludes.lowerBound, yIncludes.upperBound] }
        let yScale = NiceScale(covering: yValues, maxTicks: max(3, Int((height - top - 50) / 36)))
        let yLabels = yScale.ticks.map { yScale.label(for: $0) }
        let yLabelWidth = yLabels.map { estimatedTextWidth($0, size: 11) }.max() ?? 0
        let frame = Frame(left: 16 + 18 + yLabelWidth + 8, top: top, right: width - 20, bottom: height - 44)

        let xs = finite.map(\.x)
        let integral = !xs.isEmpty && xs.allSatisfy { $0 == $0.rounded() }
        let xScale = NiceScale(covering: xs, maxTicks: max(2, Int(frame.width / 80)),
                               minimumStep: integral ? 1 : 0)

        drawAxes(&svg, frame: frame, xScale: xScale, yScale: yScale, yLabels: yLabels,
                 xLabel: xLabel, yLabel: yLabel)

        if finite.isEmpty {
            svg.text("No data", x: (frame.left + frame.right) / 2, y: (frame.top + frame.bottom) / 2,
                     anchor: .middle, size: 13, fill: "#9ca3af")
            return svg.finish()
        }

        let mapX = { (x: Double) in frame.left + (x - xScale.lower) / (xScale.upper - xScale.lower) * frame.width }
        let mapY = { (y: Double) in frame.bottom - (y - yScale.lower) / (yScale.upper - yScale.lower) * frame.height }
        let dash: (Bool) -> String? = { $0 ? "6 4" : nil }

        for (index, points) in sorted.enumerated() {
            let color = colors[index]
            if smoothing > 0 && series[index].smoothed {
                // Raw values faint behind, smoothed line on top.
                drawRuns(&svg, points: points, mapX: mapX, mapY: mapY, color: color, width: 1.25,
                         opacity: 0.28, dash: nil, markers: true)
                let smoothed = ema(points.map(\.y), weight: smoothing)
                let smoothPoints = zip(points, smoothed).map { Point(x: $0.x, y: $1) }
                drawRuns(&svg, points: smoothPoints, mapX: mapX, mapY: mapY, color: color, width: 2,
                         opacity: 1, dash: dash(series[index].dashed), markers: false)
            } else {
                drawRuns(&svg, points: points, mapX: mapX, mapY: mapY, color: color, width: 2,
                         opacity: 1, dash: dash(series[index].dashed), markers: true)
            }
        }
        return svg.finish()
    }

    /// The exponential moving average of `values` with TensorBoard's debiasing, so the first
    /// smoothed values are not pulled towards zero. Missing values (NaN, ±∞) stay missing and do
    /// not disturb the average.
    ///
    /// - Parameter weight: The weight of the past, in [0, 1): 0 returns the input unchanged.
    public static func ema(_ values: [Double], weight: Double) -> [Double] {
        var result = [Double](repeating: .nan, count: values.count)
        var last = 0.0
        var count = 0.0
        var debias = 1.0
        for (i, v) in values.enumerated() where v.isFinite {
            last = last * weight + (1 - weight) * v
            count += 1
            debias *= weight
            // 1 - weight^count: the share of the average made of real values rather than the zero start.
            let norm = 1 - debias
            result[i] = norm > 0 ? last / norm : v
        }
        return result
    }

    // MARK: - Scatter plot

    /// A scatter plot of labelled points, in one or more groups, optionally joined in order.
    ///
    /// Used for the reward–KL frontier: one point per evaluated checkpoint (or per β of a
    /// sweep), x = KL(π‖π_ref) in nats, y = mean reward. Points with intervals get error bars
    /// (with end caps), drawn under the markers; the axes cover the bars' ends.
    ///
    /// - Parameters:
    ///   - title: Heading drawn at the top of the chart.
    ///   - xLabel: Axis title under the x axis.
    ///   - yLabel: Axis title beside the y axis.
    ///   - series: The groups of points. Points with a missing coordinate are skipped.
    ///   - xIncludes: A range the x axis must cover besides the data (for example `0...0` to
    ///     start a KL axis at zero).
    ///   - width: Natural width in viewBox units.
    ///   - height: Natural height in viewBox units.
    /// - Returns: One `<svg>` element.
    public static func scatter(
        title: String, xLabel: String, yLabel: String, series: [ScatterSeries],
        xIncludes: ClosedRange<Double>? = nil,
        width: Double = 560, height: Double = 360
    ) -> String {
        let colors = assignColors(series.map(\.color))
        let groups = series.map { $0.points.filter { $0.x.isFinite && $0.y.isFinite } }
        let all = groups.joined()

        var svg = SVGWriter(width: width, height: height, title: title)
        var top = 30.0
        svg.text(title, x: 16, y: 21, size: 14, weight: "600")
        if series.count > 1 {
            top += legend(&svg, items: series.enumerated().map { ($0.element.name, colors[$0.offset], false) },
                          x: 16, y: top, maxWidth: width - 32, markers: true)
        }
        top += 12

        let yScale = NiceScale(covering: all.map(\.y) + all.flatMap(\.intervalEnds.y), maxTicks: max(3, Int((height - top - 50) / 36)))
        let yLabels = yScale.ticks.map { yScale.label(for: $0) }
        let yLabelWidth = yLabels.map { estimatedTextWidth($0, size: 11) }.max() ?? 0
        let frame = Frame(left: 16 + 18 + yLabelWidth + 8, top: top, right: width - 20, bottom: height - 44)
        var xValues = all.map(\.x) + all.flatMap(\.intervalEnds.x)
        if let xIncludes { xValues += [xIncludes.lowerBound, xIncludes.upperBound] }
        let xScale = NiceScale(covering: xValues, maxTicks: max(2, Int(frame.width / 80)))

        // Markers sitting on an axis line are hard to see; keep the data a few units inside.
        let inset = 10.0
        drawAxes(&svg, frame: frame, xScale: xScale, yScale: yScale, yLabels: yLabels,
                 xLabel: xLabel, yLabel: yLabel, inset: inset)
        if all.isEmpty {
            svg.text("No data", x: (frame.left + frame.right) / 2, y: (frame.top + frame.bottom) / 2,
                     anchor: .middle, size: 13, fill: "#9ca3af")
            return svg.finish()
        }
        let mapX = { (x: Double) in frame.left + inset + (x - xScale.lower) / (xScale.upper - xScale.lower) * (frame.width - 2 * inset) }
        let mapY = { (y: Double) in frame.bottom - inset - (y - yScale.lower) / (yScale.upper - yScale.lower) * (frame.height - 2 * inset) }

        // Lines first, then markers, then labels, so nothing hides a marker or a label.
        for (index, points) in groups.enumerated() where series[index].connected && points.count > 1 {
            svg.path(points.map { (mapX($0.x), mapY($0.y)) }, stroke: colors[index], width: 1.5, opacity: 0.7)
        }
        for (index, points) in groups.enumerated() {
            for p in points {
                let (px, py) = (mapX(p.x), mapY(p.y))
                let ends = p.intervalEnds
                guard ends.x.count == 2 || ends.y.count == 2 else { continue }
                svg.raw("<g class=\"error-bar\">")
                defer { svg.raw("</g>") }
                if let r = p.yInterval, r.lowerBound.isFinite, r.upperBound.isFinite {
                    let (y0, y1) = (mapY(r.lowerBound), mapY(r.upperBound))
                    svg.line(px, y0, px, y1, stroke: colors[index], width: 1.2)
                    svg.line(px - 4, y0, px + 4, y0, stroke: colors[index], width: 1.2)
                    svg.line(px - 4, y1, px + 4, y1, stroke: colors[index], width: 1.2)
                }
                if let r = p.xInterval, r.lowerBound.isFinite, r.upperBound.isFinite {
                    let (x0, x1) = (mapX(r.lowerBound), mapX(r.upperBound))
                    svg.line(x0, py, x1, py, stroke: colors[index], width: 1.2)
                    svg.line(x0, py - 4, x0, py + 4, stroke: colors[index], width: 1.2)
                    svg.line(x1, py - 4, x1, py + 4, stroke: colors[index], width: 1.2)
                }
            }
        }
        var occupied: [Box] = []
        for (index, points) in groups.enumerated() {
            for p in points {
                let (px, py) = (mapX(p.x), mapY(p.y))
                svg.circle(px, py, radius: 4.5, fill: colors[index], stroke: "#ffffff", strokeWidth: 1.5)
                occupied.append(Box(x: px - 5, y: py - 5, width: 10, height: 10))
            }
        }
        for (index, points) in groups.enumerated() {
            for p in points where !p.label.isEmpty {
                let (px, py) = (mapX(p.x), mapY(p.y))
                let w = estimatedTextWidth(p.label, size: 11), h = 11.0
                // Candidate spots around the marker; take the first that stays inside the plot and
                // clear of other labels and markers.
                let candidates: [(Double, Double, SVGWriter.Anchor)] = [
                    (px + 8, py - 7, .start), (px + 8, py + 15, .start),
                    (px - 8, py - 7, .end), (px - 8, py + 15, .end),
                    (px, py - 11, .middle), (px, py + 20, .middle),
                    (px + 8, py - 20, .start), (px - 8, py + 28, .end),
                ]
                func box(_ c: (Double, Double, SVGWriter.Anchor)) -> Box {
                    let left = c.2 == .start ? c.0 : (c.2 == .end ? c.0 - w : c.0 - w / 2)
                    return Box(x: left, y: c.1 - h + 2, width: w, height: h)
                }
                let inside = candidates.filter {
                    let b = box($0)
                    return b.x >= frame.left && b.x + b.width <= frame.right && b.y >= frame.top - 4 && b.y + b.height <= frame.bottom
                }
                let pool = inside.isEmpty ? candidates : inside
                let choice = pool.first { c in
                    let b = box(c)
                    return !occupied.contains { $0.intersects(b) }
                } ?? pool[0]
                occupied.append(box(choice))
                svg.text(p.label, x: choice.0, y: choice.1, anchor: choice.2, size: 11, fill: darken(colors[index]))
            }
        }
        return svg.finish()
    }

    // MARK: - Before/after bars

    /// Pairs of bars, one small panel per quantity, each on its own scale (a reward, a KL in nats
    /// and a win rate do not share units). Each panel shows both values and the change.
    ///
    /// - Parameters:
    ///   - title: Heading drawn at the top of the chart.
    ///   - items: The quantities, left to right.
    ///   - beforeLabel: Name of the first bar of each pair.
    ///   - afterLabel: Name of the second bar of each pair.
    ///   - width: Natural width in viewBox units.
    ///   - height: Natural height in viewBox units.
    /// - Returns: One `<svg>` element.
    public static func comparison(
        title: String, items: [Comparison], beforeLabel: String = "Before", afterLabel: String = "After",
        width: Double = 560, height: Double = 260
    ) -> String {
        var svg = SVGWriter(width: width, height: height, title: title)
        svg.text(title, x: 16, y: 21, size: 14, weight: "600")
        let beforeColor = "#9ca3af", afterColor = palette[0]
        var top = 30.0
        top += legend(&svg, items: [(beforeLabel, beforeColor, false), (afterLabel, afterColor, false)],
                      x: 16, y: top, maxWidth: width - 32, markers: true, squares: true)
        top += 10
        guard !items.isEmpty else {
            svg.text("No data", x: width / 2, y: (top + height) / 2, anchor: .middle, size: 13, fill: "#9ca3af")
            return svg.finish()
        }
        let panelWidth = (width - 32) / Double(items.count)
        for (index, item) in items.enumerated() {
            let left = 16 + Double(index) * panelWidth
            let center = left + panelWidth / 2
            if index > 0 { svg.line(left, top, left, height - 12, stroke: "#e5e7eb") }
            svg.text(item.name, x: center, y: top + 14, anchor: .middle, size: 12, weight: "600")
            let delta = item.after - item.before
            let deltaText: String
            switch item.style {
            case .number: deltaText = "change " + Markup.signed(delta)
            case .percent: deltaText = "change " + (delta.isFinite ? (delta > 0 ? "+" : delta < 0 ? "−" : "") + Markup.fixed(abs(delta) * 100, decimals: 1) + " pt" : "—")
            }
            svg.text(deltaText, x: center, y: top + 30, anchor: .middle, size: 11, fill: "#6b7280")

            // Bars grow from zero; the scale covers zero and both values.
            let plotTop = top + 56, plotBottom = height - 30
            let scale = NiceScale(covering: [0, item.before, item.after], maxTicks: 4)
            let mapY = { (v: Double) in plotBottom - (v - scale.lower) / (scale.upper - scale.lower) * (plotBottom - plotTop) }
            let barWidth = min(56, panelWidth * 0.26)
            let gap = min(16, panelWidth * 0.08)
            let zero = mapY(0)
            svg.line(center - barWidth - gap, zero, center + barWidth + gap, zero, stroke: "#9ca3af")
            for (k, (value, color, name)) in [(item.before, beforeColor, beforeLabel), (item.after, afterColor, afterLabel)].enumerated() {
                let x = k == 0 ? center - gap / 2 - barWidth : center + gap / 2
                let text = format(value, style: item.style)
                if value.isFinite {
                    let y = mapY(value)
                    svg.rect(x, min(y, zero), barWidth, max(abs(zero - y), 0.5), fill: color, radius: 2)
                    let labelY = value >= 0 ? y - 5 : y + 14
                    svg.text(text, x: x + barWidth / 2, y: labelY, anchor: .middle, size: 11, weight: "600",
                             fill: k == 0 ? "#4b5563" : darken(afterColor))
                } else {
                    svg.text(text, x: x + barWidth / 2, y: zero - 5, anchor: .middle, size: 11, fill: "#6b7280")
                }
                svg.text(name, x: x + barWidth / 2, y: height - 14, anchor: .middle, size: 10.5, fill: "#6b7280")
            }
        }
        return svg.finish()
    }

    /// Writes a value in a comparison panel.
    static func format(_ value: Double, style: ValueStyle) -> String {
        guard value.isFinite else { return "—" }
        switch style {
        case .number: return Markup.number(value, significant: 3)
        case .percent: return Markup.percent(value)
        }
    }

    // MARK: - Shared drawing

    /// The plotting area inside the margins, in viewBox units.
    struct Frame {
        var left: Double, top: Double, right: Double, bottom: Double
        var width: Double { right - left }
        var height: Double { bottom - top }
    }

    /// An axis-aligned box, for keeping scatter labels apart.
    struct Box {
        var x: Double, y: Double, width: Double, height: Double
        func intersects(_ other: Box) -> Bool {
            x < other.x + other.width && other.x < x + width && y < other.y + other.height && other.y < y + height
        }
    }

    /// Explicit colours kept, the others filled from the palette in order, skipping used ones.
    static func assignColors(_ requested: [String?]) -> [String] {
        var next = 0
        return requested.map { color in
            if let color { return Markup.escape(color) }
            defer { next += 1 }
            return palette[next % palette.count]
        }
    }

    /// A darker shade of a `#rrggbb` colour, for text on white (other colour forms pass through).
    static func darken(_ color: String) -> String {
        guard color.count == 7, color.first == "#", let value = UInt32(color.dropFirst(), radix: 16) else { return color }
        let r = Double((value >> 16) & 0xFF) * 0.75, g = Double((value >> 8) & 0xFF) * 0.75, b = Double(value & 0xFF) * 0.75
        let hex = [r, g, b].map { c -> String in
            let s = String(UInt8(c.rounded()), radix: 16)
            return s.count == 1 ? "0" + s : s
        }
        return "#" + hex.joined()
    }

    /// Draws a legend row (wrapping when needed) at `y` and returns the height it took.
    static func legend(_ svg: inout SVGWriter, items: [(String, String, Bool)], x: Double, y: Double,
                       maxWidth: Double, markers: Bool = false, squares: Bool = false) -> Double {
        var cx = x, cy = y + 10
        var rows = 1.0
        for (name, color, dashed) in items {
            let itemWidth = 22 + estimatedTextWidth(name, size: 11.5) + 18
            if cx > x && cx + itemWidth > x + maxWidth {
                cx = x
                cy += 18
                rows += 1
            }
            if squares {
                svg.rect(cx + 4, cy - 9, 11, 11, fill: color, radius: 2)
            } else if markers {
                svg.circle(cx + 9, cy - 4, radius: 4.5, fill: color)
            } else {
                svg.line(cx, cy - 4, cx + 18, cy - 4, stroke: color, width: 2.5, dash: dashed ? "5 3" : nil)
            }
            svg.text(name, x: cx + 22, y: cy, size: 11.5, fill: "#374151")
            cx += itemWidth
        }
        return rows * 18
    }

    /// Gridlines, tick labels and axis titles.
    /// `inset` keeps the data range that far inside the axis lines (scatter plots use it).
    static func drawAxes(_ svg: inout SVGWriter, frame: Frame, xScale: NiceScale, yScale: NiceScale,
                         yLabels: [String], xLabel: String, yLabel: String, inset: Double = 0) {
        let mapX = { (x: Double) in frame.left + inset + (x - xScale.lower) / (xScale.upper - xScale.lower) * (frame.width - 2 * inset) }
        let mapY = { (y: Double) in frame.bottom - inset - (y - yScale.lower) / (yScale.upper - yScale.lower) * (frame.height - 2 * inset) }
        for (tick, label) in zip(yScale.ticks, yLabels) {
            let y = mapY(tick)
            // Zero gets a stronger line: for margins and rewards, the sign is what matters.
            let isZero = tick == 0 && yScale.lower < 0 && yScale.upper > 0
            svg.line(frame.left, y, frame.right, y, stroke: isZero ? "#9ca3af" : "#e5e7eb")
            svg.text(label, x: frame.left - 8, y: y + 4, anchor: .end, size: 11, fill: "#6b7280")
        }
        for tick in xScale.ticks {
            let x = mapX(tick)
            svg.line(x, frame.bottom, x, frame.bottom + 5, stroke: "#9ca3af")
            svg.text(xScale.label(for: tick), x: x, y: frame.bottom + 18, anchor: .middle, size: 11, fill: "#6b7280")
        }
        svg.line(frame.left, frame.bottom, frame.right, frame.bottom, stroke: "#6b7280")
        svg.line(frame.left, frame.top, frame.left, frame.bottom, stroke: "#6b7280")
        svg.text(xLabel, x: (frame.left + frame.right) / 2, y: frame.bottom + 36, anchor: .middle, size: 11.5, fill: "#374151")
        svg.text(yLabel, x: 18, y: (frame.top + frame.bottom) / 2, anchor: .middle, size: 11.5, fill: "#374151", rotate: -90)
    }

    /// Draws the runs of consecutive finite points as lines; a point with no finite neighbour
    /// (a single logged value, or one between gaps) gets a dot so it is not lost.
    static func drawRuns(_ svg: inout SVGWriter, points: [Point], mapX: (Double) -> Double, mapY: (Double) -> Double,
                         color: String, width: Double, opacity: Double, dash: String?, markers: Bool) {
        var run: [(Double, Double)] = []
        func flush() {
            if run.count == 1, markers {
                svg.circle(run[0].0, run[0].1, radius: 3, fill: color, opacity: opacity)
            } else if run.count > 1 {
                svg.path(run, stroke: color, width: width, opacity: opacity, dash: dash)
            }
            run.removeAll(keepingCapacity: true)
        }
        for p in points {
            if p.x.isFinite && p.y.isFinite {
                run.append((mapX(p.x), mapY(p.y)))
            } else {
                flush()
            }
        }
        flush()
    }
}
