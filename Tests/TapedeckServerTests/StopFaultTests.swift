import MessagesAPI
import Testing

@testable import TapedeckServer

@Suite("Forced stop reasons")
struct StopFaultTests {
    @Test func refusalParsesItsCategoryAndExplanation() throws {
        let faults = try Faults(parsing: "refusal;category=bio;explanation=Not%20here")
        #expect(faults.stop == .refusal(category: "bio", explanation: "Not here"))
        #expect(try Faults(parsing: "pause_turn").stop == .pauseTurn)
        #expect(try Faults(parsing: "model_context_window_exceeded, tps=50").stop == .contextWindowExceeded)
        #expect(Policy.effect(of: try Faults(parsing: "refusal"), wantsStream: false) == .none, "it shapes the answer")
    }

    @Test(arguments: ["refusal;category=space", "refusal, pause_turn", "pause_turn;after=2"])
    func mistakesAreRefused(spec: String) {
        #expect(throws: APIError.self) { try Faults(parsing: spec) }
    }

    @Test func applyingEndsTheMessageAndDropsAToolCall() {
        var message = Message(
            id: "msg_1", model: "m",
            content: [.text(.init(text: "Let me")), .toolUse(.init(id: "toolu_1", name: "wind", input: .object(JSONObject())))],
            stopReason: "tool_use", usage: Usage(inputTokens: 1, outputTokens: 2))
        Faults.Stop.refusal(category: "cyber", explanation: nil).apply(to: &message)
        #expect(message.stopReason == "refusal" && message.content.map(\.type) == ["text"])
        #expect(message.stopDetails == ["type": "refusal", "category": "cyber", "explanation": .null])
        Faults.Stop.pauseTurn.apply(to: &message)
        #expect(message.stopReason == "pause_turn" && message.stopDetails == nil)
    }
}
