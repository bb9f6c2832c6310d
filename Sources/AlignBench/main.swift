// Benchmarks: ratios against cblas peak measured in the same run.
print("align-bench")
