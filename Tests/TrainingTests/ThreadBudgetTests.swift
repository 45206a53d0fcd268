import Foundation
import Testing
@testable import Training
@testable import Inference

@Suite(.serialized) struct ThreadBudgetTests {
    /// The configured number wins, then FGASEG_THREADS, then the CPUs available divided by the
    /// ranks on this host, the smaller of affinity mask and cgroup quota counting.
    @Test func precedenceAndDivision() {
        let mpi = ["OMPI_COMM_WORLD_LOCAL_SIZE": "4"]
        #expect(ThreadBudget.resolve(configured: 3, environment: ["FGASEG_THREADS": "8"], affinityCPUs: 64, quotaCPUs: nil)
                == ThreadBudget(threads: 3, source: "configured threads: 3"))
        #expect(ThreadBudget.resolve(configured: 0, environment: ["FGASEG_THREADS": "8"], affinityCPUs: 64, quotaCPUs: 2).threads == 8)
        let byMask = ThreadBudget.resolve(configured: 0, environment: mpi, affinityCPUs: 64, quotaCPUs: nil)
        #expect(byMask == ThreadBudget(threads: 16, source: "64 CPU(s) in the affinity mask / 4 ranks on this host"))
        let byQuota = ThreadBudget.resolve(configured: 0, environment: mpi, affinityCPUs: 64, quotaCPUs: 7.5)
        #expect(byQuota.threads == 2 && byQuota.source.contains("cgroup CPU quota of 7.50"))
        #expect(ThreadBudget.resolve(configured: 0, environment: ["SLURM_NTASKS_PER_NODE": "8"], affinityCPUs: 2, quotaCPUs: nil).threads == 1)
        // A malformed FGASEG_THREADS is not trusted.
        #expect(ThreadBudget.resolve(configured: 0, environment: ["FGASEG_THREADS": "lots"], affinityCPUs: 6, quotaCPUs: nil).threads == 6)
    }

    @Test func cgroupQuotaText() {
        #expect(ThreadBudget.quotaCPUs(cpuMax: "150000 100000\n") == 1.5)
        #expect(ThreadBudget.quotaCPUs(cpuMax: "max 100000\n") == nil)
        #expect(ThreadBudget.quotaCPUs(cpuMax: "-1 100000") == nil)
    }

    @Test func cpuLists() {
        #expect(ThreadBudget.cpuCount(list: "0-3,8,10-11\n") == 7)
        #expect(ThreadBudget.cpuCount(list: " 0") == 1)
        #expect(ThreadBudget.cpuCount(list: "3-1") == nil && ThreadBudget.cpuCount(list: "x") == nil && ThreadBudget.cpuCount(list: "") == nil)
        let here = ThreadBudget.affinityCPUs()
        #expect(here >= 1 && here <= ProcessInfo.processInfo.processorCount)
    }

    /// Under `taskset -c 0` the process sees one CPU.
    @Test func tasksetIsRespected() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
        process.arguments = ["-c", "0", "/bin/grep", "Cpus_allowed_list", "/proc/self/status"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let line = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let list = try #require(line.split(separator: ":").last)
        #expect(ThreadBudget.cpuCount(list: String(list)) == 1, "\(line)")
    }
}
