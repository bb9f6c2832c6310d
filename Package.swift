// swift-tools-version: 6.0
// Align: preference alignment (DPO, RLHF, KTO) for language models, in Swift.
//
// Layers, each depending only on the ones listed before it:
//   AlignJSON                                                 (the one JSON reader/writer; no dependencies)
//   CBLAS, CIntrinsics (prefetch) -> AlignKernels -> AlignTensor -> AlignNN -> AlignOptim
//   CMPI (Open MPI's C API) + AlignTensor -> AlignDistributed  (ranks, collectives, gradient buckets)
//   AlignKernels + AlignJSON -> AlignModelIO (safetensors, GGUF); AlignNN + AlignModelIO -> AlignModels
//   AlignNN + AlignModelIO -> AlignDiffusion                  (diffusers UNet2DModel, DDPM/DDIM, images, PNG)
//                                                             (models, KV-cached generation: below AlignTraining)
//   AlignJSON -> AlignTemplates -> AlignTokenizers            (text, no tensors)
//   AlignSentiment; AlignJSON -> AlignRatings                 (self-contained scoring maths)
//   AlignJSON + Yams -> AlignSettings                         (bounded YAML config files with key lines)
//   CCompression + AlignJSON -> AlignParquet -> AlignData     (Parquet datasets: snappy, zstd, zlib)
//   AlignModelIO (its CRC-32C) -> AlignTensorBoard            (TensorBoard event files, hand-written protobuf)
//   AlignCLI (the `align` executable), AlignBench (benchmarks)
import PackageDescription

/// Kernels are hot loops: in release builds drop overflow and bounds checks there.
/// On x86-64 the kernels also target Haswell (AVX2): SIMD8<Float> then maps onto one ymm register.
#if arch(x86_64)
let releaseFlags = ["-Ounchecked", "-wmo", "-target-cpu", "haswell"]
#else
let releaseFlags = ["-Ounchecked", "-wmo"]
#endif
let fast: [SwiftSetting] = [
    .unsafeFlags(releaseFlags, .when(configuration: .release)),
    .swiftLanguageMode(.v5),
]
/// The innermost loops are optimised in debug builds too, so the test suite (which runs a debug
/// build) exercises real models in seconds rather than minutes.
let kernelSettings: [SwiftSetting] = fast + [.unsafeFlags(["-O"], .when(configuration: .debug))]
let v5: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "Align",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "align", targets: ["AlignCLI"]),
        .executable(name: "align-bench", targets: ["AlignBench"]),
        .library(name: "Align", targets: [
            "AlignKernels", "AlignTensor", "AlignNN", "AlignOptim", "AlignModels", "AlignModelIO", "AlignTraining", "AlignHub", "AlignWorkflows",
            "AlignDistributed", "AlignTemplates", "AlignTokenizers", "AlignData", "AlignSentiment", "AlignRatings", "AlignReport", "AlignJSON", "AlignSettings", "AlignParquet", "AlignTensorBoard", "AlignDiffusion",
        ]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(name: "CIntrinsics"),
        .systemLibrary(
            name: "CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .target(name: "AlignDistributed", dependencies: ["AlignKernels", "AlignTensor", "CMPI"], swiftSettings: fast),
        .systemLibrary(
            name: "CCompression",
            providers: [.apt(["libsnappy-dev", "libzstd-dev", "zlib1g-dev"])]),
        .target(name: "AlignParquet", dependencies: ["AlignJSON", "CCompression"], swiftSettings: fast),
        .target(name: "AlignJSON", swiftSettings: fast),
        .target(name: "AlignKernels", dependencies: ["CBLAS", "CMalloc", "CIntrinsics"], swiftSettings: kernelSettings),
        .target(name: "AlignTensor", dependencies: ["AlignKernels"], swiftSettings: fast),
        .target(name: "AlignNN", dependencies: ["AlignKernels", "AlignTensor"], swiftSettings: fast),
        .target(name: "AlignOptim", dependencies: ["AlignKernels", "AlignTensor"], swiftSettings: fast),
        .target(name: "AlignModels", dependencies: ["AlignKernels", "AlignTensor", "AlignNN", "AlignModelIO"], swiftSettings: fast),
        .target(name: "AlignDiffusion", dependencies: ["AlignKernels", "AlignTensor", "AlignNN", "AlignModelIO", "AlignJSON", "CCompression"], swiftSettings: fast),
        .target(name: "AlignHub", dependencies: ["AlignModels", "AlignNN", "AlignTensor", "AlignModelIO", "AlignTokenizers", "AlignTemplates"], swiftSettings: fast),
        .target(name: "AlignWorkflows", dependencies: ["AlignHub", "AlignTokenizers", "AlignModels", "AlignTensor", "AlignTraining", "AlignData", "AlignSentiment", "AlignReport", "AlignRatings", "AlignJSON", "AlignSettings"], swiftSettings: fast),
        .target(name: "AlignTraining", dependencies: ["AlignKernels", "AlignTensor", "AlignDistributed", "AlignNN", "AlignOptim", "AlignModels", "AlignModelIO", "AlignData", "AlignJSON", "AlignSettings", "AlignDiffusion"], swiftSettings: fast),
        .target(name: "AlignSettings", dependencies: ["AlignJSON", .product(name: "Yams", package: "Yams")], swiftSettings: v5),
        .target(name: "AlignModelIO", dependencies: ["AlignKernels", "AlignJSON"], swiftSettings: kernelSettings),
        .target(name: "AlignTemplates", dependencies: ["AlignJSON"], swiftSettings: v5),
        .target(name: "AlignTokenizers", dependencies: ["AlignJSON", "AlignTemplates"], swiftSettings: fast),
        .target(name: "AlignData", dependencies: ["AlignJSON", "AlignParquet", "AlignTokenizers", "AlignTemplates"], swiftSettings: fast),
        .target(name: "AlignSentiment", swiftSettings: fast),
        .target(name: "AlignRatings", dependencies: ["AlignJSON"], swiftSettings: fast),
        .target(name: "AlignReport", swiftSettings: v5),
        .target(name: "AlignTensorBoard", dependencies: ["AlignModelIO"], swiftSettings: v5),
        .executableTarget(
            name: "AlignCLI",
            dependencies: [
                "AlignKernels", "AlignTensor", "AlignNN", "AlignOptim", "AlignModels", "AlignModelIO", "AlignTraining", "AlignHub", "AlignWorkflows",
                "AlignDistributed", "AlignTokenizers", "AlignTemplates", "AlignData", "AlignSentiment", "AlignRatings", "AlignReport", "AlignSettings", "AlignJSON", "AlignTensorBoard", "AlignDiffusion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: fast),
        .executableTarget(
            name: "AlignBench",
            dependencies: ["AlignKernels", "AlignTensor", "AlignNN", "AlignOptim", "AlignModels", "AlignModelIO", "AlignParquet", "CBLAS"],
            swiftSettings: fast),
        .target(
            name: "TestSupport", dependencies: ["AlignKernels", "AlignTensor", "AlignModelIO"],
            path: "Tests/TestSupport", swiftSettings: v5),
        .testTarget(name: "AlignTensorTests", dependencies: ["AlignKernels", "AlignTensor", "TestSupport"], swiftSettings: v5),
        .testTarget(name: "AlignNNTests", dependencies: ["AlignNN", "AlignOptim", "TestSupport"], swiftSettings: v5),
        .testTarget(name: "AlignHubTests", dependencies: ["AlignHub", "TestSupport"], swiftSettings: v5),
        .testTarget(name: "AlignTrainingTests", dependencies: ["AlignTraining", "AlignDistributed", "AlignModelIO", "AlignKernels", "AlignModels", "AlignHub", "AlignSettings", "AlignJSON", "AlignData", "TestSupport"], swiftSettings: v5),
        .testTarget(name: "AlignModelsTests", dependencies: ["AlignModels", "AlignModelIO", "TestSupport"], swiftSettings: v5),
        .testTarget(name: "AlignDiffusionTests", dependencies: ["AlignDiffusion", "AlignTraining", "AlignModelIO", "TestSupport"], swiftSettings: v5),
        .testTarget(name: "AlignJSONTests", dependencies: ["AlignJSON"], swiftSettings: v5),
        .testTarget(name: "AlignModelIOTests", dependencies: ["AlignModelIO", "AlignJSON", "TestSupport"], exclude: ["Fixtures"], swiftSettings: v5),
        .testTarget(name: "AlignTemplatesTests", dependencies: ["AlignTemplates", "TestSupport"], exclude: ["Fixtures"], swiftSettings: v5),
        .testTarget(name: "AlignTokenizersTests", dependencies: ["AlignTokenizers", "AlignTemplates", "TestSupport"], exclude: ["Fixtures"], swiftSettings: v5),
        .testTarget(name: "AlignParquetTests", dependencies: ["AlignParquet", "AlignData", "AlignJSON", "TestSupport"], swiftSettings: v5),
        .testTarget(name: "AlignDataTests", dependencies: ["AlignData", "AlignTokenizers", "TestSupport"], swiftSettings: v5),
        .testTarget(name: "AlignSentimentTests", dependencies: ["AlignSentiment", "TestSupport"], swiftSettings: v5),
        .testTarget(name: "AlignReportTests", dependencies: ["AlignReport", "TestSupport"], swiftSettings: v5),
        .testTarget(name: "AlignTensorBoardTests", dependencies: ["AlignTensorBoard", "TestSupport"], swiftSettings: v5),
        .testTarget(name: "AlignWorkflowsTests", dependencies: ["AlignWorkflows", "AlignHub", "AlignModels", "AlignJSON", "AlignReport", "TestSupport"], swiftSettings: v5),
        .testTarget(name: "AlignRatingsTests", dependencies: ["AlignRatings", "TestSupport"], exclude: ["Fixtures"], swiftSettings: v5),
    ]
)
