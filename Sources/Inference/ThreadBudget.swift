import Foundation
import Tensor

/// How many threads each rank gives its kernels (GEMMs included), decided in one place:
/// 1. the configuration's `threads` (or a tool's flag) when > 0;
/// 2. else the environment variable `FGASEG_THREADS` (set by the `Launch/` scripts);
/// 3. else the CPUs this process may use — its CPU affinity mask (`taskset`, Slurm's and Open MPI's
///    binding) and its cgroup CPU quota (containers, Slurm's cgroup limits), whichever is smaller —
///    divided by the ranks on this host (`OMPI_COMM_WORLD_LOCAL_SIZE`, `SLURM_NTASKS_PER_NODE`),
///    at least 1. When the launcher binds each rank to its own CPUs the division under-counts;
///    `FGASEG_THREADS` then says the real number.
public struct ThreadBudget: Equatable, Sendable {
    /// Threads per rank.
    public let threads: Int
    /// Which rule decided, for the start-up line (e.g. "FGASEG_THREADS=4").
    public let source: String

    /// The budget for `configured` threads (0 = not configured), `environment`, and the CPUs the
    /// process may use (`affinityCPUs`; `quotaCPUs` nil when there is no cgroup quota).
    public static func resolve(configured: Int, environment: [String: String], affinityCPUs: Int, quotaCPUs: Double?) -> ThreadBudget {
        if configured > 0 { return ThreadBudget(threads: configured, source: "configured threads: \(configured)") }
        if let text = environment["FGASEG_THREADS"] {
            if let value = Int(text.trimmingCharacters(in: .whitespaces)), value > 0 {
                return ThreadBudget(threads: value, source: "FGASEG_THREADS=\(value)")
            }
        }
        let localRanks = ["OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"].lazy
            .compactMap { environment[$0].flatMap { Int($0) } }.first { $0 > 0 } ?? 1
        var cpus = max(1, affinityCPUs)
        var what = "\(cpus) CPU(s) in the affinity mask"
        if let quotaCPUs, Int(quotaCPUs.rounded(.up)) < cpus {
            cpus = max(1, Int(quotaCPUs.rounded(.up)))
            what = String(format: "a cgroup CPU quota of %.2f", quotaCPUs)
        }
        let threads = max(1, cpus / localRanks)
        return ThreadBudget(threads: threads, source: localRanks > 1 ? "\(what) / \(localRanks) ranks on this host" : what)
    }

    /// Resolves the budget for this process and applies it to ``Parallel/threadCount``.
    @discardableResult
    public static func apply(configured: Int) -> ThreadBudget {
        let budget = resolve(configured: configured, environment: ProcessInfo.processInfo.environment,
                             affinityCPUs: affinityCPUs(), quotaCPUs: cgroupQuotaCPUs())
        Parallel.threadCount = budget.threads
        return budget
    }

    /// The number of CPUs in this process's affinity mask (`Cpus_allowed_list` of
    /// `/proc/self/status`; the online CPUs when it cannot be read).
    public static func affinityCPUs() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
        if let line, let count = cpuCount(list: String(line.dropFirst("Cpus_allowed_list:".count))) { return count }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// The number of CPUs in a Linux CPU list such as "0-3,8,10-11" (nil when malformed).
    static func cpuCount(list: String) -> Int? {
        var count = 0
        for part in list.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0) }
            switch bounds.count {
            case 1: guard bounds[0] != nil else { return nil }; count += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], low <= high else { return nil }
                count += high - low + 1
            default: return nil
            }
        }
        return count > 0 ? count : nil
    }

    /// The CPU quota of this process's cgroup (v2 `cpu.max`, or v1 `cpu.cfs_quota_us` /
    /// `cpu.cfs_period_us`) in CPUs, nil when unlimited or unknown.
    public static func cgroupQuotaCPUs() -> Double? {
        let read = { (path: String) in try? String(contentsOfFile: path, encoding: .utf8) }
        let membership = read("/proc/self/cgroup") ?? ""
        // cgroup v2: a line "0::/path".
        if let line = membership.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) {
            let path = String(line.dropFirst(3))
            for folder in ["/sys/fs/cgroup" + path, "/sys/fs/cgroup"] {
                if let text = read(folder + "/cpu.max") { return quotaCPUs(cpuMax: text) }
            }
        }
        if let quota = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), let period = read("/sys/fs/cgroup/cpu/cpu.cfs_period_us") {
            return quotaCPUs(cpuMax: "\(quota.trimmingCharacters(in: .whitespacesAndNewlines)) \(period)")
        }
        return nil
    }

    /// Parses cgroup v2 `cpu.max` ("QUOTA PERIOD" or "max PERIOD"; v1's quota is -1 when unlimited).
    static func quotaCPUs(cpuMax text: String) -> Double? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count >= 2, let quota = Double(fields[0]), let period = Double(fields[1]), quota > 0, period > 0 else { return nil }
        return quota / period
    }
}
