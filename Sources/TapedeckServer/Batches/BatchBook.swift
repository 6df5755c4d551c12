import MessagesAPI
import Synchronization

/// The batches Tapedeck made itself (synthesis and replay of their requests), per cassette, for the life of the
/// server: a batch the upstream made is recorded in the cassette instead, call by call, and replayed from there.
final class BatchBook: Sendable {
    /// Each cassette's batches, oldest first.
    private let shelves = Mutex<[String: [MessageBatch]]>([:])

    /// Adds a batch to `cassette`; `make` gets the batch's place among the cassette's batches (0 for the first),
    /// from which its creation time is derived. The same id again (the same create after `POST /_tapedeck/reset`)
    /// starts that batch afresh in its old place, as a rerun of the run that made it.
    func add(_ id: String, to cassette: String, _ make: (Int) -> MessageBatch) -> MessageBatch {
        shelves.withLock { shelves in
            var batches = shelves[cassette, default: []]
            let batch: MessageBatch
            if let i = batches.firstIndex(where: { $0.id == id }) {
                batch = make(i)
                batches[i] = batch
            } else {
                batch = make(batches.count)
                batches.append(batch)
            }
            shelves[cassette] = batches
            return batch
        }
    }

    /// Applies `change` to batch `id` of `cassette` and returns it as changed; unknown ids are the API's 404.
    func update(_ id: String, in cassette: String, _ change: (inout MessageBatch) throws(APIError) -> Void) throws(APIError)
        -> MessageBatch
    {
        try shelves.withLock { shelves throws(APIError) in
            guard let i = shelves[cassette]?.firstIndex(where: { $0.id == id }), var batch = shelves[cassette]?[i] else {
                throw APIError(BatchRefusal.unknownBatch(id))
            }
            try change(&batch)
            shelves[cassette]?[i] = batch
            return batch
        }
    }

    /// Batch `id` as it stands.
    func batch(_ id: String, in cassette: String) throws(APIError) -> MessageBatch {
        try update(id, in: cassette) { _ in }
    }

    /// Removes an ended batch.
    func delete(_ id: String, in cassette: String) throws(APIError) {
        try shelves.withLock { shelves throws(APIError) in
            guard let batch = shelves[cassette]?.first(where: { $0.id == id }) else { throw APIError(BatchRefusal.unknownBatch(id)) }
            try batch.checkDeletable()
            shelves[cassette]?.removeAll { $0.id == id }
        }
    }

    /// A cassette's batches, most recently created first (the API's list order).
    func newestFirst(in cassette: String) -> [MessageBatch] {
        shelves.withLock { Array(($0[cassette] ?? []).reversed()) }
    }
}
