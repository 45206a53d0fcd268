/// The communicator for this process: MPI when launched by `mpirun`/`srun`, otherwise a
/// single-process communicator (so every tool runs the same way with or without MPI).
public func makeWorldCommunicator(
    threadSupport: MPICommunicator.ThreadSupport = .funneled
) throws -> any Communicator {
    if MPICommunicator.isLaunchedByMPI {
        return try MPICommunicator(threadSupport: threadSupport)
    }
    return SingleProcessCommunicator()
}
