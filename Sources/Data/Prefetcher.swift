import Foundation

/// Produces items 0, 1, 2, … (up to `count`, or forever) on background threads, at most
/// `depth` items ahead of the consumer, and hands them out in order. An item's content must
/// depend only on its number, so the result is the same whatever the thread timing.
/// A producer error is delivered (rethrown) when the consumer reaches that item.
///
/// The worker threads keep the prefetcher alive until they exit: an endless stream, or a consumer
/// that stops early, must call ``stop()``.
public final class Prefetcher<Item>: @unchecked Sendable {
    private let produce: @Sendable (Int) throws -> Item
    private let count: Int?
    private let depth: Int
    private let condition = NSCondition()
    private var ready: [Int: Result<Item, Error>] = [:]
    private var nextToClaim: Int
    private var nextToTake: Int
    private var stopped = false
    private var threads: [Thread] = []
    /// Seconds the consumer spent waiting for items (data-wait time).
    public private(set) var waitSeconds: Double = 0

    /// - Parameters:
    ///   - start: the first item number (e.g. the iteration a resumed run starts at).
    ///   - count: total number of items, or nil for an endless stream.
    ///   - workers: background threads (0 = produce on the consumer's thread).
    ///   - depth: how many items may be ready ahead of the consumer.
    public init(start: Int = 0, count: Int? = nil, workers: Int, depth: Int, produce: @escaping @Sendable (Int) throws -> Item) {
        self.produce = produce
        self.count = count
        self.depth = max(1, depth)
        nextToClaim = start
        nextToTake = start
        for worker in 0..<workers {
            let thread = Thread { self.work() }
            thread.name = "fgaseg-loader-\(worker)"
            thread.stackSize = 8 << 20
            threads.append(thread)
            thread.start()
        }
    }

    /// Stops the workers after their current item.
    public func stop() {
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
    }

    /// The next item in order, or nil after the last; rethrows its producer's error.
    public func next() throws -> Item? {
        if let count, nextToTake >= count { return nil }
        let number = nextToTake
        nextToTake += 1
        if threads.isEmpty { return try produce(number) }
        let start = Date()
        let result: Result<Item, Error> = condition.withLock {
            while ready[number] == nil { condition.wait() }
            let result = ready.removeValue(forKey: number)!
            condition.broadcast()
            return result
        }
        waitSeconds += Date().timeIntervalSince(start)
        return try result.get()
    }

    private func work() {
        while true {
            let number: Int? = condition.withLock {
                while !stopped && nextToClaim >= nextToTake + depth { condition.wait() }
                if stopped { return nil }
                if let count, nextToClaim >= count { return nil }
                nextToClaim += 1
                return nextToClaim - 1
            }
            guard let number else { return }
            let result = Result { try produce(number) }
            condition.withLock {
                ready[number] = result
                condition.broadcast()
            }
        }
    }
}
