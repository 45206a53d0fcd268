#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Makes standard output line-buffered, as it is on a terminal, also when it goes to a file or a
/// pipe (a scheduler's log): every finished line is in the log even after `kill -9`. Called first
/// thing in each tool, before any other thread writes.
public func useLineBufferedOutput() {
    setvbuf(stdout, nil, _IOLBF, 0)
}
