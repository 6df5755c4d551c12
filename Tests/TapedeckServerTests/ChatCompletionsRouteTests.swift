import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MessagesAPI
import Testing

@testable import TapedeckServer

@Suite("POST /v1/chat/completions through the Messages engine")
struct ChatCompletionsRouteTests {
    static let chat = #"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}"#

    /// A call's faults are drawn once: the Messages request made inside it draws nothing from `--fault` again, so a
    /// plan for the next two requests covers two chat calls, not one.
    @Test func aFaultPlanCountsEachChatCallOnce() async throws {
        let plan = FaultPlan(faults: try Faults(parsing: "slow_first_byte=1"), count: 2)
        try await withApp({ $0.fault = plan }) { client in
            var faulted: [Bool] = []
            for _ in 0..<3 {
                let response = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body(Self.chat))
                #expect(response.status == .ok)
                faulted.append(response.headers[HTTPField.Name("tapedeck-fault")!] != nil)
            }
            #expect(faulted == [true, true, false])
        }
    }

    /// A forced stop reason asked of the chat call reaches the Messages answer inside it.
    @Test func aForcedRefusalEndsTheCompletionAsFiltered() async throws {
        var headers = jsonHeaders
        headers[HTTPField.Name("tapedeck-fault")!] = "refusal"
        let faulted = headers
        try await withApp { client in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: faulted, body: body(Self.chat))
            #expect(response.status == .ok)
            let choice = try #require(response.body.json?["choices"]?.arrayValue?.first)
            #expect(choice["finish_reason"] == "content_filter", "\(choice)")
        }
    }
}
