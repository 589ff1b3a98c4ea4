/// Something that can lend its contiguous bytes as a key or value, without copying.
public protocol RawBytes {
    /// Calls `body` with the bytes.
    func withRawBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result
}

extension Array: RawBytes where Element == UInt8 {
    public func withRawBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeBytes(body)
    }
}

extension ArraySlice: RawBytes where Element == UInt8 {
    public func withRawBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeBytes(body)
    }
}

extension UnsafeRawBufferPointer: RawBytes {
    public func withRawBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        body(self)
    }
}

extension String: RawBytes {
    public func withRawBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        var copy = self
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}
