import Testing
@testable import AlignReport

@Suite("Markup")
struct MarkupTests {
    @Test("Escapes the five XML specials")
    func escaping() {
        #expect(Markup.escape("<&>\"'") == "&lt;&amp;&gt;&quot;&#39;")
        #expect(Markup.escape("plain text, ünïcode ✓") == "plain text, ünïcode ✓")
        #expect(Markup.escape("a\tb\nc") == "a\tb\nc")
        // Control characters are not allowed in XML 1.0 and must not reach the document.
        #expect(Markup.escape("x\u{1}y\u{0}") == "x\u{FFFD}y\u{FFFD}")
    }

    @Test("Fixed-point formatting is locale-free and exact")
    func fixed() {
        #expect(Markup.fixed(3.14159, decimals: 2) == "3.14")
        #expect(Markup.fixed(-0.004, decimals: 2) == "0.00")
        #expect(Markup.fixed(-1.5, decimals: 1) == "-1.5")
        #expect(Markup.fixed(2.5, decimals: 0) == "3")
        #expect(Markup.fixed(1.10, decimals: 3, trimZeros: true) == "1.1")
        #expect(Markup.fixed(.nan, decimals: 2) == "NaN")
        #expect(Markup.coordinate(-0.001) == "0")
        #expect(Markup.coordinate(12.345678) == "12.35")
        #expect(Markup.coordinate(.nan) == "0")
    }

    @Test("Human numbers: significant digits, scientific at the extremes")
    func numbers() {
        #expect(Markup.number(0.123456) == "0.1235")
        #expect(Markup.number(12345.678) == "12346")
        #expect(Markup.number(5e-7) == "5e-7")
        #expect(Markup.number(-2.5e-5, significant: 2) == "-2.5e-5")
        #expect(Markup.number(0.6931, significant: 3) == "0.693")
        #expect(Markup.number(0) == "0")
        #expect(Markup.scientific(9.9996e-5, significant: 3) == "1e-4")
        #expect(Markup.percent(0.781) == "78.1%")
        #expect(Markup.signed(0.369) == "+0.369")
        #expect(Markup.signed(-0.2) == "−0.2")
        #expect(Markup.duration(12.34) == "12.3 s")
        #expect(Markup.duration(185) == "3 min 05 s")
        #expect(Markup.duration(3725) == "1 h 02 min")
    }
}
