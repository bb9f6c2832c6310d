#!/usr/bin/env python3
"""Writes Tests/Fixtures/AlignSentiment/vader_golden.json: VADER scores from the reference
Python package (vaderSentiment 3.3.2, `pip install vadersentiment==3.3.2`) for the first 250 movie
review snippets, hand-written sentences that exercise every rule and seeded word salads dense in
rule words, so the Swift port is checked against the real implementation, quirks included.

Each case records the package's rounded `polarity_scores` output ("scores") and the same computation
with rounding disabled ("raw"), so the Swift test can check the arithmetic itself and the rounding.

    ALIGN_CACHE=~/.cache/align python3 scripts/make_vader_fixtures.py
"""
import json
import os
import sys

import vaderSentiment
import vaderSentiment.vaderSentiment as vs_module
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

EXPECTED_VERSION = "3.3.2"

# Hand-written cases, grouped by the rule they exercise. Keep each group small but include the
# boundaries (distance 1/2/3 from the modified word, start of sentence, end of sentence).
HAND_WRITTEN = [
    # The package's own demo sentences.
    "VADER is smart, handsome, and funny.",
    "VADER is smart, handsome, and funny!",
    "VADER is very smart, handsome, and funny.",
    "VADER is VERY SMART, handsome, and FUNNY.",
    "VADER is VERY SMART, handsome, and FUNNY!!!",
    "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "VADER is not smart, handsome, nor funny.",
    "The book was good.",
    "At least it isn't a horrible book.",
    "The book was only kind of good.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today SUX!",
    "Today only kinda sux! But I'll get by, lol",
    "Make sure you :) or :D today!",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "Not bad at all",
    "Sentiment analysis has never been good.",
    "Sentiment analysis has never been this good!",
    "Most automated sentiment analysis tools are shit.",
    "With VADER, sentiment analysis is the shit!",
    "Other sentiment analysis tools can be quite bad.",
    "On the other hand, VADER is quite bad ass",
    "VADER is such a badass!",
    "Without a doubt, excellent idea.",
    "Roger Dodger is one of the most compelling variations on this theme.",
    "Roger Dodger is at least compelling as a variation on the theme.",
    "Roger Dodger is one of the least compelling variations on this theme.",
    "Not such a badass after all.",
    "Without a doubt, an excellent idea.",
    # Negation at distance 1, 2, 3 and beyond; "n't" contractions; NEGATE words.
    "The food is not good.",
    "The food is not very good.",
    "The food is not really very good.",
    "The food is not at all really good.",
    "The food isn't good.",
    "The food wasn't that great.",
    "I don't hate it.",
    "I dont hate it.",
    "Nobody ever said it was never good.",
    "It is seldom boring.",
    "Despite the hype, it was fun.",
    "Uh-uh, that is terrible.",
    "Nothing good came of it.",
    "Neither good nor bad.",
    "It's nowhere near good.",
    # "never so" / "never this" and the start_i == 2 precedence quirk ("so"/"this" right before).
    "It has never been so good.",
    "It was never so good.",
    "It was never this bad.",
    "It is so good.",
    "This is this good.",
    "We are all so happy.",
    "Without doubt a great film.",
    "Without any doubt a great film.",
    # "least".
    "This is the least good movie.",
    "Least good movie ever.",
    "It was at least fun.",
    "It was very least fun.",
    "least fun",
    # Boosters and dampeners, distance dampening, booster in caps, negative valence.
    "It was extremely good.",
    "It was extremely very good.",
    "It was extremely very really good.",
    "It was slightly bad.",
    "It was barely good.",
    "It was EXTREMELY good.",
    "It was extremely BAD and boring.",
    "The movie was incredibly awful.",
    "It was sort of good.",
    "It was kind of bad.",
    "It was kinda good.",
    "It was just enough good.",
    "kind of good",
    "Kind of good movie.",
    "It was KIND OF great, really.",
    "She is kind.",
    "She was very kind of heart and good.",
    # ALL CAPS emphasis: mixed case, all caps text (no emphasis), caps with digits.
    "I LOVE this movie.",
    "I LOVE THIS MOVIE.",
    "GREAT movie, BAD ending.",
    "this is GOOD",
    "THIS IS GOOD",
    "NO good at all.",
    "It is GREAT2 and 2GOOD.",
    # "but" weighting, several "but"s, repeated equal valences (the index() quirk).
    "The acting was good but the plot was bad.",
    "Good, good, but bad, bad.",
    "It was bad but good but great.",
    "But it was great.",
    "It was great but.",
    "Nice nice nice but nice nice.",
    "BUT the end was good, and the start was good",
    # "no" cases.
    "No good.",
    "no",
    "No, I love it.",
    "There is no way this is good.",
    "No problem, happy to help.",
    "no no no",
    "I have no love or hate for it.",
    "I have no love nor respect.",
    "No one was happy, no one at all.",
    "yes no",
    # Idioms and special cases, including where the Python code does not reach them.
    "That movie was the bomb.",
    "the bomb",
    "Wow, this is the shit!",
    "I waited at the bus stop alone.",
    "Yeah right, that was great.",
    "Oh yeah right, that was great.",
    "It was the kiss of death for the film.",
    "Their cake is to die for.",
    "A beating heart of a film.",
    "He really cut the mustard today.",
    "We were living hand to mouth.",
    "He is bad ass and so are they.",
    "A movie that is the bomb, truly.",
    # Punctuation emphasis.
    "Good!",
    "Good!!",
    "Good!!!",
    "Good!!!!",
    "Good!!!!!!",
    "Bad!!!",
    "Good?",
    "Good??",
    "Good???",
    "Good????",
    "Good?!?!",
    "Is it good?",
    "Really?? It was bad??",
    "!!!",
    "???",
    "Hmm...",
    # Emoticons and punctuation stripping.
    ":)",
    ":-(",
    "I am happy :)",
    "I am sad :(",
    "Great day :-)",
    "That was awful :-(",
    "<3 this so much",
    "lol",
    "LOL that was funny",
    "xD",
    ":D :D",
    ";)",
    "(-:",
    ":-Þ",
    "'good'",
    "\"great\"",
    "(terrible)",
    "...good...",
    "a-ha!",
    "ok.",
    "Ok ok",
    # Single letters and short tokens are kept in 3.3.2.
    "I A B C good",
    "a good b",
    # Emoji substitution, adjacent and repeated.
    "I love it😍",
    "😍😍 best day",
    "😡",
    "This is 😂 funny",
    "☺️ smile",
    "☺ smile",
    "👍",
    "Good👍👍!",
    "💔 heartbroken",
    # Unicode: accents, non-ASCII whitespace, zero-width space, Greek final sigma, Turkish İ.
    "Café was lovely.",
    "Naïve but charming.",
    "GOOD CAFÉ movie",
    "good\u00a0movie\u3000great",
    "good\u200bmovie",
    "bad\tmovie\nbut\r\ngood",
    "ΟΔΟΣ good",
    "İYİ good",
    "  leading and trailing spaces are fine  ",
    "",
    "   ",
    "The Kelvin \u212aIND of good",
    # Booster bigrams two and three words back, with an unknown word in between (the bigram must
    # be added once, not once per n-gram it could be read from).
    "It was a sort of geriatric dirty idea.",
    "We had just enough cheap fun.",
    "That kind of old sad film.",
    "Terry is a sort of geriatric Dirty Harry, which will please fans.",
    # Long mixed sentence.
    "Although the first half was slow and kind of boring, the ending was absolutely "
    "fantastic, and I didn't expect to cry so much!!",
    "It is not the worst film, but it isn't good either; honestly it is mediocre at best?",
]


def rule_mix(analyzer, count):
    """Seeded random word salads dense in rule words, lexicon words, emoji and punctuation, to reach
    rule interactions no hand-written sentence thought of."""
    import random
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE, SPECIAL_CASES
    rng = random.Random(2014)
    lexicon = sorted(analyzer.lexicon)
    emoji = sorted(analyzer.emojis)[:200]
    rule_words = sorted(set(NEGATE) | set(BOOSTER_DICT) | {w for k in SPECIAL_CASES for w in k.split()}
                        | {"no", "but", "kind", "of", "least", "at", "very", "never", "so", "this",
                           "without", "doubt", "or", "nor", "the", "!", "??", ":)", ":-(", "n't"})
    texts = []
    for _ in range(count):
        words = []
        for _ in range(rng.randint(2, 12)):
            r = rng.random()
            word = rng.choice(lexicon) if r < 0.35 else rng.choice(rule_words) if r < 0.9 else rng.choice(emoji)
            if rng.random() < 0.15:
                word = word.upper()
            if rng.random() < 0.1:
                word += rng.choice("!?.,;:)")
            words.append(word)
        texts.append(" ".join(words))
    return texts


def main() -> int:
    version = getattr(vaderSentiment, "__version__", None)
    try:
        from importlib.metadata import version as dist_version
        version = dist_version("vaderSentiment")
    except Exception:
        pass
    if version != EXPECTED_VERSION:
        print(f"expected vaderSentiment {EXPECTED_VERSION}, found {version}", file=sys.stderr)
        return 1

    cache = os.environ.get("ALIGN_CACHE", os.path.expanduser("~/.cache/align"))
    snippets_path = os.path.join(cache, "vader", "movieReviewSnippets_GroundTruth.txt")
    with open(snippets_path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\r\n")
    reviews = [line.split("\t")[2] for line in lines if line][:250]

    analyzer = SentimentIntensityAnalyzer()

    def score(text: str) -> dict:
        return analyzer.polarity_scores(text)

    def raw_score(text: str) -> dict:
        # The module calls the builtin `round` by name at the end of score_valence; shadowing it in
        # the module's globals yields the unrounded values of the very same code path.
        vs_module.round = lambda x, n=None: x
        try:
            return analyzer.polarity_scores(text)
        finally:
            del vs_module.round

    cases = []
    mixed = rule_mix(analyzer, count=80)
    for source, texts in (("movieReviewSnippets", reviews), ("handWritten", HAND_WRITTEN),
                          ("ruleMix", mixed)):
        for text in texts:
            cases.append({"source": source, "text": text, "scores": score(text), "raw": raw_score(text)})

    out_path = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures",
                            "AlignSentiment", "vader_golden.json")
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"generator": "scripts/make_vader_fixtures.py",
                   "package": f"vaderSentiment {version}",
                   "python": sys.version.split()[0],
                   "cases": cases}, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(out_path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
