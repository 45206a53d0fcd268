import COpenBLASKernel
import Foundation
import Testing
@testable import Tensor

/// The correction of OpenBLAS's kernel choice on CPUs newer than the OpenBLAS release (`Sources/COpenBLASKernel`).
@Suite struct OpenBLASKernelTests {
    func replacement(_ chosen: String, requested: String? = nil, cpuTier: Int32) -> String? {
        let result = requested.map { requested in
            requested.withCString { fgaseg_openblas_replacement_core(chosen, $0, cpuTier) }
        } ?? fgaseg_openblas_replacement_core(chosen, nil, cpuTier)
        return result.map { String(cString: $0) }
    }

    @Test func kernelFamiliesAreRankedByVectorExtension() {
        #expect(fgaseg_openblas_core_tier("Prescott") == 0)
        #expect(fgaseg_openblas_core_tier("NEHALEM") == 0)
        #expect(fgaseg_openblas_core_tier("Sandybridge") == 1)
        #expect(fgaseg_openblas_core_tier("Haswell") == 2)
        #expect(fgaseg_openblas_core_tier("Zen") == 2)
        #expect(fgaseg_openblas_core_tier("SkylakeX") == 3)
        #expect(fgaseg_openblas_core_tier("Cooperlake") == 3)
        #expect(fgaseg_openblas_core_tier("neoversen1") == -1)
        #expect(fgaseg_openblas_core_tier(nil) == -1)
    }

    @Test func onlyANarrowerKernelIsReplacedAndOnlyWhenTheUserChoseNone() {
        // OpenBLAS 0.3.21 on a CPU it does not know: its SSE3 fallback.
        #expect(replacement("Prescott", cpuTier: 3) == "SkylakeX")
        #expect(replacement("Prescott", cpuTier: 2) == "Haswell")
        #expect(replacement("Nehalem", cpuTier: 1) == "Sandybridge")
        #expect(replacement("Haswell", cpuTier: 3) == "SkylakeX")
        // As wide as the CPU, or wider than this table knows: kept.
        #expect(replacement("Prescott", cpuTier: 0) == nil)
        #expect(replacement("Haswell", cpuTier: 2) == nil)
        #expect(replacement("Cooperlake", cpuTier: 3) == nil)
        #expect(replacement("Prescott", cpuTier: -1) == nil)
        #expect(replacement("Prescott", cpuTier: 4) == nil)
        #expect(replacement("ThunderX2T99", cpuTier: 3) == nil)
        // OPENBLAS_CORETYPE set, even to a narrower kernel or to nothing: the user's choice stands.
        #expect(replacement("Prescott", requested: "Prescott", cpuTier: 3) == nil)
        #expect(replacement("Haswell", requested: "Haswell", cpuTier: 3) == nil)
        #expect(replacement("Prescott", requested: "", cpuTier: 3) == nil)
    }

    /// In this process: the kernel in use is as wide as the CPU allows, unless OpenBLAS was built
    /// for one CPU or the environment chose a kernel.
    @Test func theKernelInUseIsAsWideAsTheCPU() {
        let cpu = Int(fgaseg_openblas_cpu_tier())
        let inUse = Int(fgaseg_openblas_core_tier(BLAS.kernel))
        guard BLAS.configuration.contains("DYNAMIC_ARCH"), ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              cpu >= 0, inUse >= 0 else { return }
        #expect(inUse >= cpu, "OpenBLAS kernel \(BLAS.kernel) is narrower than this CPU allows (\(BLAS.configuration))")
        if let replaced = BLAS.replacedKernel {
            #expect(fgaseg_openblas_core_tier(replaced) < fgaseg_openblas_core_tier(BLAS.kernel))
            #expect(BLAS.configuration.contains("replacing OpenBLAS's own choice \(replaced)"))
        }
    }
}
