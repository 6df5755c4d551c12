import MessagesAPI
import Synchronization
import Synthesis

/// Each cassette's prompt cache in this server run: what synthesized and fixture answers report as cache reads
/// and writes. `POST /_tapedeck/reset` empties it (one cassette's, or all).
final class PromptCacheBook: Sendable {
    let clock: TestClock
    private let ledgers = Mutex<[String: PromptCacheLedger]>([:])

    init(clock: TestClock) { self.clock = clock }

    /// `usage` with the cache accounting of `request` on cassette `cassette`; unchanged (and nothing recorded)
    /// when the request has no `cache_control`.
    func usage(_ usage: Usage, for request: MessagesRequest, model: String, cassette: String) -> Usage {
        guard let plan = PromptCachePlan(request: request, model: model) else { return usage }
        let now = clock.now()
        let accounting = ledgers.withLock { $0[cassette, default: PromptCacheLedger()].account(plan, now: now) }
        return accounting.applied(to: usage)
    }

    /// Forgets one cassette's cache, or every cassette's (`nil`).
    func clear(cassette: String?) {
        ledgers.withLock { ledgers in
            if let cassette { ledgers[cassette] = nil } else { ledgers.removeAll() }
        }
    }
}
