import Testing
@testable import Distributed

@Suite struct SingleProcessCommunicatorTests {
    @Test func collectivesAreTheIdentity() throws {
        let world = SingleProcessCommunicator()
        #expect(world.rank == 0 && world.size == 1 && world.isMain)
        var floats: [Float] = [1.5, -2, 3]
        try world.allReduce(&floats, .sum)
        #expect(floats == [1.5, -2, 3])
        #expect(try world.allReduce(Int64(7), .max) == 7)
        var bytes: [UInt8] = [1, 2, 3]
        try world.broadcast(&bytes, root: 0)
        #expect(bytes == [1, 2, 3])
        #expect(try world.allGather(Double(2.5)) == [2.5])
        let request = ReductionRequest()
        try floats.withUnsafeMutableBufferPointer { try world.startAllReduce($0, .sum, request: request) }
        #expect(try request.test())
        try request.wait()
        try world.barrier()
    }

    @Test func misuseIsAnErrorNamingTheCall() throws {
        let world = SingleProcessCommunicator()
        var bytes: [UInt8] = [1]
        let error = #expect(throws: DistributedError.self) { try world.broadcast(&bytes, root: 1) }
        #expect(error?.description == "broadcast failed: root 1 does not exist in a job of 1 process")
        var small = [UInt8](repeating: 0, count: 1)
        #expect(throws: DistributedError.self) {
            try [UInt8](repeating: 1, count: 4).withUnsafeBytes { send in
                try small.withUnsafeMutableBytes { try world.allGather(send, into: $0) }
            }
        }
    }

    @Test func withoutALauncherTheWorldIsOneProcess() throws {
        if !MPICommunicator.isLaunchedByMPI {
            let world = try makeWorldCommunicator()
            #expect(world is SingleProcessCommunicator)
        }
        #expect(MPICommunicator.libraryVersion.contains("Open MPI"))
    }
}
