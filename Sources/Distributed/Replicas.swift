import NN
import Tensor

/// Keeps data-parallel replicas identical: rank 0's weights are broadcast at start-up, and a
/// checksum comparison finds a replica that has drifted.
public enum Replicas {
    /// Copies every parameter and buffer of `model` from rank 0 to all ranks.
    public static func broadcastFromRoot(_ model: Module, communicator: any Communicator) throws {
        for (_, tensor) in model.namedParameters() + model.namedBuffers() {
            try communicator.broadcast(UnsafeMutableRawBufferPointer(start: tensor.pointer, count: tensor.count * 4), root: 0)
        }
    }

    /// A 64-bit checksum of the bit patterns of every parameter and buffer, in order.
    public static func checksum(_ model: Module) -> UInt64 {
        var hash = Hasher64()
        for (name, tensor) in model.namedParameters() + model.namedBuffers() {
            hash.combine(bytes: Array(name.utf8))
            hash.combine(floats: tensor.pointer, count: tensor.count)
        }
        return hash.value
    }

    /// Compares every rank's checksum with rank 0's; throws ``ReplicaMismatch`` naming the ranks
    /// that differ (on every rank, so all of them stop together).
    public static func verify(_ model: Module, communicator: any Communicator, step: Int) throws {
        let sums = try communicator.allGather(checksum(model))
        let differing = sums.indices.filter { sums[$0] != sums[0] }
        guard differing.isEmpty else { throw ReplicaMismatch(step: step, ranks: differing) }
    }
}

/// Replicas whose weights are not identical to rank 0's.
public struct ReplicaMismatch: Error, CustomStringConvertible, Sendable {
    public let step: Int
    public let ranks: [Int]
    public var description: String {
        "replica check at step \(step): the parameters of rank(s) \(ranks.map(String.init).joined(separator: ", ")) differ from rank 0's"
    }
}
