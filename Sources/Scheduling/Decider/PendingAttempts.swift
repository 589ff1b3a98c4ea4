/// A task's attempts waiting to be claimed (retries and manual triggers), by occurrence.
///
/// A dictionary in use, kept as a small array: a task rarely has more than one or two, and a
/// Swift dictionary of one entry takes about 190 bytes against 96 for an array (147,000
/// tasks hold one in the replay benchmark's million). Lookups compare occurrence ids one by
/// one. Equal when they hold the same attempts, in any order.
public struct PendingAttempts: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    private var attempts: [PendingAttempt] = []

    /// No attempts.
    public init() {}

    public init(dictionaryLiteral elements: (OccurrenceID, PendingAttempt)...) {
        for (occurrence, attempt) in elements { self[occurrence] = attempt }
    }

    /// The attempt waiting for `occurrence`; setting nil removes it (and gives the storage
    /// back when none is left).
    public subscript(occurrence: OccurrenceID) -> PendingAttempt? {
        get { attempts.first { $0.occurrence == occurrence } }
        set {
            let index = attempts.firstIndex { $0.occurrence == occurrence }
            switch (index, newValue) {
            case (let index?, let value?): attempts[index] = value
            case (nil, let value?): attempts.append(value)
            case (let index?, nil): removeAttempt(at: index)
            case (nil, nil): break
            }
        }
    }

    /// Removes `occurrence`'s attempt, if any; an empty list gives its storage back.
    @discardableResult
    public mutating func removeValue(forKey occurrence: OccurrenceID) -> PendingAttempt? {
        guard let index = attempts.firstIndex(where: { $0.occurrence == occurrence }) else { return nil }
        return removeAttempt(at: index)
    }

    @discardableResult
    private mutating func removeAttempt(at index: Int) -> PendingAttempt {
        let removed = attempts.remove(at: index)
        if attempts.isEmpty { attempts = [] }
        return removed
    }

    /// The attempts, in the order they were added.
    public var values: [PendingAttempt] { attempts }
    /// Their occurrences.
    public var keys: [OccurrenceID] { attempts.map(\.occurrence) }
    /// How many there are.
    public var count: Int { attempts.count }
    /// Whether there are none.
    public var isEmpty: Bool { attempts.isEmpty }
    /// Room held for attempts (0 once the last one is removed).
    public var capacity: Int { attempts.capacity }

    public func makeIterator() -> some IteratorProtocol<(key: OccurrenceID, value: PendingAttempt)> {
        attempts.lazy.map { (key: $0.occurrence, value: $0) }.makeIterator()
    }

    public static func == (lhs: PendingAttempts, rhs: PendingAttempts) -> Bool {
        lhs.count == rhs.count && lhs.attempts.allSatisfy { rhs[$0.occurrence] == $0 }
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent: the sum of the attempts' own hashes.
        hasher.combine(count)
        hasher.combine(attempts.reduce(0) { $0 &+ $1.hashValue })
    }
}
