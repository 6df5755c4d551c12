import AsyncHTTPClient
import Foundation
import MessagesAPI
import NIOCore
import TapedeckServer

extension TapedeckConfiguration {
    /// The requests the scope's cassette answered with the miss error, each as `METHOD PATH: why nothing matched`,
    /// read from the server's own misses (`GET /_tapedeck/misses`, which explains them as the inspector does).
    func unansweredRequests(at baseURL: URL) async throws -> [String] {
        var request = HTTPClientRequest(url: baseURL.absoluteString + "/_tapedeck/misses")
        if let adminToken { request.headers.add(name: "authorization", value: "Bearer \(adminToken)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
        guard response.status == .ok, let misses = (try? JSONParser.parse(bytes.readableBytesView))?["data"]?.arrayValue else {
            throw TapedeckTestingError(.stoppedBeforeRunning, "The server's misses could not be read (\(response.status)).")
        }
        return misses.compactMap { miss in
            guard miss["answered"]?.stringValue == "error" else { return nil }
            let method = miss["method"]?.stringValue ?? "?"
            let path = miss["path"]?.stringValue ?? "?"
            return "\(method) \(path): \(miss["explanation"]?.stringValue ?? "no explanation")"
        }
    }
}
