/// Appends SVG elements to a string. Internal: the charts use it so that every number goes through
/// `Markup.coordinate` and every piece of text through `Markup.escape`, which is what keeps the
/// output well-formed and byte-for-byte deterministic.
struct SVGWriter {
    private(set) var output = ""

    /// Opens the root element. `width`/`height` give the natural size; the viewBox makes it scale.
    init(width: Double, height: Double, title: String) {
        let w = Markup.coordinate(width), h = Markup.coordinate(height)
        output.reserveCapacity(16_384)
        output += "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(w) \(h)\" width=\"\(w)\" height=\"\(h)\""
        output += " role=\"img\" aria-label=\"\(Markup.escape(title))\""
        output += " font-family=\"\(Markup.escape(SVGChart.fontFamily))\" font-size=\"12\" fill=\"#1f2937\">"
        output += "<title>\(Markup.escape(title))</title>"
        // A white card so the chart reads the same on any page background.
        output += "<rect x=\"0\" y=\"0\" width=\"\(w)\" height=\"\(h)\" fill=\"#ffffff\"/>"
    }

    /// Closes the root element and returns the document.
    mutating func finish() -> String {
        output += "</svg>"
        return output
    }

    mutating func raw(_ fragment: String) { output += fragment }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double,
                       stroke: String, width: Double = 1, dash: String? = nil) {
        output += "<line x1=\"\(c(x1))\" y1=\"\(c(y1))\" x2=\"\(c(x2))\" y2=\"\(c(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(c(width))\""
        if let dash { output += " stroke-dasharray=\"\(dash)\"" }
        output += "/>"
    }

    mutating func rect(_ x: Double, _ y: Double, _ width: Double, _ height: Double,
                       fill: String, radius: Double = 0) {
        output += "<rect x=\"\(c(x))\" y=\"\(c(y))\" width=\"\(c(max(0, width)))\" height=\"\(c(max(0, height)))\" fill=\"\(fill)\""
        if radius > 0 { output += " rx=\"\(c(radius))\"" }
        output += "/>"
    }

    mutating func circle(_ x: Double, _ y: Double, radius: Double, fill: String,
                         stroke: String? = nil, strokeWidth: Double = 1, opacity: Double = 1) {
        output += "<circle cx=\"\(c(x))\" cy=\"\(c(y))\" r=\"\(c(radius))\" fill=\"\(fill)\""
        if let stroke { output += " stroke=\"\(stroke)\" stroke-width=\"\(c(strokeWidth))\"" }
        if opacity < 1 { output += " opacity=\"\(c(opacity))\"" }
        output += "/>"
    }

    /// A polyline through `points` (already in viewBox units), as one path.
    mutating func path(_ points: [(Double, Double)], stroke: String, width: Double,
                       opacity: Double = 1, dash: String? = nil) {
        guard let first = points.first else { return }
        var d = "M\(c(first.0)) \(c(first.1))"
        for p in points.dropFirst() { d += "L\(c(p.0)) \(c(p.1))" }
        output += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(c(width))\" stroke-linejoin=\"round\" stroke-linecap=\"round\""
        if opacity < 1 { output += " stroke-opacity=\"\(c(opacity))\"" }
        if let dash { output += " stroke-dasharray=\"\(dash)\"" }
        output += "/>"
    }

    enum Anchor: String { case start, middle, end }

    mutating func text(_ string: String, x: Double, y: Double, anchor: Anchor = .start,
                       size: Double? = nil, weight: String? = nil, fill: String? = nil,
                       rotate: Double? = nil) {
        output += "<text x=\"\(c(x))\" y=\"\(c(y))\""
        if anchor != .start { output += " text-anchor=\"\(anchor.rawValue)\"" }
        if let size { output += " font-size=\"\(c(size))\"" }
        if let weight { output += " font-weight=\"\(weight)\"" }
        if let fill { output += " fill=\"\(fill)\"" }
        if let rotate { output += " transform=\"rotate(\(c(rotate)) \(c(x)) \(c(y)))\"" }
        output += ">\(Markup.escape(string))</text>"
    }

    private func c(_ v: Double) -> String { Markup.coordinate(v) }
}

/// A rough width for `text` set in the charts' sans-serif font at `size`, in viewBox units.
///
/// SVG offers no text measurement without a renderer, so layout uses per-character averages
/// measured for Helvetica/Arial-like faces: narrow for `.,:;ilI1|` and spaces, wide for `mwMW`.
/// Erring slightly wide keeps labels from colliding.
func estimatedTextWidth(_ text: String, size: Double) -> Double {
    var units = 0.0
    for ch in text {
        switch ch {
        case ".", ",", ":", ";", "i", "l", "I", "|", "!", "'", "j", "f", "t": units += 0.32
        case " ", "(", ")", "[", "]", "/", "1", "r": units += 0.40
        case "m", "w", "M", "W", "%", "@": units += 0.90
        case "A"..."Z": units += 0.68
        default: units += 0.58
        }
    }
    return units * size
}
