import Testing
@testable import AlignReport

@Suite("Nice scale")
struct NiceScaleTests {
    @Test("Heckbert's nice numbers: 1, 2, 5 or 10 times a power of ten")
    func niceNumbers() {
        #expect(NiceScale.niceNumber(0.73, round: false) == 1)
        #expect(NiceScale.niceNumber(1.4, round: true) == 1)
        #expect(NiceScale.niceNumber(1.6, round: true) == 2)
        #expect(NiceScale.niceNumber(3.2, round: true) == 5)
        #expect(NiceScale.niceNumber(7.5, round: true) == 10)
        #expect(NiceScale.niceNumber(0.032, round: true) == 0.05)
        #expect(NiceScale.niceNumber(450, round: false) == 500)
        #expect(NiceScale.niceNumber(1000, round: false) == 1000)
    }

    @Test("Ticks for a unit-like range")
    func unitRange() {
        let s = NiceScale(lower: 0.13, upper: 0.87)
        #expect(s.ticks == [0, 0.2, 0.4, 0.6, 0.8, 1.0])
        #expect(s.ticks.map { s.label(for: $0) } == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    }

    @Test("Ticks for steps 1...300")
    func steps() {
        let s = NiceScale(lower: 1, upper: 300, maxTicks: 6)
        #expect(s.lower == 0)
        #expect(s.upper == 300)
        #expect(s.step == 50)
        #expect(s.ticks.map { s.label(for: $0) } == ["0", "50", "100", "150", "200", "250", "300"])
    }

    @Test("Negative ranges straddling and below zero")
    func negative() {
        let s = NiceScale(lower: -1.7, upper: 0.35)
        #expect(s.step == 0.5)
        #expect(s.ticks == [-2, -1.5, -1, -0.5, 0, 0.5])
        #expect(s.ticks.map { s.label(for: $0) } == ["-2.0", "-1.5", "-1.0", "-0.5", "0.0", "0.5"])
        let logps = NiceScale(lower: -163.2, upper: -118.9)
        #expect(logps.step == 10)
        #expect(logps.lower == -170)
        #expect(logps.upper == -110)
        #expect(logps.ticks.first == -170 && logps.ticks.last == -110)
        // Bounds given in the wrong order are swapped, not rejected.
        #expect(NiceScale(lower: 5, upper: -5) == NiceScale(lower: -5, upper: 5))
    }

    @Test("Tiny ranges keep distinct labels and no float noise")
    func tiny() {
        let s = NiceScale(lower: 0.6931, upper: 0.6934)
        #expect(abs(s.step - 0.00005) < 1e-15)
        #expect(!s.usesScientificNotation)
        let labels = s.ticks.map { s.label(for: $0) }
        #expect(labels.first! <= "0.69310" && labels.last! >= "0.69340")
        #expect(labels.contains("0.69325"))
        #expect(Set(labels).count == labels.count)
        #expect(labels.allSatisfy { $0.count <= 8 })
        // Snapped ticks: 0.1 * 3 would print as 0.30000000000000004 without snapping.
        let t = NiceScale(lower: 0, upper: 0.3, maxTicks: 4)
        #expect(t.ticks.contains(0.3 as Double) || t.ticks.contains(where: { abs($0 - 0.3) < 1e-15 }))
        #expect(t.ticks.map { t.label(for: $0) }.allSatisfy { !$0.contains("0000") })
    }

    @Test("Learning-rate sized values use scientific labels")
    func scientific() {
        let s = NiceScale(lower: 0, upper: 5e-7)
        #expect(s.usesScientificNotation)
        let labels = s.ticks.map { s.label(for: $0) }
        #expect(labels == ["0", "1e-7", "2e-7", "3e-7", "4e-7", "5e-7"])
        let t = NiceScale(lower: 0, upper: 1e-6, maxTicks: 6)
        #expect(t.ticks.map { t.label(for: $0) }.last == "1e-6")
    }

    @Test("Degenerate inputs still give a drawable scale")
    func degenerate() {
        let single = NiceScale(lower: 3, upper: 3)
        #expect(single.lower < 3 && single.upper > 3)
        let zero = NiceScale(lower: 0, upper: 0)
        #expect(zero.lower == -1 && zero.upper == 1)
        let none = NiceScale(covering: [Double.nan, .infinity])
        #expect(none.lower == 0 && none.upper == 1)
        let mixed = NiceScale(covering: [Double.nan, 2, 4, -.infinity])
        #expect(mixed.lower <= 2 && mixed.upper >= 4)
        #expect(mixed.ticks.count >= 2)
    }

    @Test("Integer axes never get fractional steps")
    func minimumStep() {
        let s = NiceScale(lower: 9, upper: 11, maxTicks: 8, minimumStep: 1)
        #expect(s.step >= 1)
        #expect(s.ticks.allSatisfy { $0 == $0.rounded() })
    }
}
