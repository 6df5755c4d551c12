public import Hummingbird
import MessagesAPI
import NIOCore

/// Tapedeck's own endpoints under `/_tapedeck/`.
struct AdminController: Sendable {
    let dispatcher: Dispatcher

    func addRoutes(to router: Router<some RequestContext>) {
        router.get("/_tapedeck/health") { _, _ in
            let configuration = dispatcher.configuration
            let json: JSONValue = [
                "status": "ok",
                "mode": .string(configuration.mode.rawValue),
                "cassette": .string(configuration.cassettePath),
                "interactions": .int(dispatcher.tape.count),
                "on_miss": .string(configuration.onMiss.rawValue),
                "version": .string(TapedeckVersion.current),
            ]
            return Answer(body: .json(JSONWriter.bytes(json)), source: .synthesized).response()
        }
        router.post("/_tapedeck/reset") { _, _ in
            dispatcher.tape.rewind()
            return Answer(body: .json(JSONWriter.bytes(["status": "reset"])), source: .synthesized).response()
        }
    }
}

/// The version `tapedeck --version` prints and `health` reports.
public enum TapedeckVersion {
    public static let current = "0.1.0"
}
