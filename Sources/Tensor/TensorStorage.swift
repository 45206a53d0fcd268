/// The memory behind a tensor: a run of floats owned by this object (from the caching
/// allocator), a window into another storage (e.g. a parameter inside the flat buffer), or
/// memory another object owns (e.g. a window shared with other processes).
public final class TensorStorage: @unchecked Sendable {
    /// First float of this storage.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of floats.
    public let count: Int
    private let capacity: Int
    /// The storage this one is a window into, kept alive by the window.
    private let base: TensorStorage?
    /// The owner of borrowed memory, kept alive by this storage.
    private let owner: AnyObject?

    /// Fresh, uninitialised storage of `count` floats.
    init(count: Int) {
        let (pointer, capacity) = CachingAllocator.shared.allocate(max(count, 1))
        self.pointer = pointer
        self.count = count
        self.capacity = capacity
        base = nil
        owner = nil
    }

    /// A window of `count` floats starting at `offset` into `base`.
    init(window base: TensorStorage, offset: Int, count: Int) {
        precondition(offset >= 0 && offset + count <= base.count, "storage window out of range")
        pointer = base.pointer + offset
        self.count = count
        capacity = 0
        self.base = base
        owner = nil
    }

    /// `count` floats at `pointer`, which `owner` allocated and frees; never released here.
    init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        capacity = 0
        base = nil
        self.owner = owner
    }

    deinit {
        if base == nil && owner == nil { CachingAllocator.shared.release(pointer, capacity: capacity) }
    }
}
