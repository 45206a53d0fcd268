import Foundation
import Testing

/// Runs a parser over seeded mutations of valid inputs and checks that every input ends in a
/// value or a thrown error: a trap or a signal ends the test process (the test's name and the
/// seed reproduce it), an input that takes longer than `FuzzRun.deadline` fails the test.
///
/// Environment: `FGASEG_FUZZ_COUNT` inputs per format (default 300, what CI runs),
/// `FGASEG_FUZZ_SEED` (default 2026), `FGASEG_FUZZ_KEEP` a folder where an input is written
/// before it is parsed (the last file there reproduces a crash).
struct FuzzRun {
    static let deadline: TimeInterval = 30

    static var count: Int { ProcessInfo.processInfo.environment["FGASEG_FUZZ_COUNT"].flatMap(Int.init) ?? 300 }
    static var seed: UInt64 { ProcessInfo.processInfo.environment["FGASEG_FUZZ_SEED"].flatMap(UInt64.init) ?? 2026 }

    /// What the run saw.
    struct Summary: CustomStringConvertible {
        var format: String
        var inputs = 0, rejected = 0, accepted = 0
        var slowest: TimeInterval = 0
        var peakResidentBytes = 0
        /// The first line of each distinct error message, with how often it came.
        var errors: [String: Int] = [:]

        var description: String {
            let common = errors.sorted { $0.value > $1.value }.prefix(3).map { "\($0.value)× \($0.key)" }.joined(separator: " | ")
            return String(format: "fuzz %@: %d inputs, %d clean errors, %d accepted, slowest %.3f s, peak RSS %.0f MB; most common: %@",
                          format, inputs, rejected, accepted, slowest, Double(peakResidentBytes) / 1_048_576, common)
        }
    }

    /// Mutates `seeds` `count` times (seed from the format's name and `FGASEG_FUZZ_SEED`) and hands
    /// each input to `parse`, which throws for a clean rejection. Every other input first goes
    /// through `repair` (e.g. recomputed chunk checksums), so that mutations reach past the
    /// format's own integrity checks.
    static func run(format: String, seeds: [[UInt8]], tokens: [[UInt8]] = [], repair: ([UInt8]) -> [UInt8] = { $0 },
                    parse: @escaping ([UInt8]) throws -> Void) -> Summary {
        var mutator = Mutator(seed: seed ^ format.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 })
        let keep = ProcessInfo.processInfo.environment["FGASEG_FUZZ_KEEP"]
        var summary = Summary(format: format)
        for index in 0..<count {
            let mutated = mutator.mutate(seeds[index % seeds.count], tokens: tokens)
            let input = index % 2 == 1 ? repair(mutated) : mutated
            if let keep {
                try? Data(input).write(to: URL(fileURLWithPath: "\(keep)/\(format)-last"))
            }
            let start = Date()
            let outcome = runWithDeadline(Unchecked { try parse(input) })
            let elapsed = Date().timeIntervalSince(start)
            summary.inputs += 1
            summary.slowest = max(summary.slowest, elapsed)
            switch outcome {
            case .accepted: summary.accepted += 1
            case .rejected(let message):
                summary.rejected += 1
                #expect(!message.isEmpty, "\(format) input \(index): an error without a message")
                summary.errors[genericLine(message), default: 0] += 1
            case .timedOut:
                Issue.record("\(format) input \(index) (seed \(seed)) did not finish within \(deadline) s")
                exit(1)  // the parser is still running on its thread; nothing after this is trustworthy
            }
        }
        summary.peakResidentBytes = peakResidentBytes()
        print(summary)
        return summary
    }

    enum Outcome: Sendable { case accepted, rejected(String), timedOut }

    /// A parser call handed to one worker thread while the caller waits: never shared.
    private struct Unchecked: @unchecked Sendable { let body: () throws -> Void }

    private static func runWithDeadline(_ call: Unchecked) -> Outcome {
        final class Box: @unchecked Sendable { var outcome = Outcome.timedOut }
        let box = Box(), done = DispatchSemaphore(value: 0)
        let thread = Thread {
            do { try call.body(); box.outcome = .accepted } catch { box.outcome = .rejected("\(error)") }
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        return done.wait(timeout: .now() + deadline) == .success ? box.outcome : .timedOut
    }

    /// The message's first line with paths and numbers replaced, so that messages group by kind.
    private static func genericLine(_ message: String) -> String {
        let line = message.split(separator: "\n").first.map(String.init) ?? message
        return line.replacingOccurrences(of: #"/[^\s:'"]+"#, with: "PATH", options: .regularExpression)
            .replacingOccurrences(of: #"[0-9]+"#, with: "N", options: .regularExpression)
            .prefix(120).description
    }

    /// The process's peak resident set (`getrusage`, kilobytes on Linux).
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
