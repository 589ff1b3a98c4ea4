/// A value that a ``SmallMap`` finds by one of its own fields.
public protocol Keyed: Sendable, Hashable {
    associatedtype Key: Hashable & Sendable
    /// The field the value is found by.
    var key: Key { get }
}

/// A task's attempts waiting to be claimed (retries and manual triggers), by occurrence.
public typealias PendingAttempts = SmallMap<PendingAttempt>

/// A task's runs started and not finished, by run.
public typealias InFlightRuns = SmallMap<RunStart>

extension PendingAttempt: Keyed {
    public var key: OccurrenceID { occurrence }
}

extension RunStart: Keyed {
    public var key: RunID { run }
}

/// A dictionary in use, kept as a small array of values that carry their own keys: a task
/// rarely has more than one or two pending attempts or runs in flight.
///
/// A Swift dictionary of one entry takes about 190 bytes against 96 for an array (147,000
/// tasks hold a pending attempt in the replay benchmark's million), and hashes its key's
/// text with SipHash on every change: a run's start and finish each did, in every replay.
/// Lookups compare keys one by one. Equal when they hold the same values, in any order.
public struct SmallMap<Value: Keyed>: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    private var items: [Value] = []

    /// No values.
    public init() {}

    public init(dictionaryLiteral elements: (Value.Key, Value)...) {
        for (key, value) in elements { self[key] = value }
    }

    /// The value whose key is `key`; setting nil removes it (and gives the storage back when
    /// none is left). A value set carries `key` as its own.
    public subscript(key: Value.Key) -> Value? {
        get { items.first { $0.key == key } }
        set {
            assert(newValue.map { $0.key == key } ?? true, "a value is kept under its own key")
            let index = items.firstIndex { $0.key == key }
            switch (index, newValue) {
            case (let index?, let value?): items[index] = value
            case (nil, let value?): items.append(value)
            case (let index?, nil): removeItem(at: index)
            case (nil, nil): break
            }
        }
    }

    /// Removes `key`'s value, if any; an empty map gives its storage back.
    @discardableResult
    public mutating func removeValue(forKey key: Value.Key) -> Value? {
        guard let index = items.firstIndex(where: { $0.key == key }) else { return nil }
        return removeItem(at: index)
    }

    /// Removes the first value that satisfies `predicate`, if any, and returns it.
    @discardableResult
    public mutating func removeFirst(where predicate: (Value) -> Bool) -> Value? {
        guard let index = items.firstIndex(where: predicate) else { return nil }
        return removeItem(at: index)
    }

    @discardableResult
    private mutating func removeItem(at index: Int) -> Value {
        let removed = items.remove(at: index)
        if items.isEmpty { items = [] }
        return removed
    }

    /// The values, in the order they were added.
    public var values: [Value] { items }
    /// Their keys.
    public var keys: [Value.Key] { items.map(\.key) }
    /// How many there are.
    public var count: Int { items.count }
    /// Whether there are none.
    public var isEmpty: Bool { items.isEmpty }
    /// Room held for values (0 once the last one is removed).
    public var capacity: Int { items.capacity }

    public func makeIterator() -> some IteratorProtocol<(key: Value.Key, value: Value)> {
        items.lazy.map { (key: $0.key, value: $0) }.makeIterator()
    }

    public static func == (lhs: SmallMap, rhs: SmallMap) -> Bool {
        lhs.count == rhs.count && lhs.items.allSatisfy { rhs[$0.key] == $0 }
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent: the sum of the values' own hashes.
        hasher.combine(count)
        hasher.combine(items.reduce(0) { $0 &+ $1.hashValue })
    }
}
