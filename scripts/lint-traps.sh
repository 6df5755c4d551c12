#!/usr/bin/env bash
# lint-traps: finds Swift code that can trap (crash the process) on bad input, in Sources/**/*.swift.
#
#   scripts/lint-traps.sh [PATH...]     # default: Sources (relative to the repository root)
#   scripts/lint-traps.sh --self-test   # checks the lint against built-in samples
#
# Patterns (string literals and comments are ignored; code inside "\(...)" interpolations is checked):
#   try!              forced try
#   as!               forced cast
#   force-unwrap      a postfix `!` on a value: foo!, foo()!, x[0]!, $0!  (not `!=`, not prefix `!flag`,
#                     not implicitly unwrapped declarations such as `var x: Int!` or `-> [String]!`)
#   first!            .first! / .last!
#   removeFirst()     .removeFirst() / .removeLast() (trap on an empty collection)
#   duration          .milliseconds( .seconds( .microseconds( .nanoseconds( (implicit member or Duration.)
#                     whose argument is not a plain number literal: `.seconds(Double(x) / rate)` traps on
#                     inf/NaN/huge values, and so on
#   int-from-double   Int(...) / Int64(...) ... of an expression computed with Double(...)/Float(...): traps
#                     when the value is NaN, infinite or out of range
#
# A line opts out with a trailing comment `// lint: allow <reason>` (a reason is required; without one the
# finding stands and says so). Prints one `file:line: pattern: code` line per finding, then
# `lint-traps: N finding(s)`; exits 0 when N is 0, 1 otherwise, 2 on a usage or internal error.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    echo "lint-traps: python3 is required" >&2
    exit 2
fi

exec "$python" - "$root" "$@" <<'PY'
import os
import re
import sys

ROOT = sys.argv[1]
ARGS = sys.argv[2:]

IDENT = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")


# -- lexing: blank out comments and string contents, keep interpolated code, keep offsets and newlines ----------

def strip(src):
    """(code, comments): ``code`` is ``src`` with comment text and string-literal contents replaced by spaces
    (newlines kept, so offsets and line numbers do not move; quotes and the code of interpolations are kept);
    ``comments`` maps a 1-based line number to the text of the `//` comments on it."""
    out = list(src)
    comments = {}
    n = len(src)

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    def line_of(i):
        return src.count("\n", 0, i) + 1

    def code(i, interp):
        """Lex code from ``i``; in an interpolation, stop after the ``)`` that closes it. Returns the end."""
        depth = 0
        while i < n:
            c = src[i]
            if c == "/" and src.startswith("//", i):
                j = src.find("\n", i)
                j = n if j < 0 else j
                comments.setdefault(line_of(i), []).append(src[i:j])
                blank(i, j)
                i = j
            elif c == "/" and src.startswith("/*", i):
                j, level = i + 2, 1
                while j < n and level:
                    if src.startswith("/*", j):
                        level, j = level + 1, j + 2
                    elif src.startswith("*/", j):
                        level, j = level - 1, j + 2
                    else:
                        j += 1
                blank(i, j)
                i = j
            elif c == '"' or (c == "#" and re.match(r'#+"', src[i:i + 64])):
                i = string(i)
            elif c == "(":
                depth += 1
                i += 1
            elif c == ")":
                if interp and depth == 0:
                    return i + 1
                depth -= 1
                i += 1
            else:
                i += 1
        return i

    def string(i):
        """Lex a string literal starting at ``i`` (``"``, ``\"\"\"``, ``#"``...). Returns the end."""
        hashes = 0
        while src[i + hashes] == "#":
            hashes += 1
        j = i + hashes
        multi = src.startswith('"""', j)
        quote = '"""' if multi else '"'
        j += len(quote)
        close = quote + "#" * hashes
        escape = "\\" + "#" * hashes
        start = j
        while j < n:
            if src.startswith(escape, j):
                k = j + len(escape)
                if k < n and src[k] == "(":
                    blank(start, j + len(escape))
                    j = code(k + 1, True)
                    start = j
                else:
                    j = k + 1
            elif src.startswith(close, j):
                blank(start, j)
                return j + len(close)
            elif src[j] == "\n" and not multi:
                break  # unterminated: stop at the end of the line
            else:
                j += 1
        blank(start, j)
        return j

    code(0, False)
    return "".join(out), comments


def matching_paren(code, i):
    """The index just after the ``)`` matching the ``(`` at ``i`` (or len(code))."""
    depth = 0
    for k in range(i, len(code)):
        if code[k] in "([{":
            depth += 1
        elif code[k] in ")]}":
            depth -= 1
            if depth == 0:
                return k + 1
    return len(code)


def operand(before):
    """Where the postfix expression at the end of ``before`` starts (``foo``, ``x[0]``, ``HTTPField.Name("")``)."""
    k = len(before)
    while k > 0:
        c = before[k - 1]
        if c in ")]":
            depth = 0
            while k > 0:
                k -= 1
                if before[k] in ")]":
                    depth += 1
                elif before[k] in "([":
                    depth -= 1
                    if depth == 0:
                        break
        elif c in IDENT or c == ".":
            k -= 1
        else:
            break
    return k


# -- rules ---------------------------------------------------------------------------------------------------------

# A type right before `!` in a declaration (`: Int!`, `-> [String: Int]!`, `: Foo<Bar>!`, `: (Int) -> Int)!`).
TYPE_NAME = r"[A-Z]\w*(?:\.[A-Z]\w*)*(?:<[^<>()]*>)?"
IUO_BEFORE = re.compile(
    r"(?::|->)\s*(?:" + TYPE_NAME + r"|\[\s*" + TYPE_NAME + r"(?:\s*:\s*" + TYPE_NAME + r")?\s*\]|\([^()]*\)(?:\s*->\s*[^!]*)?)$"
)
DURATION = re.compile(r"(?:(?<![\w)\]\}?!])|(?<=\bDuration))\.(milliseconds|seconds|microseconds|nanoseconds)\(")
NUMBER_LITERAL = re.compile(r"\s*[-+]?\s*(?:0x[0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9_]+)?(?:[eE][-+]?[0-9_]+)?)"
                            r"(?:\s*[-+*]\s*[0-9][0-9_]*)*\s*")
LABELED = re.compile(r"\s*\w+\s*:(?!:)")
INT_CONVERSION = re.compile(r"(?<![\w.])(?:U?Int(?:8|16|32|64)?)\(")
FLOAT_MAKER = re.compile(r"\b(?:Double|Float|Float80|CGFloat|TimeInterval)\(")
ALLOW = re.compile(r"//\s*lint:\s*allow\b(.*)$")


def findings_in(path, src):
    code, comments = strip(src)
    lines = code.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    found = []  # (line, pattern, detail)

    def line_at(i):
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= i:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    def add(i, pattern, detail=""):
        found.append((line_at(i), pattern, detail))

    # Postfix `!`: try!, as!, .first!/.last!, other force unwraps.
    for m in re.finditer(r"!", code):
        i = m.start()
        if i == 0 or code[i - 1] not in IDENT and code[i - 1] not in ")]":
            continue  # prefix negation (`!flag`, `(!x)`, `a && !b`) or not an operand
        if code[i + 1:i + 2] == "=":
            continue  # `!=`, `!==`
        line_start = starts[line_at(i) - 1]
        before = code[line_start:i]
        word = re.search(r"[\w$]+$", before)
        word = word.group(0) if word else ""
        if word == "try" and not before[:-3].endswith("."):
            add(i, "try!")
        elif word == "as" and not before[:-2].endswith("."):
            add(i, "as!")
        elif re.search(r"\.(first|last)$", before):
            add(i, "first!", src[line_start + operand(before):i + 1].strip()[-60:])
        elif IUO_BEFORE.search(before):
            continue  # implicitly unwrapped optional in a declaration
        else:
            add(i, "force-unwrap", src[line_start + operand(before):i + 1].strip()[-60:])

    for m in re.finditer(r"\.(removeFirst|removeLast)\(\s*\)", code):
        add(m.start(), m.group(1) + "()")

    for m in DURATION.finditer(code):
        open_paren = m.end() - 1
        end = matching_paren(code, open_paren)
        argument = code[open_paren + 1:end - 1]
        if LABELED.match(argument):
            continue  # not Duration's unlabeled factory (e.g. `Self.milliseconds(since: start)`)
        if NUMBER_LITERAL.fullmatch(argument):
            continue
        add(m.start(), "duration", "." + m.group(1) + "(" + " ".join(src[open_paren + 1:end - 1].split())[:60] + ")")

    for m in INT_CONVERSION.finditer(code):
        open_paren = m.end() - 1
        end = matching_paren(code, open_paren)
        argument = code[open_paren + 1:end - 1]
        if LABELED.match(argument) or not FLOAT_MAKER.search(argument):
            continue
        add(m.start(), "int-from-double", " ".join(src[m.start():end].split())[:70])

    results = []
    src_lines = src.split("\n")
    for line, pattern, detail in sorted(set(found)):
        note = ""
        allow = None
        for comment in comments.get(line, []):
            a = ALLOW.search(comment)
            if a:
                allow = a.group(1).strip()
        if allow:
            continue
        if allow is not None:
            note = " [`// lint: allow` needs a reason]"
        text = src_lines[line - 1].strip() if line - 1 < len(src_lines) else ""
        results.append(f"{path}:{line}: {pattern}{(' ' + detail) if detail else ''}{note}: {text[:160]}")
    return results


def swift_files(paths):
    for p in paths:
        full = p if os.path.isabs(p) else os.path.join(ROOT, p)
        if os.path.isfile(full):
            yield p, full
            continue
        if not os.path.isdir(full):
            print(f"lint-traps: no such file or directory: {p}", file=sys.stderr)
            sys.exit(2)
        for dirpath, dirnames, filenames in os.walk(full):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(".swift"):
                    f = os.path.join(dirpath, name)
                    yield os.path.relpath(f, ROOT) if not os.path.isabs(p) else f, f


SELF_TEST = r'''
let a = foo!                                   // 1 force-unwrap
let b = foo()!                                 // 2 force-unwrap
let c = x[0]!                                  // 3 force-unwrap
let d = y as! Int                              // 4 as!
let e = try! load()                            // 5 try!
let f = list.first!                            // 6 first!
queue.removeFirst()                            // 7 removeFirst()
try await Task.sleep(for: .seconds(Double(n) / rate))   // 8 duration + int? no: duration only
try await Task.sleep(for: .milliseconds(latency))       // 9 duration
let g = Int(Double(ms) / speed)                // 10 int-from-double
let h = "\(value!.name)"                       // 11 force-unwrap inside an interpolation
if a != b, !flag, (!x), a&&!b { }
let s = "not! code!" + #"raw "quoted"! \(x)"# // a raw string: \( is no interpolation there
/* block comment foo! /* nested bar! */ still comment baz! */
var iuo: Int!
var iuo2: [String: Int]!
func f() -> Foo<Bar>! { fatalError() }
let ok = .seconds(5) + .milliseconds(1_500) + .nanoseconds(-1) + .seconds(0.25)
let label = Self.milliseconds(since: start)
let multi = """
    text with ! and foo! and \(bar!) inside
    """                                        // 21: bar! in the interpolation on line 21
queue.removeLast() // lint: allow checked non-empty two lines up
queue.removeLast() // lint: allow
let m = x!.y; let n = $0!; z! = 3              // 25: three force-unwraps
'''
EXPECTED = {
    (1, "force-unwrap"), (2, "force-unwrap"), (3, "force-unwrap"), (4, "as!"), (5, "try!"), (6, "first!"),
    (7, "removeFirst()"), (8, "duration"), (9, "duration"), (10, "int-from-double"), (11, "force-unwrap"),
    (21, "force-unwrap"), (24, "removeLast()"), (25, "force-unwrap"),
}


def self_test():
    results = findings_in("sample.swift", SELF_TEST.lstrip("\n"))
    got = {(int(r.split(":")[1]), r.split(":")[2].split()[0]) for r in results}
    if got != EXPECTED:
        print("lint-traps self-test FAILED", file=sys.stderr)
        print("  missing:    " + repr(sorted(EXPECTED - got)), file=sys.stderr)
        print("  unexpected: " + repr(sorted(got - EXPECTED)), file=sys.stderr)
        for r in results:
            print("  " + r, file=sys.stderr)
        return 1
    if not any("needs a reason" in r for r in results):
        print("lint-traps self-test FAILED: an allow without a reason was not reported", file=sys.stderr)
        return 1
    print(f"lint-traps self-test: ok ({len(results)} findings as expected)")
    return 0


def main():
    if ARGS[:1] == ["--self-test"]:
        return self_test()
    if any(a.startswith("-") for a in ARGS):
        print("usage: scripts/lint-traps.sh [--self-test | PATH...]", file=sys.stderr)
        return 2
    total = 0
    for shown, full in swift_files(ARGS or ["Sources"]):
        with open(full, encoding="utf-8", errors="replace") as fh:
            src = fh.read()
        for line in findings_in(shown, src):
            print(line)
            total += 1
    print(f"lint-traps: {total} finding(s)")
    return 1 if total else 0


sys.exit(main())
PY
