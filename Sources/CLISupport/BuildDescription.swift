import Tensor

/// What `--version` prints: the package version, the git revision of the build (`-dirty` with
/// uncommitted changes), how it was compiled, and the BLAS it runs on.
public enum BuildDescription {
    /// The package version.
    public static let version = "0.9.0"

    /// `0.9.0 (git 4273175abcde; release build, Swift 6.3, -target-cpu haswell; OpenBLAS …)`.
    public static var text: String {
        "\(version) (git \(buildRevision); \(mode) build, Swift \(swiftVersion), \(codeGeneration); \(BLAS.configuration))"
    }

    static var mode: String {
        #if DEBUG
        "debug"
        #else
        "release"
        #endif
    }

    static var swiftVersion: String {
        #if compiler(>=6.4)
        "6.4 or later"
        #elseif compiler(>=6.3)
        "6.3"
        #elseif compiler(>=6.2)
        "6.2"
        #elseif compiler(>=6.1)
        "6.1"
        #else
        "6.0"
        #endif
    }

    /// The `-target-cpu` Package.swift chose (FGASEG_TARGET_CPU), as its compilation condition.
    static var codeGeneration: String {
        #if FGASEG_TARGET_CPU_HASWELL
        "-target-cpu haswell"
        #elseif FGASEG_TARGET_CPU_NATIVE
        "-target-cpu native"
        #elseif FGASEG_TARGET_CPU_X86_64
        "-target-cpu x86-64"
        #elseif FGASEG_TARGET_CPU_OTHER
        "-target-cpu from FGASEG_TARGET_CPU"
        #else
        "the compiler's default CPU"
        #endif
    }
}
