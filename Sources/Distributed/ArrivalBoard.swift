import CMPIShim
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

    private enum Word: Int32 { case worldRank = 0, entered = 1, heartbeat = 2 }
    private let board: fga_arrival_board
    /// This rank's place on its host, and the number of ranks there.
    public let localRank: Int, localSize: Int

    /// Collective over all ranks of `communicator`: creates the board of each host.
    init(communicator: MPICommunicator) throws {
        var board: fga_arrival_board?
        var localRank: Int32 = 0, localSize: Int32 = 0
        try checkMPI(fga_arrival_board_create(3, &board, &localRank, &localSize), "watchdog arrival board")
        self.board = board!
        (self.localRank, self.localSize) = (Int(localRank), Int(localSize))
        fga_arrival_board_store(self.board, Word.worldRank.rawValue, UInt64(communicator.rank) + 1)
        beat()
    }

    /// Records that this rank has entered its `count`-th guarded collective.
    public func publish(entered count: UInt64) {
        fga_arrival_board_store(board, Word.entered.rawValue, count)
    }

    /// Records that this rank's watchdog is running now.
    public func beat() {
        fga_arrival_board_store(board, Word.heartbeat.rawValue, DispatchTime.now().uptimeNanoseconds)
    }

    /// Every rank of this host (including this one), in local order. Ranks that have not yet
    /// written their slot are left out.
    public func entries() -> [Entry] {
        let now = DispatchTime.now().uptimeNanoseconds
        return (0..<localSize).compactMap { peer in
            let rankPlusOne = fga_arrival_board_load(board, Int32(peer), Word.worldRank.rawValue)
            guard rankPlusOne > 0 else { return nil }
            let heartbeat = fga_arrival_board_load(board, Int32(peer), Word.heartbeat.rawValue)
            return Entry(worldRank: Int(rankPlusOne) - 1, entered: fga_arrival_board_load(board, Int32(peer), Word.entered.rawValue),
                         silentSeconds: Double(now &- min(now, heartbeat)) / 1e9)
        }
    }
}
