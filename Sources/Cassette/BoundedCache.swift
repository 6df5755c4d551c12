public import Synchronization

/// A cache that holds at most `budget` in cost (bytes, usually), dropping what was used least recently.
///
/// Two generations instead of an exact LRU list: entries go into the young one; when it has taken half the
/// budget, the old one is dropped and the young one becomes old. A hit in the old generation moves the entry to
/// the young one, so what is in use stays. Every operation is O(1), and the total never exceeds the budget.
///
/// Inlinable: the server looks answers up here on every request, and unspecialized across modules each lookup
/// instantiated the dictionary's and the tuple's generic metadata at run time (about 1% of a replayed request).
public final class BoundedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    @usableFromInline
    struct Generation {
        @usableFromInline var entries: [Key: (value: Value, cost: Int)] = [:]
        @usableFromInline var cost = 0
        @usableFromInline init() {}
    }

    @usableFromInline
    struct State {
        @usableFromInline var young = Generation()
        @usableFromInline var old = Generation()
        @usableFromInline init() {}
    }

    /// The most the cache holds, in the units of `cost`.
    public let budget: Int
    @usableFromInline let state = Mutex(State())

    public init(budget: Int) { self.budget = max(0, budget) }

    /// The value for `key`, if cached.
    @inlinable
    public func value(for key: Key) -> Value? {
        state.withLock { state in
            if let hit = state.young.entries[key] { return hit.value }
            guard let hit = state.old.entries.removeValue(forKey: key) else { return nil }
            state.old.cost -= hit.cost
            Self.insert(key, hit, into: &state, half: budget / 2)
            return hit.value
        }
    }

    /// Caches `value` at `cost`; a value costing more than half the budget is not kept.
    @inlinable
    public func set(_ value: Value, for key: Key, cost: Int) {
        let half = budget / 2
        guard cost <= half else { return }
        state.withLock { state in
            if let old = state.old.entries.removeValue(forKey: key) { state.old.cost -= old.cost }
            if let previous = state.young.entries.removeValue(forKey: key) { state.young.cost -= previous.cost }
            Self.insert(key, (value, cost), into: &state, half: half)
        }
    }

    @usableFromInline
    static func insert(_ key: Key, _ entry: (value: Value, cost: Int), into state: inout State, half: Int) {
        if state.young.cost + entry.cost > half {
            state.old = state.young
            state.young = Generation()
        }
        state.young.entries[key] = entry
        state.young.cost += entry.cost
    }

    /// What the cache holds now, in the units of `cost`: at most `budget`.
    public var totalCost: Int { state.withLock { $0.young.cost + $0.old.cost } }
}
