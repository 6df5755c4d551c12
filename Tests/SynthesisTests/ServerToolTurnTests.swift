import MessagesAPI
import Testing

@testable import Synthesis

/// A synthesized answer with the server tools played into it.
private func answer(_ text: String) throws -> Message {
    let body = try RequestValidator.parseBody(Array(text.utf8))
    let validator = RequestValidator()
    let request = try validator.validateShape(body, endpoint: .messages)
    let model = try validator.validateModel(request)
    let fingerprint = Fingerprint(method: "POST", path: "/v1/messages", body: .object(body))
    var message = Synthesizer(vocabulary: try ShippedVocabulary.get()).message(for: request, model: model, fingerprint: fingerprint)
    ServerToolTurn.apply(to: &message, request: request, fingerprint: fingerprint)
    return message
}

private func body(tools: String, prompt: String, choice: String = "") -> String {
    #"{"model":"claude-sonnet-4-5","max_tokens":512,"tools":[\#(tools)],"messages":[{"role":"user","content":"\#(prompt)"}]\#(choice)}"#
}

private func types(_ message: Message) -> [String] { message.content.map(\.type) }

@Suite("Server tools in synthesized turns")
struct ServerToolTurnTests {
    @Test func searchRunsTwiceAndTheTextCitesIt() throws {
        let message = try answer(body(tools: #"{"type":"web_search_20250305","name":"web_search"}"#, prompt: "Search the latest tape news"))
        #expect(
            Array(types(message).prefix(5)) == [
                "server_tool_use", "web_search_tool_result", "server_tool_use", "web_search_tool_result", "text",
            ])
        guard case .serverToolUse(let call) = message.content[0], case .other(let result) = message.content[1] else {
            Issue.record("expected a call and its result")
            return
        }
        #expect(call.id.hasPrefix("srvtoolu_01") && call.name == "web_search")
        #expect(call.input["query"]?.stringValue == "Search the latest tape news")
        #expect(result["tool_use_id"]?.stringValue == call.id)
        let first = try #require(result["content"]?.arrayValue?.first)
        #expect(first["url"]?.stringValue == "https://docs.example.com/search-the-latest-tape-news")
        #expect(first["encrypted_content"]?.stringValue?.hasPrefix("E") == true)
        guard case .text(let cited) = message.content[4] else { return }
        #expect(cited.citations?.first?["type"] == "web_search_result_location")
        #expect(cited.citations?.first?["url"] == first["url"])
        #expect(message.usage.serverToolUse == ["web_search_requests": 2, "web_fetch_requests": 0])
        #expect(message.stopReason == "end_turn")
    }

    @Test func maxUsesTurnsTheCallPastItIntoAnError() throws {
        let message = try answer(
            body(tools: #"{"type":"web_search_20260209","name":"web_search","max_uses":1}"#, prompt: "search tapes"))
        guard case .other(let second) = message.content[3] else {
            Issue.record("expected a second result")
            return
        }
        #expect(second["content"] == ["type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"])
        #expect(message.usage.serverToolUse?["web_search_requests"] == 1)
    }

    @Test func fetchReadsTheURLNamed() throws {
        let message = try answer(
            body(tools: #"{"type":"web_fetch_20250910","name":"web_fetch"}"#, prompt: "Summarize https://example.org/reels please"))
        guard case .other(let result) = message.content[1] else { return }
        #expect(result["type"] == "web_fetch_tool_result")
        #expect(result["content"]?["url"] == "https://example.org/reels")
        #expect(result["content"]?["content"]?["source"]?["type"] == "text")
        #expect(message.usage.serverToolUse?["web_fetch_requests"] == 1)
    }

    @Test(arguments: [
        ("code_execution_20250522", "code_execution", "code_execution_tool_result", "code_execution_result"),
        ("code_execution_20250825", "bash_code_execution", "bash_code_execution_tool_result", "bash_code_execution_result"),
        ("code_execution_20260120", "bash_code_execution", "bash_code_execution_tool_result", "bash_code_execution_result"),
    ])
    func codeExecutionPrintsStdout(type: String, call: String, result: String, content: String) throws {
        let message = try answer(body(tools: #"{"type":"\#(type)","name":"code_execution"}"#, prompt: "Run a quick python check"))
        guard case .serverToolUse(let use) = message.content[0], case .other(let output) = message.content[1] else {
            Issue.record("expected a call and its result")
            return
        }
        #expect(use.name == call && output["type"]?.stringValue == result)
        #expect(output["content"]?["type"]?.stringValue == content)
        #expect(output["content"]?["stdout"]?.stringValue?.hasSuffix("\n") == true)
        #expect(output["content"]?["return_code"] == 0)
    }

    @Test func plainPromptsAndNoneChoicesRunNothing() throws {
        let search = #"{"type":"web_search_20250305","name":"web_search"}"#
        #expect(!types(try answer(body(tools: search, prompt: "Say hello"))).contains("server_tool_use"))
        #expect(
            !types(try answer(body(tools: search, prompt: "search tapes", choice: #","tool_choice":{"type":"none"}"#)))
                .contains("server_tool_use"))
        #expect(
            types(try answer(body(tools: search, prompt: "Say hello", choice: #","tool_choice":{"type":"any"}"#)))
                .contains("server_tool_use"))
    }

    @Test func noRoomInMaxTokensNoCalls() throws {
        let text =
            #"{"model":"claude-sonnet-4-5","max_tokens":40,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"search"}]}"#
        let message = try answer(text)
        #expect(!types(message).contains("server_tool_use") && message.usage.outputTokens <= 40)
    }

    @Test func sameRequestSameTurn() throws {
        let text = body(tools: #"{"type":"web_search_20250305","name":"web_search"}"#, prompt: "search reels")
        #expect(JSONWriter.bytes(try answer(text).json) == JSONWriter.bytes(try answer(text).json))
    }
}
