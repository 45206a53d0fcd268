import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Splits loops over the cores. Work is divided into the same chunks for a given
/// ``threadCount`` every time, and no kernel combines partial results across chunks in a
/// run-dependent order, so results are bit-identical across runs.
public enum Parallel {
    nonisolated(unsafe) private static var configuredThreads = 0

    /// Threads used by elementwise, reduction and layout kernels (default: the environment
    /// variable `FGASEG_THREADS`, else the core count). Under `mpirun` with one rank per core, set it to 1.
    public static var threadCount: Int {
        get { configuredThreads > 0 ? configuredThreads : systemCores }
        set { configuredThreads = max(1, newValue) }
    }

    private static let systemCores: Int = {
        if let text = getenv("FGASEG_THREADS"), let value = Int(String(cString: text)), value > 0 { return value }
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }()

    /// Calls `body` on contiguous sub-ranges that cover `0..<count`, in parallel when the work is
    /// large enough. `grain` is the smallest range worth a thread (in loop iterations). Called
    /// from inside another `forEach` body, it runs inline: every core is already busy.
    @inlinable @inline(__always)
    public static func forEach(_ count: Int, grain: Int = 16_384, _ body: (Range<Int>) -> Void) {
        let chunks = Swift.min(threadCount, Swift.max(1, count / Swift.max(1, grain)))
        if chunks <= 1 || isInsideParallelRegion {
            if count > 0 { body(0..<count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let task = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks
                let end = count * (chunk + 1) / chunks
                guard start < end else { return }
                let outer = pthread_getspecific(regionKey)
                pthread_setspecific(regionKey, regionMarker)
                task.value(start..<end)
                pthread_setspecific(regionKey, outer)
            }
        }
    }

    /// Whether the calling thread is running a ``forEach(_:grain:_:)`` body.
    @inlinable
    public static var isInsideParallelRegion: Bool { pthread_getspecific(regionKey) != nil }

    /// The thread-specific key whose value is non-nil while a thread runs a `forEach` body.
    @usableFromInline
    static let regionKey: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "Parallel: pthread_key_create failed (\(status))")
        return key
    }()

    /// Any non-nil pointer, stored under ``regionKey``.
    @usableFromInline
    nonisolated(unsafe) static let regionMarker = UnsafeRawPointer(bitPattern: 1)
}

/// Hands a value to worker threads that the kernel guarantees not to race on.
@usableFromInline
struct UncheckedSendable<Value>: @unchecked Sendable {
    @usableFromInline let value: Value
    @usableFromInline init(_ value: Value) { self.value = value }
}
