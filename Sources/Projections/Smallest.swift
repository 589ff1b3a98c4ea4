import HeapModule

/// The `capacity` smallest elements offered, by `areInIncreasingOrder`: a heap of at most
/// `capacity` elements (swift-collections' `Heap`, as the due index uses), so a page of a
/// listing is picked from a million candidates in one pass, with no array of all of them
/// and no sort of it (ADR 0015).
public struct Smallest<Element> {
    /// An element with the order it is kept by.
    private struct Ranked: Comparable {
        let element: Element
        let areInIncreasingOrder: (Element, Element) -> Bool

        static func < (lhs: Ranked, rhs: Ranked) -> Bool { lhs.areInIncreasingOrder(lhs.element, rhs.element) }
        static func == (lhs: Ranked, rhs: Ranked) -> Bool { !(lhs < rhs) && !(rhs < lhs) }
    }

    public let capacity: Int
    private let areInIncreasingOrder: (Element, Element) -> Bool
    private var heap = Heap<Ranked>()

    public init(_ capacity: Int, by areInIncreasingOrder: @escaping (Element, Element) -> Bool) {
        self.capacity = max(0, capacity)
        self.areInIncreasingOrder = areInIncreasingOrder
    }

    /// Whether every room is taken.
    public var isFull: Bool { heap.count >= capacity }

    /// The largest element kept (the first to go when a smaller one comes), if any.
    public var largest: Element? { heap.max?.element }

    /// Keeps `element` if it is among the smallest so far.
    public mutating func offer(_ element: Element) {
        guard capacity > 0 else { return }
        let ranked = Ranked(element: element, areInIncreasingOrder: areInIncreasingOrder)
        if heap.count < capacity {
            heap.insert(ranked)
        } else if let largest = heap.max, ranked < largest {
            _ = heap.replaceMax(with: ranked)
        }
    }

    /// The elements kept, smallest first.
    public func sorted() -> [Element] { heap.unordered.sorted().map(\.element) }
}
