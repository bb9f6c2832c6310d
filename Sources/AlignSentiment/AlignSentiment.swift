// The AlignSentiment module: self-contained scoring maths for sentiment-driven alignment runs.
//
// - `VaderSentiment`: a Swift port of VADER (vaderSentiment 3.3.2) that reproduces the Python
//   package's scores, quirks included, so rewards computed here match published VADER numbers.
// - `MovieReviewSnippets`: the VADER movie-review corpus, cut into seeded prompt prefixes with
//   disjoint train and held-out splits.
// - `PreferencePairBuilder`: turns scored completions into DPO preference pairs and KTO rows.
//
// The module depends on nothing but Foundation, so it sits beside the tensor stack, not on it.
