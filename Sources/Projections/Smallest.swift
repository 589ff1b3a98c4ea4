/// The `capacity` smallest elements offered, by `areInIncreasingOrder`: a max-heap of at
/// most `capacity` elements, so a page of a listing is picked from a million candidates in
/// one pass, with no array of all of them and no sort of it (ADR 0015).
public struct Smallest<Element> {
    public let capacity: Int
    private let areInIncreasingOrder: (Element, Element) -> Bool
    /// A max-heap: `heap[0]` is the largest kept.
    private var heap: [Element] = []

    public init(_ capacity: Int, by areInIncreasingOrder: @escaping (Element, Element) -> Bool) {
        self.capacity = max(0, capacity)
        self.areInIncreasingOrder = areInIncreasingOrder
        heap.reserveCapacity(min(self.capacity, 4_096))
    }

    /// Whether every room is taken.
    public var isFull: Bool { heap.count >= capacity }

    /// The largest element kept (the first to go when a smaller one comes), if any.
    public var largest: Element? { heap.first }

    /// Keeps `element` if it is among the smallest so far.
    public mutating func offer(_ element: Element) {
        guard capacity > 0 else { return }
        if heap.count < capacity {
            heap.append(element)
            siftUp(heap.count - 1)
        } else if areInIncreasingOrder(element, heap[0]) {
            heap[0] = element
            siftDown(0)
        }
    }

    /// The elements kept, smallest first.
    public func sorted() -> [Element] { heap.sorted(by: areInIncreasingOrder) }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard areInIncreasingOrder(heap[parent], heap[child]) else { return }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            var largest = parent
            let left = 2 * parent + 1
            let right = left + 1
            if left < heap.count, areInIncreasingOrder(heap[largest], heap[left]) { largest = left }
            if right < heap.count, areInIncreasingOrder(heap[largest], heap[right]) { largest = right }
            guard largest != parent else { return }
            heap.swapAt(parent, largest)
            parent = largest
        }
    }
}
