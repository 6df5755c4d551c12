import GRDB
import Synchronization

/// Saves that arrive while a transaction is being written wait for it, then go in the next transaction together.
///
/// SQLite writes one transaction at a time per file, and each commit costs about a third of a millisecond here
/// (the write-ahead log's frames, its locks), so 32 clients recording at once were held to one commit after
/// another: a fifth of the throughput of calling the upstream directly. A lone save still goes at once. Each save
/// succeeds or fails on its own (a savepoint each); a commit that fails fails every save in it, since none was
/// kept.
final class GroupCommit: Sendable {
    typealias Saved = (id: Int64, inserted: Bool)

    private struct Waiting: Sendable {
        let interaction: Interaction
        let continuation: CheckedContinuation<Saved, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        /// A task is writing batches; new saves join the next one.
        var writing = false
    }

    private let state = Mutex(State())
    private let writer: any DatabaseWriter

    init(writer: any DatabaseWriter) { self.writer = writer }

    /// Saves `interaction` in the next transaction, returning once that transaction is committed.
    func save(_ interaction: Interaction) async throws -> Saved {
        try await withCheckedThrowingContinuation { continuation in
            let leads = state.withLock { state in
                state.waiting.append(Waiting(interaction: interaction, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            // Not the caller's task: a client that hangs up must not cancel the commit others wait on.
            if leads { Task { await self.writeBatches() } }
        }
    }

    private func writeBatches() async {
        while true {
            let batch = state.withLock { state in
                let batch = state.waiting
                state.waiting.removeAll(keepingCapacity: true)
                if batch.isEmpty { state.writing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                let outcomes = try await writer.write { db in
                    try batch.map { waiting in
                        do {
                            var saved: Saved = (0, false)
                            try db.inSavepoint {
                                saved = try CassetteStore.write(waiting.interaction, keepingID: false, in: db)
                                return .commit
                            }
                            return Result<Saved, any Error>.success(saved)
                        } catch {
                            // Some failures (a full disk) make SQLite roll the whole transaction back: then nothing
                            // of the batch is kept, and every save in it fails.
                            guard db.isInsideTransaction else { throw error }
                            return Result<Saved, any Error>.failure(error)
                        }
                    }
                }
                for (waiting, outcome) in zip(batch, outcomes) { waiting.continuation.resume(with: outcome) }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }
}
