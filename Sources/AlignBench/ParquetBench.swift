// `align-bench parquet FILE [--iterations N]`: Parquet reading speed (footer, pages, decompression,
// record assembly into JSON rows: everything a dataset load does before tokenising). The baseline is
// pyarrow's `read_table(...).to_pylist()` on the same file, timed by scripts/bench/parquet_vs_pyarrow.py.
import AlignJSON
import AlignParquet
import Dispatch
import Foundation

func benchParquet(_ arguments: [String]) throws {
    guard let path = arguments.first else {
        print("usage: align-bench parquet FILE [--iterations N]")
        exit(2)
    }
    var iterations = 3
    if let i = arguments.firstIndex(of: "--iterations"), i + 1 < arguments.count { iterations = Int(arguments[i + 1]) ?? 3 }
    let url = URL(fileURLWithPath: path)
    let bytes = Double((try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0)
    var rows = 0
    var best = Double.infinity
    for _ in 0..<max(1, iterations) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let file = try ParquetFile(contentsOf: url)
        rows = 0
        for group in 0..<file.rowGroupCount { rows += try file.rows(inRowGroup: group).count }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    print("parquet \(url.lastPathComponent): \(rows) rows, \(fmt(bytes / 1e6)) MB in \(fmt(best, 3)) s (best of \(iterations)): "
          + "\(fmt(Double(rows) / best, 0)) rows/s, \(fmt(bytes / 1e6 / best)) MB/s")
}
