import MessagesAPI

/// The `claude-code` match profile: what Claude Code writes into a request that changes from one run to the next,
/// rewritten to stable placeholders, so a second run (new session, fresh temporary directory, another day) matches
/// the first run's recordings.
///
/// - The billing-header block (`x-anthropic-billing-header: cc_version=…`, new with every release): its text.
/// - The working and scratchpad directories the request names (`Primary working directory: …`), wherever they
///   appear, and Claude Code's project-folder form of them (`-tmp-tmp-abc123`): `<cwd>`, `<scratchpad>`,
///   `<cwd-slug>`.
/// - Temporary paths (`/tmp/X`, `/var/folders/…/T/X`, pytest's `/tmp/pytest-of-U/pytest-N`): `<tmp>`; home
///   directories (`/home/U`, `/Users/U`, `/root`): `~`.
/// - UUIDs (session ids): `<uuid>`.
/// - In the scaffolding only (the system prompt, `role: "system"` messages, `<system-reminder>` blocks and the
///   "Today's date is" line), where they describe the run rather than the conversation: ISO dates and times
///   (`<date>`), commit hashes (`<hash>`) and the `OS Version:` line.
///
/// `metadata.user_id` (a JSON string with the device and session ids, or the older `user_…_session_…` form) is
/// left out of every fingerprint already (`Fingerprint.defaultIgnoredPaths`).
///
/// The rules scan each string's UTF-8 bytes once, with no regular expression: every request from Claude Code pays
/// for them, and its bodies run to hundreds of kilobytes.
enum ClaudeCodeProfile {
    static let billingPrefix = "x-anthropic-billing-header:"
    static let billingNormalized = "x-anthropic-billing-header: <normalized>"

    static func normalize(_ body: JSONValue) -> JSONValue {
        guard case .object(let object) = body else { return body }
        let rewriter = Rewriter(directories: directories(in: object))
        let entries = object.entries.map { entry -> (String, JSONValue) in
            switch entry.key {
            case "system":
                return (entry.key, entry.value.mappingStrings { rewriter.rewrite($0, scaffolding: true) })
            case "messages" where entry.value.arrayValue != nil:
                return (entry.key, .array((entry.value.arrayValue ?? []).map { rewriter.rewrite(message: $0) }))
            default:
                return (entry.key, entry.value.mappingStrings { rewriter.rewrite($0, scaffolding: false) })
            }
        }
        return .object(JSONObject(entries))
    }

    /// Whether a string inside a message is scaffolding Claude Code added, not the conversation.
    static func isScaffolding(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            // One pass for both markers: message strings are most of a long conversation's bytes.
            for i in bytes.indices where bytes[i] == UInt8(ascii: "<") || bytes[i] == UInt8(ascii: "T") {
                if Bytes.hasPrefix(bytes, at: i, reminderTag) || Bytes.hasPrefix(bytes, at: i, todaysDate) { return true }
            }
            return false
        }
    }

    static let reminderTag = Array("<system-reminder>".utf8)
    static let todaysDate = Array("Today's date is".utf8)

    /// The directories the request names, with the placeholder for each.
    static func directories(in object: JSONObject) -> [(path: String, placeholder: String)] {
        var found: [(String, String)] = []
        func scan(_ text: String) {
            for (label, placeholder) in labels {
                var rest = Substring(text)
                while let range = rest.range(of: label) {
                    rest = rest[range.upperBound...]
                    var value = rest.prefix { $0 != "\n" }
                    // `Scratchpad directory: PATH — always use it …`
                    if let dash = value.range(of: " \u{2014}") { value = value[..<dash.lowerBound] }
                    let path = String(value.trimming { " \t\r`'\"".contains($0) })
                    if path.count > 1, path.first == "/" || path.first == "~" {
                        found.append((path, placeholder))
                    }
                }
            }
        }
        object["system"]?.forEachString(scan)
        for message in object["messages"]?.arrayValue ?? [] {
            let isSystem = message["role"]?.stringValue == "system"
            message.forEachString { if isSystem || isScaffolding($0) { scan($0) } }
        }
        return found
    }

    static let labels = [
        ("Primary working directory: ", "<cwd>"), ("Working directory: ", "<cwd>"), ("Scratchpad directory: ", "<scratchpad>"),
    ]

    /// Rewrites strings with the profile's rules, for one request (whose directories it knows).
    struct Rewriter {
        /// Exact byte strings to replace, longest first: the request's directories and their project-folder forms.
        let literals: [(bytes: [UInt8], replacement: [UInt8])]

        init(directories: [(path: String, placeholder: String)]) {
            var literals: [(bytes: [UInt8], replacement: [UInt8])] = []
            for (path, placeholder) in directories {
                var trimmed = Substring(path)
                while trimmed.count > 1, trimmed.last == "/" { trimmed = trimmed.dropLast() }
                literals.append((Array(trimmed.utf8), Array(placeholder.utf8)))
                guard placeholder == "<cwd>" else { continue }
                // Claude Code keeps a project's transcripts and scratch files in a folder named after the working
                // directory with every other character made `-` (some places also lower-case it).
                let slug = String(trimmed.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" })
                guard slug.utf8.count >= 8 else { continue }
                literals.append((Array(slug.utf8), Array("<cwd-slug>".utf8)))
                if slug.lowercased() != slug { literals.append((Array(slug.lowercased().utf8), Array("<cwd-slug>".utf8))) }
            }
            self.literals = literals.sorted { $0.bytes.count > $1.bytes.count }
        }

        func rewrite(message: JSONValue) -> JSONValue {
            if message["role"]?.stringValue == "system" { return message.mappingStrings { rewrite($0, scaffolding: true) } }
            return message.mappingStrings { rewrite($0, scaffolding: ClaudeCodeProfile.isScaffolding($0)) }
        }

        /// `text` with the rules applied; the same string when none matched (nothing is copied then).
        func rewrite(_ text: String, scaffolding: Bool) -> String {
            if text.hasPrefix(ClaudeCodeProfile.billingPrefix) { return ClaudeCodeProfile.billingNormalized }
            var text = text
            return text.withUTF8 { bytes -> String? in
                var output: [UInt8] = []
                var copied = 0
                var i = 0
                while i < bytes.count {
                    guard let (length, replacement) = match(bytes, at: i, scaffolding: scaffolding) else {
                        // Every rule starts at a word's first byte or at punctuation: skip the rest of a word.
                        let inWord = Bytes.isWord(bytes[i])
                        i += 1
                        while inWord, i < bytes.count, Bytes.isWord(bytes[i]) { i += 1 }
                        continue
                    }
                    if output.isEmpty { output.reserveCapacity(bytes.count) }
                    output.append(contentsOf: bytes[copied..<i])
                    output.append(contentsOf: replacement)
                    i += length
                    copied = i
                }
                guard copied > 0 else { return nil }
                output.append(contentsOf: bytes[copied...])
                return String(decoding: output, as: UTF8.self)
            } ?? text
        }

        /// The rule that matches at `i`: how many bytes it replaces, and with what.
        func match(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, scaffolding: Bool) -> (Int, [UInt8])? {
            let byte = bytes[i]
            let previous = i > 0 ? bytes[i - 1] : 0x20
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "~") || byte == UInt8(ascii: "-") {
                guard !Bytes.isSegment(previous) || byte == UInt8(ascii: "-") && previous == UInt8(ascii: "/") else { return nil }
                for literal in literals where Bytes.hasPrefix(bytes, at: i, literal.bytes) {
                    let end = i + literal.bytes.count
                    if end == bytes.count || !Bytes.isSegment(bytes[end]) { return (literal.bytes.count, literal.replacement) }
                }
                guard byte == UInt8(ascii: "/") else { return nil }
                if let length = Paths.temporary(bytes, at: i) { return (length, Placeholder.temporary) }
                if let length = Paths.home(bytes, at: i) { return (length, Placeholder.home) }
                return nil
            }
            guard Bytes.isHex(byte) || byte == UInt8(ascii: "O"), !Bytes.isWord(previous) else { return nil }
            if let length = Tokens.uuid(bytes, at: i) { return (length, Placeholder.uuid) }
            guard scaffolding else { return nil }
            if let length = Tokens.date(bytes, at: i) { return (length, Placeholder.date) }
            if let length = Tokens.hash(bytes, at: i) { return (length, Placeholder.hash) }
            if Bytes.hasPrefix(bytes, at: i, Tokens.osVersion) {
                var end = i + Tokens.osVersion.count
                while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
                return (end - i, Placeholder.osVersion)
            }
            return nil
        }
    }

    enum Placeholder {
        static let temporary = Array("<tmp>".utf8)
        static let home = Array("~".utf8)
        static let uuid = Array("<uuid>".utf8)
        static let date = Array("<date>".utf8)
        static let hash = Array("<hash>".utf8)
        static let osVersion = Array("OS Version: <os>".utf8)
    }

    /// Temporary and home directories at the start of a path.
    enum Paths {
        static let macTemporary = ["/private/var/folders/", "/var/folders/"].map { Array($0.utf8) }
        static let temporaryRoots = ["/private/tmp/", "/tmp/", "/var/tmp/", "/dev/shm/"].map { Array($0.utf8) }
        static let pytest = Array("pytest-of-".utf8)
        static let homeRoots = ["/home/", "/Users/"].map { Array($0.utf8) }
        static let root = Array("/root".utf8)

        /// `/tmp/X`, `/tmp/pytest-of-U/pytest-N`, `/var/folders/AB/CD/T/X`: the length up to the part that differs
        /// between runs.
        static func temporary(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
            for prefix in macTemporary where Bytes.hasPrefix(bytes, at: i, prefix) {
                var end = i + prefix.count
                for _ in 0..<2 {
                    let segment = Bytes.segmentEnd(bytes, from: end)
                    guard segment > end, segment < bytes.count, bytes[segment] == UInt8(ascii: "/") else { return nil }
                    end = segment + 1
                }
                guard end < bytes.count, bytes[end] == UInt8(ascii: "T") else { return nil }
                end += 1
                if end + 1 < bytes.count, bytes[end] == UInt8(ascii: "/"), Bytes.isSegment(bytes[end + 1]) {
                    end = Bytes.segmentEnd(bytes, from: end + 1)
                }
                return end - i
            }
            for prefix in temporaryRoots where Bytes.hasPrefix(bytes, at: i, prefix) {
                let start = i + prefix.count
                var end = Bytes.segmentEnd(bytes, from: start)
                guard end > start else { return nil }
                // pytest's `tmp_path`: `/tmp/pytest-of-USER/pytest-N/test_name0`, N counting up run by run.
                if Bytes.hasPrefix(bytes, at: start, pytest), end < bytes.count, bytes[end] == UInt8(ascii: "/") {
                    let next = Bytes.segmentEnd(bytes, from: end + 1)
                    if next > end + 1 { end = next }
                }
                return end - i
            }
            return nil
        }

        /// `/home/U`, `/Users/U` or `/root`: the length of the home directory.
        static func home(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
            for prefix in homeRoots where Bytes.hasPrefix(bytes, at: i, prefix) {
                let end = Bytes.segmentEnd(bytes, from: i + prefix.count)
                return end > i + prefix.count ? end - i : nil
            }
            if Bytes.hasPrefix(bytes, at: i, root) {
                let end = i + root.count
                if end == bytes.count || !Bytes.isSegment(bytes[end]) { return root.count }
            }
            return nil
        }
    }

    /// Tokens that name a run rather than a conversation.
    enum Tokens {
        static let osVersion = Array("OS Version: ".utf8)

        /// `8-4-4-4-12` hex digits.
        static func uuid(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
            guard i + 36 <= bytes.count else { return nil }
            for k in 0..<36 {
                let byte = bytes[i + k]
                if k == 8 || k == 13 || k == 18 || k == 23 {
                    guard byte == UInt8(ascii: "-") else { return nil }
                } else if !Bytes.isHex(byte) {
                    return nil
                }
            }
            return Bytes.endsWord(bytes, at: i + 36) ? 36 : nil
        }

        /// `YYYY-MM-DD`, optionally with a time (`THH:MM[:SS[.fff]]`, then `Z` or an offset).
        static func date(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
            var end = i
            func digits(_ n: Int) -> Bool {
                guard end + n <= bytes.count, (end..<end + n).allSatisfy({ Bytes.isDigit(bytes[$0]) }) else { return false }
                end += n
                return true
            }
            func literal(_ c: Character) -> Bool {
                guard end < bytes.count, let ascii = c.asciiValue, bytes[end] == ascii else { return false }
                end += 1
                return true
            }
            guard digits(4), literal("-"), digits(2), literal("-"), digits(2) else { return nil }
            let dateEnd = end
            if literal("T") || literal(" "), digits(2), literal(":"), digits(2) {
                var timeEnd = end
                if literal(":"), digits(2) {
                    timeEnd = end
                    if literal("."), digits(1) {
                        while end < bytes.count, Bytes.isDigit(bytes[end]) { end += 1 }
                        timeEnd = end
                    }
                }
                end = timeEnd
                if literal("Z") {
                    timeEnd = end
                } else if literal("+") || literal("-"), digits(2) {
                    _ = literal(":")
                    if digits(2) { timeEnd = end }
                }
                end = timeEnd
            } else {
                end = dateEnd
            }
            return end < bytes.count && Bytes.isDigit(bytes[end]) ? nil : end - i
        }

        /// A commit hash: 7 to 40 lower-case hex digits with at least one letter and one digit.
        static func hash(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
            var end = i
            var letters = false
            var digits = false
            while end < bytes.count, Bytes.isLowerHex(bytes[end]) {
                if Bytes.isDigit(bytes[end]) { digits = true } else { letters = true }
                end += 1
            }
            let length = end - i
            guard (7...40).contains(length), letters, digits, Bytes.endsWord(bytes, at: end) else { return nil }
            return length
        }
    }

    /// Byte classes, ASCII only: a multi-byte UTF-8 character is never split, since its bytes are all above 0x7F.
    enum Bytes {
        static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        static func isLowerHex(_ b: UInt8) -> Bool { isDigit(b) || (b >= 0x61 && b <= 0x66) }
        static func isHex(_ b: UInt8) -> Bool { isLowerHex(b) || (b >= 0x41 && b <= 0x46) }
        static func isLetter(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }
        /// Part of an identifier: a token next to one is not a token of its own.
        static func isWord(_ b: UInt8) -> Bool { isDigit(b) || isLetter(b) || b == UInt8(ascii: "_") }
        /// Part of a path segment (a file or directory name).
        static func isSegment(_ b: UInt8) -> Bool {
            b >= 0x80 || isWord(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "+")
                || b == UInt8(ascii: "@") || b == UInt8(ascii: "%") || b == UInt8(ascii: "~")
        }

        static func endsWord(_ bytes: UnsafeBufferPointer<UInt8>, at end: Int) -> Bool {
            end == bytes.count || !isWord(bytes[end])
        }

        static func segmentEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
            var end = start
            while end < bytes.count, isSegment(bytes[end]) { end += 1 }
            return end
        }

        static func hasPrefix(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, _ prefix: [UInt8]) -> Bool {
            guard i + prefix.count <= bytes.count else { return false }
            for k in 0..<prefix.count where bytes[i + k] != prefix[k] { return false }
            return true
        }
    }
}

extension Substring {
    /// Without the characters at either end for which `isTrimmed` holds.
    func trimming(_ isTrimmed: (Character) -> Bool) -> Substring {
        var s = self
        while let first = s.first, isTrimmed(first) { s = s.dropFirst() }
        while let last = s.last, isTrimmed(last) { s = s.dropLast() }
        return s
    }
}

extension JSONValue {
    /// Calls `body` with every string value, depth first.
    func forEachString(_ body: (String) -> Void) {
        switch self {
        case .string(let s): body(s)
        case .array(let items): for item in items { item.forEachString(body) }
        case .object(let object): for entry in object.entries { entry.value.forEachString(body) }
        default: break
        }
    }
}
