import MessagesAPI

/// Requests shaped like the ones Claude Code 2.1.332 sends (`POST /v1/messages?beta=true`), for one run of it:
/// what changes between two runs (session and device ids, the date, the working directory, the release) is a
/// property, so a test can make the first run's request and a second run's.
public struct ClaudeCodeRun: Sendable {
    public var sessionID: String
    public var deviceID: String
    public var accountID = "0b7e1a52-9c4d-4f6e-8a21-3d5c7e9f1b20"
    public var date: String
    /// The working directory, a fresh temporary one per run.
    public var directory: String
    /// `cc_version` in the billing header.
    public var version: String
    /// When the session started (a time of day, UTC).
    public var time = "09:41:07.512Z"
    /// The newest commit in `git status`, made afresh by a test that creates its repository each run.
    public var commit = "9fceb02"
    public var prompt = "Say hello in one word."
    /// The older `metadata.user_id` form (`user_<hash>_account_<uuid>_session_<uuid>`).
    public var legacyUserID = false

    public init(sessionID: String, deviceID: String, date: String, directory: String, version: String) {
        self.sessionID = sessionID
        self.deviceID = deviceID
        self.date = date
        self.directory = directory
        self.version = version
    }

    /// A first run: `claude -p` in `/tmp/tmp.Xq3vB7kP2a` on 2026-12-01.
    public static let first = ClaudeCodeRun(
        sessionID: "3f6c1d2e-8a4b-4c9d-9e7f-1a2b3c4d5e6f", deviceID: "5d0f9e8c7b6a5d4c3b2a1f0e9d8c7b6a5d4c3b2a1f0e9d8c7b6a5d4c3b2a1f0e",
        date: "2026-12-01", directory: "/tmp/tmp.Xq3vB7kP2a", version: "2.1.332.1c9")

    /// A second run the next day, in another temporary directory, after an upgrade: it must match the first.
    public static let second: ClaudeCodeRun = {
        var run = ClaudeCodeRun(
            sessionID: "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", deviceID: "5d0f9e8c7b6a5d4c3b2a1f0e9d8c7b6a5d4c3b2a1f0e9d8c7b6a5d4c3b2a1f0e",
            date: "2026-12-02", directory: "/tmp/tmp.Lm8Nw2Qr5t", version: "2.1.333.4fa")
        run.time = "17:03:55.004Z"
        run.commit = "3e1a7c9"
        return run
    }()

    /// The headers Claude Code sends (its key aside).
    public var headers: [(String, String)] {
        [
            ("content-type", "application/json"), ("anthropic-version", "2023-06-01"), ("x-api-key", "sk-ant-test"),
            ("user-agent", "claude-cli/\(version.split(separator: ".").prefix(3).joined(separator: ".")) (external, sdk-cli)"),
            ("x-app", "cli"), ("x-claude-code-session-id", sessionID),
            ("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27"),
        ]
    }

    /// Claude Code's folder for this working directory's transcripts and scratch files.
    var projectFolder: String { String(directory.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }) }

    var userID: String {
        if legacyUserID { return "user_\(deviceID)_account_\(accountID)_session_\(sessionID)" }
        return #"{"device_id":"\#(deviceID)","account_uuid":"\#(accountID)","session_id":"\#(sessionID)"}"#
    }

    var environment: String {
        """
        # Environment
        You have been invoked in the following environment:
         - Primary working directory: \(directory)
         - Is a git repository: false
         - Platform: linux
         - Shell: bash
         - OS Version: Linux 6.8.0-1019-gcp
         - Scratchpad directory: /tmp/claude-0/\(projectFolder)/\(sessionID)/scratchpad \u{2014} always use it for temporary files instead of `/tmp`.
        """
    }

    func reminder(_ text: String) -> JSONValue {
        ["type": "text", "text": .string("<system-reminder>\n\(text)\n</system-reminder>")]
    }

    /// The body of the run's first request, as Claude Code sends it. With `systemEntry` the environment is a
    /// `role: "system"` message (as with `claude-opus-5-5`) rather than part of the system prompt.
    public func body(stream: Bool = true, systemEntry: Bool = false) -> String {
        let reminders: [JSONValue] = [
            reminder("As you answer the user's questions, you can use the following context:"),
            reminder("# claudeMd\nCodebase and user instructions are shown below."),
            reminder("The user opened the file \(directory)/notes.md in the IDE."),
            reminder(
                "gitStatus: This is the git status at the start of the conversation.\nCurrent branch: main\n\nRecent commits:\n\(commit) Initial commit"
            ),
            reminder("Session transcript: ~/.claude/projects/\(projectFolder)/\(sessionID).jsonl, started \(date)T\(time)"),
            reminder("Skills are available in \(directory)/.claude/skills."),
            reminder("Today's date is \(date)."),
        ]
        let prompt: JSONValue = ["type": "text", "text": .string(prompt), "cache_control": ["type": "ephemeral"]]
        var system: [JSONValue] = [
            ["type": "text", "text": .string("x-anthropic-billing-header: cc_version=\(version); cc_entrypoint=sdk-cli")],
            [
                "type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude, running within the Claude Agent SDK.",
                "cache_control": ["type": "ephemeral"],
            ],
        ]
        var messages: [JSONValue] = []
        let instructions =
            "You are an interactive agent that helps users with software engineering tasks. You have a persistent memory at `/root/.claude/projects/\(projectFolder)/memory/`."
        messages.append(["role": "user", "content": .array(reminders + [prompt])])
        if systemEntry {
            // As captured: the environment entry follows the first user turn.
            system.append(["type": "text", "text": .string(instructions), "cache_control": ["type": "ephemeral"]])
            messages.append(["role": "system", "content": [["type": "text", "text": .string(environment)]]])
        } else {
            system.append(["type": "text", "text": .string(instructions + "\n\n" + environment), "cache_control": ["type": "ephemeral"]])
        }
        let body: JSONValue = [
            "model": systemEntry ? "claude-opus-5-5" : "claude-opus-4-7",
            "max_tokens": systemEntry ? 128000 : 64000,
            "stream": .bool(stream),
            "thinking": ["type": "adaptive", "display": "omitted"],
            "output_config": ["effort": "medium"],
            "context_management": ["edits": [["type": "clear_thinking_20251015", "keep": "all"]]],
            "metadata": ["user_id": .string(userID)],
            "system": .array(system),
            "tools": [
                [
                    "name": "Read", "description": "Reads a file from the local filesystem.", "defer_loading": false,
                    "input_schema": [
                        "type": "object", "properties": ["file_path": ["type": "string"]], "required": ["file_path"],
                    ],
                ]
            ],
            "messages": .array(messages),
        ]
        return JSONWriter.string(body)
    }
}
