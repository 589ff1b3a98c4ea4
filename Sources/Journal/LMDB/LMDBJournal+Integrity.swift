import LMDB

extension LMDBJournal {
    /// Scans every record: chained checksums, contiguous positions and stream versions, and
    /// a stream index that matches the records exactly up to its checkpoint and holds
    /// nothing beyond it.
    ///
    /// Reads in chunks, each in a fresh short read transaction, so it can run beside a
    /// writer without pinning old pages; it checks the journal as of its head at the start.
    /// `progress` hears the position checked so far and the head, after each chunk.
    public func verifyIntegrity(
        chunkSize: Int = 8192, progress: (_ checked: UInt64, _ head: UInt64) -> Void = { _, _ in }
    ) throws(JournalError) -> IntegrityReport {
        var report = IntegrityReport()
        let endPosition = try currentHead()
        var previousPosition: UInt64 = 0
        var nextSegment: UInt64 = 1
        var previousChecksum = RecordCodec.genesisChecksum
        var streamVersions: [StreamID: UInt64] = [:]
        var done = false
        var checkpoint: UInt64 = 0
        var sawGap = false
        while !done {
            try run { txn in
                checkpoint = try Self.indexedThrough(meta: meta, in: txn)
                try txn.withCursor(in: events) { cursor in
                    var entry = try cursor.seek(atLeast: JournalLayout.eventKey(nextSegment))
                    var scanned = 0
                    while let (key, value) = entry, scanned < chunkSize {
                        guard let first = JournalLayout.uint64(key), first <= endPosition else {
                            if JournalLayout.uint64(key) == nil { report.add("an events key is not 8 bytes", at: nil) }
                            done = true
                            return
                        }
                        nextSegment = first + 1
                        if first != previousPosition + 1 {
                            sawGap = true
                            report.add(
                                "records \(previousPosition + 1) to \(first - 1) are missing: positions must be contiguous",
                                at: first
                            )
                        }
                        guard let segment = Segment.View(value) else {
                            sawGap = true
                            report.add("the segment starting here is damaged: its header or offsets do not fit its size", at: first)
                            previousPosition = first
                            entry = try cursor.next()
                            continue
                        }
                        for index in 0..<segment.count {
                            let position = first + UInt64(index)
                            let bytes = segment.record(index)
                            let (valid, stored) = RecordCodec.verifyChecksum(
                                position: position,
                                bytes: bytes,
                                previousChecksum: previousChecksum
                            )
                            if !valid {
                                report.add(
                                    "checksum mismatch: the record was altered, moved, or a record before it was removed",
                                    at: position
                                )
                            }
                            do {
                                let event = try RecordCodec.decode(position: position, bytes: bytes)
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
                                // Records up to the checkpoint are indexed; later ones are not yet.
                                let expectedIndex = position <= checkpoint ? position : nil
                                if indexed != expectedIndex {
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
                        }
                        entry = try cursor.next()
                    }
                    if entry == nil { done = true }
                }
            }
            progress(previousPosition, endPosition)
        }
        report.streamCount = streamVersions.count
        report.lastChecksum = previousChecksum
        // The index holds exactly one entry per record up to its checkpoint. Positions run
        // 1, 2, 3, … in a sound journal, so in one snapshot its size must equal the
        // checkpoint; this holds however the writer moved on during the scan. (With gaps
        // already reported the count says nothing new.)
        let (indexCount, finalCheckpoint) = try run { txn in
            (try txn.count(in: streams), try Self.indexedThrough(meta: meta, in: txn))
        }
        if !sawGap && finalCheckpoint <= report.head && UInt64(indexCount) != finalCheckpoint {
            report.add(
                "the stream index holds \(indexCount) entries, but its checkpoint says records 1 to \(finalCheckpoint) are indexed",
                at: nil
            )
        }
        return report
    }
}
