/// The end of a run (`RunSucceeded` or `RunFailed`) read in place from its stored payload,
/// keeping only what the projections keep of it, so that no string is made: a replay reads
/// nearly half of its events this way (``EventCodec/runEnd(_:schemaVersion:payload:)``).
package struct StoredRunEnd {
    /// The run id's bytes as stored (valid while the payload is).
    package var run: UnsafeRawBufferPointer
    /// Succeeded, failed or interrupted.
    package var result: LastRun.Result
    /// The HTTP status, if a response arrived.
    package var statusCode: Int?
    /// How long the call took.
    package var duration: Duration?
    /// Whether the outcome carries a response excerpt or an error (their text stays in the
    /// journal: a run record points at its event for them).
    package var hasDetail: Bool
}

extension EventCodec {
    /// The run's end that a stored `RunSucceeded` or `RunFailed` records, read in place; nil
    /// for any other type, and for a payload that ``decode(_:typeBytes:schemaVersion:payload:taskID:at:)``
    /// would not accept (which then says why).
    ///
    /// It reads the payload as ``decode(_:typeBytes:schemaVersion:payload:taskID:at:)``
    /// does, field by field, skipping the text the projections do not keep.
    package static func runEnd(_ type: StoredType?, schemaVersion: UInt16, payload: UnsafeRawBufferPointer) -> StoredRunEnd? {
        guard type == .runSucceeded || type == .runFailed, schemaVersion == currentSchemaVersion else { return nil }
        var reader = BinaryReader(payload)
        do {
            _ = try reader.readStringBytes()  // the actor
            if try reader.readBool() { _ = try reader.readStringBytes() }  // the reason
            let run = try reader.readStringBytes()
            let statusCode = try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readInt() }
            let duration = try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readDuration() }
            var hasDetail = false
            if try reader.readBool() {  // the response excerpt
                _ = try reader.readStringBytes()
                hasDetail = true
            }
            if try reader.readBool() {  // the error
                _ = try reader.readStringBytes()
                hasDetail = true
            }
            let result: LastRun.Result = type == .runSucceeded ? .succeeded : try reader.readBool() ? .interrupted : .failed
            guard reader.isAtEnd else { return nil }
            return StoredRunEnd(run: run, result: result, statusCode: statusCode, duration: duration, hasDetail: hasDetail)
        } catch {
            return nil
        }
    }
}
