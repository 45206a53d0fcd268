// swift-tools-version: 6.0
//
// FGASeg.swift — open-vocabulary semantic segmentation (FGAseg) trained data-parallel on MPI.
//
// Layers (../shared/DESIGN.md §2); a module imports only the layers above it:
//   C shims / system libraries   COpenMPI → CMPIShim, CBLAS, COpenBLASKernel, CAVX512Kernels, CHDF5, CJPEG, CPNG, CFreeType
//   Tensor                       storage, kernels, reverse-mode autodiff   (CBLAS COpenBLASKernel CAVX512Kernels)
//   NN                           modules, layers, AdamW, flat parameter buffers
//   IO                           HDF5 files, JPEG/PNG codecs, safetensors, gzip     (CHDF5 CJPEG CPNG CZLib)
//   CLIP                         tokenizer, text and vision transformers, HF weights
//   Data                         class names, datasets, shards, augmentation, the training loader
//   Model                        FGAseg modules: P2Tformer, GCS/LCS costs, spatial and class aggregation
//   Inference                    configurations, checkpoints and model loading, Segmenter, rendering
//   Distributed                  Communicator (MPI | single process), GradientReducer (CMPIShim)
//   Training                     the trainer, evaluation across ranks, logs (Inference, Distributed)
//
// The `FGASeg` library product is everything up to Inference plus Distributed, with an umbrella
// module `FGASeg` (`import FGASeg`); tools that never communicate (fgaseg-segment, fgaseg-export,
// fgaseg-prepare) do not link MPI.
//
// How the native libraries are found: every system library is a `systemLibrary` target with a
// pkg-config name (Debian: `ompi`, `openblas`, `hdf5`), so plain `swift build` from a clean clone
// gets the include and link flags without search-path flags. Each module map also names a library that
// is on the default linker path and each shim header falls back to Debian's include symlinks, so
// the build still works where pkg-config is missing (SwiftPM then only warns). libjpeg and libpng
// need no search paths on Debian and are used from small C targets that keep their setjmp/longjmp
// error handling on the C side.
//
// Code generation: left alone, swiftc targets baseline x86-64 (SSE2), so every Swift kernel
// (softmax, layer norm, activations, resampling, the loader's colour maths) runs 4 lanes wide.
// On x86_64 hosts every Swift target is built for Haswell-class CPUs (AVX2, FMA, BMI2: every
// x86 server CPU since 2013). FGASEG_TARGET_CPU overrides it (`native`, `znver3`, or `x86-64`
// for older CPUs; empty for the compiler's default); run `swift package clean` after changing it.
import Foundation
import PackageDescription

let targetCPU: String? = {
    if let requested = ProcessInfo.processInfo.environment["FGASEG_TARGET_CPU"] { return requested.isEmpty ? nil : requested }
    #if arch(x86_64)
    return "haswell"
    #else
    return nil
    #endif
}()

let package = Package(
    name: "FGASeg",
    products: [
        .library(name: "FGASeg", targets: ["FGASeg", "Tensor", "NN", "IO", "CLIP", "Data", "Model", "Inference", "Distributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // MARK: native libraries
        .systemLibrary(name: "COpenMPI", pkgConfig: "ompi",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .target(name: "CMPIShim", dependencies: ["COpenMPI"]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Re-runs OpenBLAS's kernel selection where OpenBLAS fell back to SSE3 on a newer CPU.
        .target(name: "COpenBLASKernel", linkerSettings: [.linkedLibrary("dl")]),
        // Kernels for 16-lane AVX-512, compiled per function for it and chosen at run time.
        .target(name: "CAVX512Kernels"),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZLib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CFreeType", pkgConfig: "freetype2", providers: [.apt(["libfreetype-dev"])]),
        .target(name: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "CPNG", linkerSettings: [.linkedLibrary("png16")]),
        .target(name: "CTIFF", linkerSettings: [.linkedLibrary("tiff")]),

        // MARK: Swift layers
        .target(name: "Tensor", dependencies: ["CBLAS", "COpenBLASKernel", "CAVX512Kernels"]),
        .target(name: "NN", dependencies: ["Tensor"]),
        .target(name: "IO", dependencies: ["Tensor", "CHDF5", "CJPEG", "CPNG", "CTIFF", "CZLib"]),
        .target(name: "CLIP", dependencies: ["Tensor", "NN", "IO"]),
        .target(name: "Data", dependencies: ["Tensor", "IO"], resources: [.copy("Resources/classnames")]),
        .target(name: "Model", dependencies: ["Tensor", "NN", "CLIP"]),
        .target(name: "Inference", dependencies: ["Tensor", "NN", "IO", "CLIP", "Data", "Model", "CFreeType",
                                                  .product(name: "Yams", package: "Yams")]),
        .target(name: "Distributed", dependencies: ["CMPIShim", "Tensor", "NN"]),
        // `import FGASeg`: the inference layer and the layers its API uses, in one import.
        .target(name: "FGASeg", dependencies: ["CLIP", "Inference", "IO", "Model", "Tensor"]),
        .target(name: "Training", dependencies: ["Tensor", "NN", "IO", "CLIP", "Data", "Model", "Inference", "Distributed", "CLISupport"]),

        // MARK: executables
        .target(name: "CLISupport", dependencies: ["Tensor", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                plugins: ["BuildInfo"]),
        .plugin(name: "BuildInfo", capability: .buildTool()),
        .executableTarget(
            name: "fgaseg-prepare",
            dependencies: ["Data", "IO", "CLISupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Executables/fgaseg-prepare"),
        .executableTarget(
            name: "fgaseg-train",
            dependencies: ["Training", "Inference", "Distributed", "IO", "CLISupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Executables/fgaseg-train"),
        .executableTarget(
            name: "fgaseg-eval",
            dependencies: ["Training", "Inference", "Distributed", "Data", "IO", "Model", "Tensor", "CLISupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Executables/fgaseg-eval"),
        .executableTarget(
            name: "fgaseg-segment",
            dependencies: ["Inference", "Data", "IO", "CLISupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Executables/fgaseg-segment"),
        .executableTarget(
            name: "fgaseg-export",
            dependencies: ["Inference", "CLISupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Executables/fgaseg-export"),
        .executableTarget(
            name: "fgaseg-bench",
            dependencies: ["Tensor", "NN", "IO", "CLIP", "Data", "Model", "Inference", "Distributed", "Training", "CBLAS", "CLISupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Executables/fgaseg-bench"),

        // MARK: tests
        .target(name: "TestSupport", dependencies: ["Tensor", "NN"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "IO", "CBLAS", "COpenBLASKernel", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Tensor", "IO", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "IOTests", dependencies: ["IO", "Tensor"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CLIPTests", dependencies: ["CLIP", "NN", "Tensor", "IO", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed"]),
        .testTarget(name: "DataTests", dependencies: ["Data", "IO", "Tensor"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "NN", "Tensor", "IO", "Distributed", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Inference", "Distributed", "IO", "Data", "CLIP", "Model", "Tensor", "TestSupport",
                                                         .product(name: "Yams", package: "Yams")],
                    resources: [.copy("Fixtures")]),
        // Uses the package as a client would: `import FGASeg` and nothing else.
        .testTarget(name: "LibraryTests", dependencies: ["FGASeg"]),
        // Seeded mutations of every file format the tools read (FGASEG_FUZZ_COUNT inputs per format).
        .testTarget(name: "FuzzTests", dependencies: ["Training", "Inference", "Data", "IO", "NN", "Tensor", "TestSupport"]),
        // Multi-rank tests: a release-built executable that ci/mpi-tests runs under mpirun.
        .executableTarget(name: "fgaseg-mpi-selftest", dependencies: ["Distributed", "NN", "Tensor"],
                          path: "Tests/MPISelfTest"),
    ]
)

// The code-generation flag on every Swift target (the C shims keep the compiler's defaults).
let cTargets: Set = ["CMPIShim", "COpenBLASKernel", "CAVX512Kernels", "CJPEG", "CPNG", "CTIFF"]
// `--version` names it through a compilation condition (BuildDescription.swift).
if let targetCPU {
    let condition = ["haswell": "HASWELL", "native": "NATIVE", "x86-64": "X86_64"][targetCPU] ?? "OTHER"
    for target in package.targets where target.type != .system && target.type != .plugin && !cTargets.contains(target.name) {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-target-cpu", targetCPU]),
                                                               .define("FGASEG_TARGET_CPU_" + condition)]
    }
}
