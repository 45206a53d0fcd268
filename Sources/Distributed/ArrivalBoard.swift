import Dispatch

/// What the ranks of one host tell each other's watchdogs without sending a message: per rank,
/// how many guarded collectives it has entered and when its watchdog thread last ran (a
/// heartbeat, which stops when the process is stopped or wedged). Lives in memory shared by the
/// ranks of the host, so a waiting rank can name a peer that never arrived or stopped running.
public final class ArrivalBoard: @unchecked Sendable {
    /// A peer's entry as read from the board.
    public struct Entry: Sendable, Equatable {
        public var worldRank: Int
        /// Guarded collectives entered so far.
        public var entered: UInt64
        /// Seconds since the peer's last heartbeat.
        public var silentSeconds: Double
    }

    private enum Word: Int { case worldRank = 0, entered = 1, heartbeat = 2 }
    private let board: HostWordBoard
    /// This rank's place on its host, and the number of ranks there.
    public var localRank: Int { board.localRank }
    public var localSize: Int { board.localSize }

    /// Collective over all ranks of `communicator`: creates the board of each host.
    init(communicator: MPICommunicator) throws {
        board = try HostWordBoard(words: 3, purpose: "watchdog arrival board")
        board.store(UInt64(communicator.rank) + 1, word: Word.worldRank.rawValue)
        beat()
    }

    /// Records that this rank has entered its `count`-th guarded collective.
    public func publish(entered count: UInt64) {
        board.store(count, word: Word.entered.rawValue)
    }

    /// Records that this rank's watchdog is running now.
    public func beat() {
        board.store(DispatchTime.now().uptimeNanoseconds, word: Word.heartbeat.rawValue)
    }

    /// Every rank of this host (including this one), in local order. Ranks that have not yet
    /// written their slot are left out.
    public func entries() -> [Entry] {
        let now = DispatchTime.now().uptimeNanoseconds
        return (0..<localSize).compactMap { peer in
            let rankPlusOne = board.load(rank: peer, word: Word.worldRank.rawValue)
            guard rankPlusOne > 0 else { return nil }
            let heartbeat = board.load(rank: peer, word: Word.heartbeat.rawValue)
            return Entry(worldRank: Int(rankPlusOne) - 1, entered: board.load(rank: peer, word: Word.entered.rawValue),
                         silentSeconds: Double(now &- min(now, heartbeat)) / 1e9)
        }
    }
}
