import MessagesAPI

extension Inspector {
    /// `/_tapedeck/ui/batches`: the Message Batches Tapedeck made for the cassette, kept in memory.
    struct BatchesView: View {
        static let template = Template.batches
        /// Most recently created first.
        let batches: [Batch]
        let hasBatches: Bool

        struct Batch: Sendable {
            let id: String
            let status: String
            let createdAt: String
            /// `succeeded 2, errored 1`: the non-zero counts.
            let counts: String
            let customIDs: String
        }
    }

    static func batches(_ batches: [MessageBatch]) -> BatchesView {
        let views = batches.map { batch in
            let counts = (batch.requestCounts.objectValue ?? JSONObject()).compactMap { key, value in
                (value.intValue ?? 0) > 0 ? "\(key) \(value.intValue ?? 0)" : nil
            }
            return BatchesView.Batch(
                id: batch.id, status: batch.status.rawValue, createdAt: MessageBatch.timestamp(batch.createdAt),
                counts: counts.joined(separator: ", "), customIDs: batch.customIDs.joined(separator: ", "))
        }
        return BatchesView(batches: views, hasBatches: !views.isEmpty)
    }
}
