// swift-tools-version: 6.0
//
// FGASeg.swift — open-vocabulary semantic segmentation (FGAseg) trained data-parallel on MPI.
//
// Layers (../shared/DESIGN.md §2); a module imports only the layers above it:
//   C shims / system libraries   COpenMPI → CMPIShim, CBLAS, CHDF5, CJPEG, CPNG
//   Tensor                       storage, kernels, reverse-mode autodiff            (CBLAS)
//   NN                           modules, layers, AdamW, flat parameter buffers
//   IO                           HDF5 files, JPEG/PNG codecs, safetensors, gzip     (CHDF5 CJPEG CPNG CZLib)
//   CLIP                         tokenizer, text and vision transformers, HF weights
//   Data                         class names, datasets, shards, augmentation, the training loader
//   Model                        FGAseg modules: P2Tformer, GCS/LCS costs, spatial and class aggregation
//   Distributed                  Communicator (MPI | single process), GradientReducer (CMPIShim)
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
        .library(name: "FGASeg", targets: ["Tensor", "NN", "IO", "CLIP", "Data", "Model", "Distributed"]),
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
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZLib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "CPNG", linkerSettings: [.linkedLibrary("png16")]),
        .target(name: "CTIFF", linkerSettings: [.linkedLibrary("tiff")]),

        // MARK: Swift layers
        .target(name: "Tensor", dependencies: ["CBLAS"]),
        .target(name: "NN", dependencies: ["Tensor"]),
        .target(name: "IO", dependencies: ["Tensor", "CHDF5", "CJPEG", "CPNG", "CTIFF", "CZLib"]),
        .target(name: "CLIP", dependencies: ["Tensor", "NN", "IO"]),
        .target(name: "Data", dependencies: ["Tensor", "IO"], resources: [.copy("Resources/classnames")]),
        .target(name: "Model", dependencies: ["Tensor", "NN", "CLIP"]),
        .target(name: "Distributed", dependencies: ["CMPIShim", "Tensor", "NN"]),
        .target(name: "Training", dependencies: ["Tensor", "NN", "IO", "CLIP", "Data", "Model", "Distributed", "CLISupport",
                                                 .product(name: "Yams", package: "Yams")]),

        // MARK: executables
        .target(name: "CLISupport"),
        .executableTarget(
            name: "fgaseg-prepare",
            dependencies: ["Data", "IO", "CLISupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Executables/fgaseg-prepare"),
        .executableTarget(
            name: "fgaseg-train",
            dependencies: ["Training", "Distributed", "IO", "CLISupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Executables/fgaseg-train"),
        .executableTarget(
            name: "fgaseg-eval",
            dependencies: ["Training", "Distributed", "Data", "IO", "Model", "Tensor", "CLISupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Executables/fgaseg-eval"),
        .executableTarget(
            name: "fgaseg-segment",
            dependencies: ["Training", "Data", "IO", "Tensor", "CLISupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Executables/fgaseg-segment"),
        .executableTarget(
            name: "fgaseg-export",
            dependencies: ["Training", "CLISupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Executables/fgaseg-export"),
        .executableTarget(
            name: "fgaseg-bench",
            dependencies: ["Tensor", "NN", "IO", "CLIP", "Data", "Model", "Distributed", "Training", "CBLAS", "CLISupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Executables/fgaseg-bench"),

        // MARK: tests
        .target(name: "TestSupport", dependencies: ["Tensor", "NN"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "IO", "CBLAS", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Tensor", "IO", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "IOTests", dependencies: ["IO", "Tensor"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CLIPTests", dependencies: ["CLIP", "NN", "Tensor", "IO", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed"]),
        .testTarget(name: "DataTests", dependencies: ["Data", "IO", "Tensor"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "NN", "Tensor", "IO", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Distributed", "IO", "Data", "CLIP", "Model", "Tensor"],
                    resources: [.copy("Fixtures")]),
        // Seeded mutations of every file format the tools read (FGASEG_FUZZ_COUNT inputs per format).
        .testTarget(name: "FuzzTests", dependencies: ["Training", "Data", "IO", "NN", "Tensor"]),
        // Multi-rank tests: a release-built executable that ci/mpi-tests runs under mpirun.
        .executableTarget(name: "fgaseg-mpi-selftest", dependencies: ["Distributed", "NN", "Tensor"],
                          path: "Tests/MPISelfTest"),
    ]
)

// The code-generation flag on every Swift target (the C shims keep the compiler's defaults).
let cTargets: Set = ["CMPIShim", "CJPEG", "CPNG", "CTIFF"]
if let targetCPU {
    for target in package.targets where target.type != .system && !cTargets.contains(target.name) {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-target-cpu", targetCPU])]
    }
}
