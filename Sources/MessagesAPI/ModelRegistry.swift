import Synchronization

/// The server's model catalog while it runs: the built-in one with a models file's entries, plus the models
/// recording learned (from the upstream's `/v1/models` answers and the `model` of its messages). Shared by every
/// source; reading takes a snapshot under a lock held only to copy a reference, so nothing waits on I/O here.
public final class ModelRegistry: Sendable {
    private let state: Mutex<(catalog: ModelCatalog, generation: Int)>

    public init(_ catalog: ModelCatalog) { state = Mutex((catalog, 0)) }

    /// The catalog now.
    public var catalog: ModelCatalog { state.withLock { $0.catalog } }

    /// The catalog now, and a number that changes whenever the catalog does: what was derived from a catalog
    /// (a validated, synthesized answer) holds while the number is the same.
    public var snapshot: (catalog: ModelCatalog, generation: Int) { state.withLock { $0 } }

    /// Adds (or replaces) `models`; returns the ids that were new.
    @discardableResult
    public func learn(_ models: [ModelInfo]) -> [String] {
        guard !models.isEmpty else { return [] }
        return state.withLock { state in
            let changed = models.filter { state.catalog.known(named: $0.id) != $0 }
            guard !changed.isEmpty else { return [] }
            let new = changed.filter { state.catalog.known(named: $0.id) == nil }.map(\.id)
            state.catalog = state.catalog.adding(changed)
            state.generation &+= 1
            return new
        }
    }

    /// Learns a model known only by the id an answer named (a recorded message's `model`); a known id or alias
    /// is left as it is.
    @discardableResult
    public func learn(id: String) -> Bool {
        guard !id.isEmpty, catalog.known(named: id) == nil else { return false }
        return !learn([ModelInfo.inferred(id: id, knowing: catalog.models, isInferred: false)]).isEmpty
    }

    /// Learns from an answer Tapedeck relayed or replayed: the model objects of a `/v1/models` or
    /// `/v1/models/{id}` answer, or the model a Messages answer names. Anything unreadable teaches nothing; the
    /// body is only parsed for those paths.
    @discardableResult
    public func learn(fromAnswerTo path: String, status: Int, body: @autoclosure () -> JSONValue?) -> [String] {
        guard status == 200 else { return [] }
        if path == "/v1/models" || path.hasPrefix("/v1/models/") {
            guard let body = body(), let models = try? ModelInfo.models(in: body, knowing: catalog.models) else { return [] }
            return learn(models)
        }
        guard path == "/v1/messages", let model = body()?["model"]?.stringValue, learn(id: model) else { return [] }
        return [model]
    }
}
