import CMPIShim

/// 64-bit words per rank in memory the ranks of a host share: each rank stores into its own
/// words (release) and loads any peer's (acquire), so a peer that loads a stored value also sees
/// every write the owner made before storing it. No message is sent. Lives until MPI shuts down.
final class HostWordBoard: @unchecked Sendable {
    private let board: fga_arrival_board
    /// This rank's place on its host, and the number of ranks there.
    let localRank: Int, localSize: Int
    /// Words per rank.
    let words: Int

    /// Collective over all ranks: `words` zeroed words per rank; `purpose` names the board in errors.
    init(words: Int, purpose: String) throws {
        var board: fga_arrival_board?
        var localRank: Int32 = 0, localSize: Int32 = 0
        try checkMPI(fga_arrival_board_create(Int32(words), &board, &localRank, &localSize), "\(purpose) (\(words) shared words per rank)")
        self.board = board!
        self.words = words
        (self.localRank, self.localSize) = (Int(localRank), Int(localSize))
    }

    /// Stores `value` into this rank's word `word` (release).
    func store(_ value: UInt64, word: Int) {
        fga_arrival_board_store(board, Int32(word), value)
    }

    /// Word `word` of local rank `rank` (acquire).
    func load(rank: Int, word: Int) -> UInt64 {
        fga_arrival_board_load(board, Int32(rank), Int32(word))
    }
}
