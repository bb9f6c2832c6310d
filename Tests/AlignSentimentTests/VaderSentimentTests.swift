import Foundation
import Testing
@testable import AlignSentiment

/// Rules checked on a tiny in-memory lexicon, so they run without the asset cache.
@Suite("VADER rules on a small lexicon")
struct VaderSentimentTests {
    static let lexicon = """
        good\t1.9\t0.9\t[2, 2]
        bad\t-2.5\t0.7\t[-3, -2]
        no\t-1.2\t0.8\t[-1, -1]
        love\t3.2\t0.4\t[3, 3]
        kind\t2.4\t0.6\t[2, 3]
        :)\t2.0\t1.0\t[2, 2]
        lol\t1.0\t1.0\t[1, 1]
        lol\t2.9\t0.8\t[3, 3]
        okay\t0.95\t0.5\t[1, 1]
        ok\t0.9\t0.5\t[1, 1]

        """.replacingOccurrences(of: "\n", with: "\r\n")
    static let emoji = "😍\tsmiling face with heart-eyes\r\n☺️\tsmiling face\r\n"

    static let vader = try! VaderSentiment(lexicon: lexicon, emojiLexicon: emoji)

    @Test func lexiconLoadsCRLFAndLaterDuplicatesWin() {
        #expect(Self.vader.lexiconCount == 9)
        #expect(Self.vader.words[CodePointKey("lol")]?.valence == 2.9)
        // Only single-code-point emoji can match, as in the Python package.
        #expect(Self.vader.emojiDescriptions.count == 1)
    }

    @Test func malformedLexiconLinesNameFileAndLine() {
        #expect(throws: DataFileError(file: "lex.txt", line: 2, reason: "expected token<TAB>valence")) {
            try VaderSentiment(lexicon: "good\t1.9\nbroken line\n", emojiLexicon: nil, lexiconName: "lex.txt")
        }
        #expect(throws: DataFileError(file: "lex.txt", line: 1, reason: "valence 'x' is not a number")) {
            try VaderSentiment(lexicon: "good\tx\t0\n", emojiLexicon: nil, lexiconName: "lex.txt")
        }
        #expect(throws: DataFileError.self) {
            try VaderSentiment(lexiconURL: URL(fileURLWithPath: "/nonexistent/vader_lexicon.txt"), emojiLexiconURL: nil)
        }
    }

    @Test func singleWordAndNormalisation() {
        // 1.9 / sqrt(1.9² + 15) = 0.4404; proportions: (1.9 + 1) against 1 neutral word.
        let s = Self.vader.scores("The book was good.")
        #expect(s.compound == 0.4404)
        #expect(s.positive == 0.492 && s.neutral == 0.508 && s.negative == 0)
        #expect(Self.vader.scores("") == .zero)
        #expect(Self.vader.scores(" \t\u{3000} ") == .zero)
    }

    @Test func negationBoostersAndCaps() {
        let raw = { Self.vader.unroundedScores($0).compound }
        let norm = { (x: Double) in x / (x * x + 15).squareRoot() }
        #expect(raw("not good") == norm(1.9 * -0.74))
        #expect(raw("it isn't good") == norm(1.9 * -0.74))             // "n't" anywhere in the token
        #expect(raw("very good") == norm(1.9 + 0.293))
        #expect(raw("very really good") == norm(1.9 + 0.293 + 0.293 * 0.95))
        #expect(raw("very really truly good") == norm(1.9 + 0.293 * 0.95 + 0.293 * 0.9))
        #expect(raw("very bad") == norm(-2.5 - 0.293))                 // boosters follow the sign
        #expect(raw("slightly good") == norm(1.9 - 0.293))
        #expect(raw("it is GOOD") == norm(1.9 + 0.733))                // caps in mixed-case text
        #expect(raw("IT IS GOOD") == norm(1.9))                        // no emphasis when all caps
    }

    @Test func punctuationEmphasis() {
        let raw = { Self.vader.unroundedScores($0).compound }
        let norm = { (x: Double) in x / (x * x + 15).squareRoot() }
        #expect(raw("good!!") == norm(1.9 + 2 * 0.292))
        #expect(raw("good!!!!!!!") == norm(1.9 + 4 * 0.292))
        #expect(raw("good?") == norm(1.9))
        #expect(raw("good???") == norm(1.9 + 3 * 0.18))
        #expect(raw("bad????") == norm(-2.5 - 0.96))
        #expect(VaderSentiment.punctuationEmphasis(exclamations: 1, questions: 2) == 0.292 + 0.36)
    }

    @Test func butQuirkRescalesFirstEqualValue() {
        // Python's loop calls list.index(value): once "good" before "but" has been halved to 0.95,
        // "okay" (0.95) after "but" is found at position 0, which is halved again, and "okay"
        // keeps its valence instead of gaining 50%. (vaderSentiment gives compound 0.3453.)
        let x = 1.9 * 0.5 * 0.5 + 0 + 0.95
        #expect(Self.vader.unroundedScores("good but okay").compound == x / (x * x + 15).squareRoot())
        #expect(Self.vader.scores("good but okay").compound == 0.3453)
        let y = 1.9 * 0.5 + 0 + 1.9 * 1.5
        #expect(Self.vader.unroundedScores("good but good").compound == y / (y * y + 15).squareRoot())
    }

    @Test func kindOfNoAndLeast() {
        let raw = { Self.vader.unroundedScores($0).compound }
        let norm = { (x: Double) in x / (x * x + 15).squareRoot() }
        #expect(raw("she is kind") == norm(2.4))
        #expect(raw("kind of good") == norm(1.9))                      // "kind" silenced before "of";
        #expect(raw("a kind of good") == norm(1.9 - 0.293))            // the bigram only dampens from
        #expect(raw("was a kind of good") == norm(1.9 - 0.293))        // index 3 on
        #expect(raw("no good") == norm(1.9 * -0.74))                   // "no" scores 0 and negates
        #expect(raw("no") == norm(-1.2))
        #expect(raw("least good") == norm(1.9 * -0.74))
        #expect(raw("at least good") == norm(1.9))
    }

    @Test func tokensKeepEmoticonsAndShortWords() {
        var e = 0, q = 0
        let tokens = Self.vader.tokenize("  :) 'good' ok. a (bad) :-( \u{a0}x ", exclamations: &e, questions: &q)
        #expect(tokens.count == 7)
        #expect(tokens[0].info.valence == 2.0)         // ":)" kept whole
        #expect(tokens[1].info.valence == 1.9)         // "'good'" stripped to good
        #expect(!tokens[2].info.inLexicon)             // "ok." keeps its dot (2 letters left),
        #expect(Self.vader.words[CodePointKey("ok")]?.inLexicon == true)  // so misses "ok"
        #expect(tokens[4].info.valence == -2.5)
        #expect(Self.vader.scores("😍").compound == Self.vader.scores("smiling face with heart-eyes").compound)
        #expect(Self.vader.substituteEmoji("I love it😍!") == "I love it smiling face with heart-eyes!")
    }

    @Test func pythonStringSemantics() {
        #expect(pythonIsUpper("GOOD".unicodeScalars))
        #expect(pythonIsUpper("2GOOD!".unicodeScalars))
        #expect(!pythonIsUpper(":)".unicodeScalars))
        #expect(!pythonIsUpper("GOoD".unicodeScalars))
        #expect(pythonIsUpper("ÉTÉ".unicodeScalars))
        #expect(!pythonIsUpper("ǅ".unicodeScalars))    // titlecase letter
        #expect(isPythonWhitespace(0x1C) && isPythonWhitespace(0x3000) && !isPythonWhitespace(0x200B))
        // Canonically equivalent but different code points are different keys, as in Python.
        #expect(CodePointKey("caf\u{e9}") != CodePointKey("cafe\u{301}"))
        #expect(containsBytes("didn't", "n't") && !containsBytes("nt", "n't"))
    }

    @Test func roundingMatchesPython() {
        // Python: round(0.125, 2) == 0.12, round(0.375, 2) == 0.38 (exact ties to even),
        // round(2.675, 2) == 2.67 (2.675 is stored below the tie), round(-0.00005, 4) == -0.0001.
        #expect(pythonRound(0.125, digits: 2) == 0.12)
        #expect(pythonRound(0.375, digits: 2) == 0.38)
        #expect(pythonRound(2.675, digits: 2) == 2.67)
        #expect(pythonRound(0.4404, digits: 4) == 0.4404)
        #expect(pythonRound(0.12345678, digits: 3) == 0.123)
        #expect(pythonRound(-0.0004, digits: 3) == 0)
    }

    @Test func concurrentScoringAgrees() async {
        let vader = Self.vader
        let texts = (0..<64).map { "text \($0) is \($0 % 2 == 0 ? "very good" : "not bad")!" }
        let serial = texts.map { vader.scores($0) }
        let parallel = await withTaskGroup(of: (Int, SentimentScores).self) { group in
            for (i, text) in texts.enumerated() { group.addTask { (i, vader.scores(text)) } }
            var out = [SentimentScores](repeating: .zero, count: texts.count)
            for await (i, s) in group { out[i] = s }
            return out
        }
        #expect(parallel == serial)
    }
}
