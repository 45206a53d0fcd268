// Multi-rank self-test of the Distributed layer, run by ci/mpi-tests under `mpirun -n 1, 2, 4`.
//
//   fgaseg-mpi-selftest collectives   all-reduce/broadcast/all-gather/non-blocking/shared-memory checks
//   fgaseg-mpi-selftest abort         the last rank throws; the job must end (non-zero) at once
//   fgaseg-mpi-selftest die           the last rank kills itself with SIGKILL; likewise
//   fgaseg-mpi-selftest ddp           data-parallel training equals single-process training;
//                                     replicas stay identical and a perturbed one is detected
//   fgaseg-mpi-selftest train-throw   data-parallel training where the last rank throws at step 3
//   fgaseg-mpi-selftest train-kill    ... where the last rank is SIGKILLed at step 3
//   fgaseg-mpi-selftest hang          the last rank stalls before a collective; the watchdog ends the job
//   fgaseg-mpi-selftest stop          the last rank is stopped (SIGSTOP) before a collective; the watchdog names it
//
// Each rank prints "rank R: N passed, M failed" and exits non-zero when a check failed.
import Distributed
import Foundation

struct SelfTestFailure: Error, CustomStringConvertible {
    let description: String
}

final class Checks {
    let rank: Int
    var passed = 0
    var failed = 0
    init(rank: Int) { self.rank = rank }

    func expect(_ condition: Bool, _ what: @autoclosure () -> String) {
        if condition {
            passed += 1
        } else {
            failed += 1
            print("rank \(rank): FAILED \(what())")
        }
    }
}

/// Value rank `rank` contributes at index `i`; small integers, so float sums are exact.
func contribution(_ i: Int, rank: Int) -> Int { (i % 1000) + rank }

func expectedSum(_ i: Int, size: Int) -> Int { size * (i % 1000) + size * (size - 1) / 2 }

func checkAllReduce<Element: ReducibleElement & Equatable>(
    _ type: Element.Type, convert: (Int) -> Element, on world: any Communicator, _ checks: Checks
) throws {
    for count in [0, 1, 1000, 25 << 20] {
        var values = (0..<count).map { convert(contribution($0, rank: world.rank)) }
        try world.allReduce(&values, .sum)
        let wrong = (0..<count).first { values[$0] != convert(expectedSum($0, size: world.size)) }
        checks.expect(wrong == nil, "all-reduce sum \(type) count \(count): index \(wrong ?? -1) is \(wrong.map { "\(values[$0])" } ?? "")")
    }
    let maximum = try world.allReduce(convert(world.rank * 3), .max)
    checks.expect(maximum == convert((world.size - 1) * 3), "all-reduce max \(type)")
    let minimum = try world.allReduce(convert(world.rank + 5), .min)
    checks.expect(minimum == convert(5), "all-reduce min \(type)")
}

func checkNonBlocking(on world: any Communicator, _ checks: Checks) throws {
    let count = 1 << 20
    let request = ReductionRequest()
    for useTest in [false, true] {
        var values = (0..<count).map { Float(contribution($0, rank: world.rank)) }
        try values.withUnsafeMutableBufferPointer { buffer in
            try world.startAllReduce(buffer, .sum, request: request)
            if useTest {
                var polls = 0
                while try !request.test() { polls += 1 }
                _ = polls
            } else {
                try request.wait()
            }
        }
        let wrong = (0..<count).first { values[$0] != Float(expectedSum($0, size: world.size)) }
        checks.expect(wrong == nil, "non-blocking all-reduce completed by \(useTest ? "test" : "wait"): index \(wrong ?? -1)")
        checks.expect(try request.test(), "request is complete afterwards")
    }
}

func checkBroadcastAndGather(on world: any Communicator, _ checks: Checks) throws {
    for root in world.size > 1 ? [0, world.size - 1] : [0] {
        for count in [0, 1, 1000, 25 << 20] {
            var values = [Float](repeating: world.rank == root ? 0 : -1, count: count)
            if world.rank == root { for i in 0..<count { values[i] = Float(i % 4093) } }
            try world.broadcast(&values, root: root)
            let wrong = (0..<count).first { values[$0] != Float($0 % 4093) }
            checks.expect(wrong == nil, "broadcast \(count) floats from rank \(root): index \(wrong ?? -1)")
        }
    }
    let gathered = try world.allGather(Int64(world.rank * 10 + 7))
    checks.expect(gathered == (0..<world.size).map { Int64($0 * 10 + 7) }, "all-gather of one Int64: \(gathered)")
    // A larger all-gather: 1000 doubles per rank.
    let mine = (0..<1000).map { Double($0) + Double(world.rank) * 0.5 }
    var all = [Double](repeating: .nan, count: 1000 * world.size)
    try mine.withUnsafeBytes { send in try all.withUnsafeMutableBytes { try world.allGather(send, into: $0) } }
    let expected = (0..<world.size).flatMap { r in (0..<1000).map { Double($0) + Double(r) * 0.5 } }
    checks.expect(all == expected, "all-gather of 1000 doubles per rank")
}

/// The host-shared-memory all-reduce: exact sums, for counts that do not divide evenly over the
/// ranks (and fewer floats than ranks), repeated on the same window; on one host or several
/// (ci/bench/two-hosts runs it on two simulated hosts).
func checkSharedMemoryAllReduce(on world: any Communicator, _ checks: Checks) throws {
    guard let mpi = world as? MPICommunicator else { return }
    for count in [3, 1001, 3_000_017] {
        let reduction = try SharedMemoryAllReduce(communicator: mpi, count: count)
        let launcherLocalSize = Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? world.size
        checks.expect(reduction.localSize == launcherLocalSize && reduction.hosts * reduction.localSize == world.size,
                      "\(reduction.localSize) rank(s) per host × \(reduction.hosts) host(s), launcher says \(launcherLocalSize) of \(world.size)")
        let buffer = reduction.buffer.pointer
        for round in 0..<2 {
            for i in 0..<count { buffer[i] = Float(contribution(i + round, rank: world.rank)) }
            try reduction.allReduce()
            let wrong = (0..<count).first { buffer[$0] != Float(expectedSum($0 + round, size: world.size)) }
            checks.expect(wrong == nil, "shared-memory all-reduce of \(count) floats, round \(round): index \(wrong ?? -1) is \(wrong.map { buffer[$0] } ?? 0)")
        }
    }
}

func runCollectives(_ world: any Communicator) throws -> Int32 {
    let checks = Checks(rank: world.rank)
    try checkAllReduce(Float.self, convert: { Float($0) }, on: world, checks)
    try checkAllReduce(Double.self, convert: { Double($0) }, on: world, checks)
    try checkAllReduce(Int64.self, convert: { Int64($0) }, on: world, checks)
    try checkNonBlocking(on: world, checks)
    try checkBroadcastAndGather(on: world, checks)
    try checkSharedMemoryAllReduce(on: world, checks)
    try world.barrier()
    checks.expect(world.size == Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] ?? "1"),
                  "world size \(world.size) matches the launcher")
    print("rank \(world.rank): \(checks.passed) passed, \(checks.failed) failed")
    return checks.failed == 0 ? 0 : 1
}

let mode = CommandLine.arguments.dropFirst().first ?? "collectives"
let world: any Communicator
do {
    world = try makeWorldCommunicator()
} catch {
    print("cannot start: \(error)")
    exit(2)
}

switch mode {
case "collectives":
    let status = world.abortingOnError { try runCollectives(world) }
    try? world.finalize()
    exit(status)
case "ddp":
    let status = world.abortingOnError { () throws -> Int32 in
        let checks = Checks(rank: world.rank)
        try runDataParallelChecks(world, checks)
        print("rank \(world.rank): \(checks.passed) passed, \(checks.failed) failed")
        return checks.failed == 0 ? 0 : 1
    }
    try? world.finalize()
    exit(status)
case "train-throw", "train-kill":
    world.abortingOnError {
        _ = try trainDataParallel(world, optimizer: .adamw, overlap: .off, microBatches: 1, steps: 6, failAtStep: 3) {
            guard world.rank == world.size - 1 else { return }
            if mode == "train-kill" { kill(getpid(), SIGKILL) }
            throw SelfTestFailure(description: "rank \(world.rank) failed at step 3 (deliberate)")
        }
    }
    exit(0)
case "hang", "stop":
    // The last rank never arrives at the barrier: busy elsewhere (hang) or stopped (SIGSTOP).
    let watchdog = world.abortingOnError { try CollectiveWatchdog(communicator: world, timeout: .fixed(3)) }
    if world.rank == world.size - 1 {
        if mode == "stop" { raise(SIGSTOP) }
        sleep(60)
    }
    world.abortingOnError { try watchdog.guarding("barrier", step: 3) { try world.barrier() } }
    exit(0)
case "abort":
    // The last rank fails; the others wait in a collective that can never complete.
    world.abortingOnError {
        if world.rank == world.size - 1 { throw SelfTestFailure(description: "deliberate failure on the last rank") }
        try world.barrier()
    }
    exit(0)
case "die":
    if world.rank == world.size - 1 { kill(getpid(), SIGKILL) }
    world.abortingOnError { try world.barrier() }
    exit(0)
default:
    print("unknown mode \(mode); expected collectives, ddp, abort, die, train-throw, train-kill, hang or stop")
    exit(2)
}
