import LMDB

extension LMDBJournal {
    /// Scans every record: chained checksums, contiguous positions and stream versions, and
    /// a stream index that matches the records exactly.
    ///
    /// Reads in chunks, each in a fresh short read transaction, so it can run beside a
    /// writer without pinning old pages; it checks the journal as of its head at the start.
    public func verifyIntegrity(chunkSize: Int = 8192) throws(JournalError) -> IntegrityReport {
        var report = IntegrityReport()
        let endPosition = try currentHead()
        var previousPosition: UInt64 = 0
        var previousChecksum = RecordCodec.genesisChecksum
        var streamVersions: [StreamID: UInt64] = [:]
        var done = false
        while !done {
            try run { txn in
                try txn.withCursor(in: events) { cursor in
                    var entry = try cursor.seek(atLeast: JournalLayout.eventKey(previousPosition &+ 1))
                    var scanned = 0
                    while let (key, value) = entry, scanned < chunkSize {
                        guard let position = JournalLayout.uint64(key), position <= endPosition else {
                            if JournalLayout.uint64(key) == nil { report.add("an events key is not 8 bytes", at: nil) }
                            done = true
                            return
                        }
                        if position != previousPosition + 1 {
                            report.add(
                                "records \(previousPosition + 1) to \(position - 1) are missing: positions must be contiguous",
                                at: position
                            )
                        }
                        let (valid, stored) = RecordCodec.verifyChecksum(
                            position: position,
                            bytes: value,
                            previousChecksum: previousChecksum
                        )
                        if !valid {
                            report.add(
                                "checksum mismatch: the record was altered, moved, or a record before it was removed",
                                at: position
                            )
                        }
                        do {
                            let event = try RecordCodec.decode(position: position, bytes: value)
                            let expected = (streamVersions[event.streamID] ?? 0) + 1
                            if event.streamVersion != expected {
                                report.add(
                                    "stream \(event.streamID) jumps to version \(event.streamVersion) where \(expected) was due",
                                    at: position
                                )
                            }
                            streamVersions[event.streamID] = event.streamVersion
                            let indexed = try txn.withValue(
                                forKey: JournalLayout.streamKey(event.streamID, version: event.streamVersion),
                                in: streams
                            ) { $0.flatMap(JournalLayout.uint64) }
                            if indexed != position {
                                report.add(
                                    "the stream index maps \(event.streamID) version \(event.streamVersion) to \(indexed.map(String.init) ?? "nothing")",
                                    at: position
                                )
                            }
                        } catch let error as JournalError {
                            report.add(error.message, at: position)
                        }
                        report.eventCount += 1
                        report.head = position
                        previousPosition = position
                        previousChecksum = stored
                        scanned += 1
                        entry = try cursor.next()
                    }
                    if entry == nil { done = true }
                }
            }
        }
        report.streamCount = streamVersions.count
        report.lastChecksum = previousChecksum
        // Compare the index's size with the records only in a snapshot where nothing was
        // appended after the scan's end, so a concurrent writer raises no false alarm.
        let (indexCount, recordCount) = try run { txn in (try txn.count(in: streams), try txn.count(in: events)) }
        if recordCount == report.eventCount && indexCount != recordCount {
            report.add(
                "the stream index holds \(indexCount) entries for \(report.eventCount) records",
                at: nil
            )
        }
        return report
    }
}
