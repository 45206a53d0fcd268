import CAVX512Kernels

/// Which implementation of a vectorised kernel runs: the portable Swift one, or a C one for
/// AVX-512 (CAVX512Kernels). The Swift code is compiled for AVX2 (8 lanes) so that one binary
/// runs on every x86-64 server since 2013; where the CPU also has AVX-512, the C kernels use 16
/// lanes. Operations take it as an argument that defaults to ``fastest``, so tests and
/// benchmarks can run both on one machine.
public enum SIMDKernel: Sendable {
    /// Swift on 8-lane vectors (AVX2 on x86-64).
    case portable
    /// C with AVX-512F on 16-lane vectors. Runs only where ``avx512IsAvailable``.
    case avx512

    /// Whether this CPU and its OS support AVX-512F.
    public static let avx512IsAvailable = fgaseg_avx512_available() != 0
    /// AVX-512 where available, else portable.
    public static let fastest: SIMDKernel = avx512IsAvailable ? .avx512 : .portable

    /// Stops with a message naming `operation` if this is ``avx512`` on a CPU without AVX-512F,
    /// where its first instruction would end the process with SIGILL and no explanation.
    @usableFromInline
    func requireSupported(by operation: StaticString) {
        precondition(self != .avx512 || SIMDKernel.avx512IsAvailable,
                     "\(operation): the AVX-512 kernel was requested on a CPU without AVX-512F")
    }
}
