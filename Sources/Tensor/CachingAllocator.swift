import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A size-bucketed cache of 64-byte-aligned float buffers.
///
/// Training allocates the same activation shapes every iteration; handing back a buffer that was
/// freed in the previous iteration avoids the page faults of fresh memory (≈2 GB/s on first touch
/// against ≈25 GB/s warm on the development machine). Sizes are rounded up to a bucket so that
/// slightly different requests share buffers. Thread-safe.
public final class CachingAllocator: Sendable {
    /// The allocator every tensor uses.
    public static let shared = CachingAllocator()

    private struct State {
        /// Cached buffers by bucket size, kept as addresses (pointers are not Sendable).
        var free: [Int: [UInt]] = [:]
        var liveBytes = 0
        var peakLiveBytes = 0
        var cachedBytes = 0
    }

    private let state = Mutex(State())

    /// Bytes held by live tensors.
    public var liveBytes: Int { state.withLock { $0.liveBytes } }
    /// The highest `liveBytes` since the last ``resetPeak()``.
    public var peakLiveBytes: Int { state.withLock { $0.peakLiveBytes } }
    /// Bytes of freed buffers kept for reuse.
    public var cachedBytes: Int { state.withLock { $0.cachedBytes } }

    public func resetPeak() { state.withLock { $0.peakLiveBytes = $0.liveBytes } }

    /// Returns every cached buffer to the system.
    public func emptyCache() {
        state.withLock { state in
            for addresses in state.free.values { addresses.forEach { free(UnsafeMutableRawPointer(bitPattern: $0)) } }
            state.free.removeAll()
            state.cachedBytes = 0
        }
    }

    /// The number of floats actually reserved for a request of `count`.
    static func bucket(for count: Int) -> Int {
        if count <= 16 { return 16 }
        if count <= 1 << 16 {
            // Round to the next power of two for small buffers.
            return 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
        }
        // Larger buffers: round up to an eighth of the enclosing power of two (≤ 12.5% waste).
        let power = 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount - 1)
        let step = power / 8
        return (count + step - 1) / step * step
    }

    /// A buffer of at least `count` floats (uninitialised) and its capacity.
    ///
    /// A large request that finds no cached buffer of its own bucket takes the smallest cached
    /// buffer of up to twice its size instead of growing the process: activation shapes vary
    /// within a step (class chunks, recomputation), and an idle larger buffer is cheaper than
    /// fresh pages.
    func allocate(_ count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        let capacity = Self.bucket(for: count)
        let cached: (address: UInt, capacity: Int)? = state.withLock { state in
            func hasFree(_ bucket: Int) -> Bool { !(state.free[bucket]?.isEmpty ?? true) }
            let found = hasFree(capacity) ? capacity
                : capacity > 1 << 16 ? state.free.keys.filter({ $0 > capacity && $0 <= 2 * capacity && hasFree($0) }).min() : nil
            state.liveBytes += (found ?? capacity) * MemoryLayout<Float>.stride
            state.peakLiveBytes = max(state.peakLiveBytes, state.liveBytes)
            guard let found else { return nil }
            state.cachedBytes -= found * MemoryLayout<Float>.stride
            return (state.free[found]!.removeLast(), found)
        }
        if let cached, let pointer = UnsafeMutablePointer<Float>(bitPattern: cached.address) { return (pointer, cached.capacity) }
        let bytes = capacity * MemoryLayout<Float>.stride
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes for a tensor")
        }
        return (raw.bindMemory(to: Float.self, capacity: capacity), capacity)
    }

    /// Returns a buffer obtained from ``allocate(_:)`` to the cache.
    func release(_ pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        let bytes = capacity * MemoryLayout<Float>.stride
        let address = UInt(bitPattern: pointer)
        state.withLock { state in
            state.liveBytes -= bytes
            state.cachedBytes += bytes
            state.free[capacity, default: []].append(address)
        }
    }
}
