import Foundation
import Tensor

/// Threads per rank for every kernel, GEMMs included: the configured number, or the host's cores
/// divided by the ranks on this host (`OMPI_COMM_WORLD_LOCAL_SIZE`, `SLURM_NTASKS_PER_NODE`), at least 1.
public enum ThreadBudget {
    public static func apply(configured: Int) -> Int {
        let environment = ProcessInfo.processInfo.environment
        let local = Int(environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? environment["SLURM_NTASKS_PER_NODE"] ?? "") ?? 1
        let threads = configured > 0 ? configured : max(1, ProcessInfo.processInfo.activeProcessorCount / max(local, 1))
        Parallel.threadCount = threads
        return threads
    }
}
