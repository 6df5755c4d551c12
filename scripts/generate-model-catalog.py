#!/usr/bin/env python3
"""Regenerates Sources/MessagesAPI/ModelCatalog+Standard.swift, the built-in model catalog, from the installed
`anthropic` package and scripts/model-metadata.json.

From the SDK: every id of `anthropic.types.ModelParam` (its Literal), in its order (newest first), and the
deprecations in `anthropic._data.DEPRECATED_MODELS` (id -> end-of-life date): those models get lifecycle
"deprecated" and that date as `retires_at`. Nothing here reads the clock: a date in the past stays "deprecated",
as the API's own `lifecycle` documentation says ("a past date on a deprecated model means retirement is overdue").

From scripts/model-metadata.json: real metadata (display name, release date, limits, prefill, line) for the
models we know, and entries the SDK no longer lists (older dated models, gateway models), which are kept.
An SDK id the table does not describe is derived from its name, as ModelInfo.inferred does at run time: the line
from the id (opus, sonnet, haiku, fable, mythos), "Claude Opus 5.5" from claude-opus-5-5, the limits and rules of
the line's newest known model (or generous defaults), and the epoch as created_at (the API's value for unknown).

Usage:
    Tests/Interop/.venv-2/bin/python scripts/generate-model-catalog.py           # rewrite the Swift file
    Tests/Interop/.venv-2/bin/python scripts/generate-model-catalog.py --check   # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "Sources/MessagesAPI/ModelCatalog+Standard.swift"
METADATA = ROOT / "scripts/model-metadata.json"

LINES = ["opus", "sonnet", "haiku", "fable", "mythos"]
UNKNOWN_CREATED_AT = "1970-01-01T00:00:00Z"
# The same generous defaults as ModelInfo.generousInputTokens / generousOutputTokens.
GENEROUS_INPUT, GENEROUS_OUTPUT = 1_000_000, 128_000
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]


def sdk_data():
    import anthropic
    from anthropic.types import ModelParam

    ids: list[str] = []
    for arg in typing.get_args(ModelParam):
        ids.extend(a for a in typing.get_args(arg) if isinstance(a, str))
    try:
        from anthropic._data import DEPRECATED_MODELS
    except ImportError:  # older SDKs kept it next to the messages resource
        from anthropic.resources.messages.messages import DEPRECATED_MODELS
    return anthropic.__version__, ids, dict(DEPRECATED_MODELS)


def rfc3339(date_text: str) -> str:
    """'June 30th, 2026' -> '2026-06-30T00:00:00Z'."""
    m = re.fullmatch(r"\s*([A-Za-z]+)\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\s*", date_text)
    if not m or m.group(1).lower() not in MONTHS:
        raise SystemExit(f"cannot read the SDK's deprecation date {date_text!r}")
    month = MONTHS.index(m.group(1).lower()) + 1
    return f"{m.group(3)}-{month:02d}-{int(m.group(2)):02d}T00:00:00Z"


def line_of(model_id: str) -> str | None:
    return next((w for w in re.split(r"[-.]", model_id) if w in LINES), None)


def display_name(model_id: str) -> str:
    words = model_id.split("-")
    if len(words) > 1 and re.fullmatch(r"\d{8}", words[-1]):
        words.pop()
    parts: list[str] = []
    previous_number = False
    for word in words:
        number = word.isdigit()
        if number and previous_number:
            parts[-1] += "." + word
        else:
            parts.append(word[:1].upper() + word[1:])
        previous_number = number
    return " ".join(parts)


def derive(model_id: str, known: list[dict]) -> tuple[dict, str]:
    line = line_of(model_id)
    relatives = [m for m in known if line and m.get("line") == line]
    newest = max(relatives, key=lambda m: m["created_at"]) if relatives else None
    entry = {
        "id": model_id,
        "display_name": display_name(model_id),
        "created_at": UNKNOWN_CREATED_AT,
        "max_input_tokens": newest["max_input_tokens"] if newest else GENEROUS_INPUT,
        "max_tokens": newest["max_tokens"] if newest else GENEROUS_OUTPUT,
        "line": line,
    }
    for key in ("supports_thinking", "supports_prefill", "requires_user_first"):
        if newest and key in newest:
            entry[key] = newest[key]
    source = f"limits and rules of {newest['id']}" if newest else "generous default limits"
    return entry, f"Derived from the id (not in scripts/model-metadata.json): line {line or 'none'}, {source}."


def build(version: str, sdk_ids: list[str], deprecated: dict[str, str], metadata: list[dict]):
    by_name: dict[str, dict] = {}
    for entry in metadata:
        for name in [entry["id"], *entry.get("aliases", [])]:
            by_name[name] = entry
    known = [m for m in metadata if not m.get("gateway")]
    emitted: list[tuple[dict, str | None]] = []
    seen: set[str] = set()
    sdk_set = set(sdk_ids)
    for model_id in sdk_ids:
        entry = by_name.get(model_id)
        note = None
        if entry is None:
            # A dated id whose undated form the SDK also lists is that model's alias, and the other way round.
            base = re.sub(r"-\d{8}$", "", model_id)
            dated = next((i for i in sdk_ids if i != model_id and re.sub(r"-\d{8}$", "", i) == model_id), None)
            if base != model_id and base in sdk_set:
                continue  # handled with its undated form
            entry, note = derive(dated or model_id, known)
            if dated:
                entry["aliases"] = [model_id]
            for name in [entry["id"], *entry.get("aliases", [])]:
                by_name[name] = entry
        if entry["id"] in seen:
            continue
        seen.add(entry["id"])
        emitted.append((entry, note))
    for entry in metadata:
        if entry["id"] not in seen:
            seen.add(entry["id"])
            emitted.append((entry, None))

    models = []
    for entry, note in emitted:
        names = [entry["id"], *entry.get("aliases", [])]
        retires = next((deprecated[n] for n in names if n in deprecated), None)
        model = dict(entry)
        if retires is not None:
            model["lifecycle"] = "deprecated"
            model["retires_at"] = rfc3339(retires)
        models.append((model, note))
    return swift(version, sdk_ids, models)


def swift_string(text: str) -> str:
    return json.dumps(text)


def swift_int(n: int) -> str:
    return f"{n:_}"


def swift(version: str, sdk_ids: list[str], models: list[tuple[dict, str | None]]) -> str:
    out = [
        f"// Generated by scripts/generate-model-catalog.py from anthropic {version} and scripts/model-metadata.json.",
        "// Do not edit: change scripts/model-metadata.json (or update the pinned SDK) and regenerate with",
        "//     Tests/Interop/.venv-2/bin/python scripts/generate-model-catalog.py",
        "// CI runs it with --check, which fails when this file is stale.",
        "",
        "extension ModelCatalog {",
        f"    /// The ids of the SDK's `ModelParam` (anthropic {version}) this catalog was generated from, in its order.",
        "    public static let sdkModelIDs: [String] = [",
    ]
    out += [f"        {swift_string(i)}," for i in sdk_ids]
    out += [
        "    ]",
        "",
        "    /// The catalog Tapedeck ships, newest first: the SDK's models, then older ones and models that",
        "    /// Anthropic-compatible gateways serve.",
        "    public static let standard = ModelCatalog(models: [",
    ]
    for model, note in models:
        if note:
            out.append(f"        // {note}")
        args = [f"id: {swift_string(model['id'])}"]
        if model.get("aliases"):
            args.append("aliases: [" + ", ".join(swift_string(a) for a in model["aliases"]) + "]")
        args.append(f"displayName: {swift_string(model['display_name'])}")
        args.append(f"createdAt: {swift_string(model['created_at'])}")
        args.append(f"maxInputTokens: {swift_int(model['max_input_tokens'])}")
        args.append(f"maxOutputTokens: {swift_int(model['max_tokens'])}")
        if model.get("supports_thinking") is False:
            args.append("supportsThinking: false")
        if model.get("supports_prefill") is False:
            args.append("supportsPrefill: false")
        if model.get("requires_user_first"):
            args.append("requiresUserFirst: true")
        if model.get("line"):
            args.append(f"line: {swift_string(model['line'])}")
        if model.get("lifecycle", "active") != "active":
            args.append(f"lifecycle: .{model['lifecycle']}")
        if model.get("deprecated_at"):
            args.append(f"deprecatedAt: {swift_string(model['deprecated_at'])}")
        if model.get("retires_at"):
            args.append(f"retiresAt: {swift_string(model['retires_at'])}")
        out.append("        ModelInfo(")
        out += [f"            {a}," for a in args[:-1]]
        out.append(f"            {args[-1]}")
        out.append("        ),")
    out += ["    ])", "}", ""]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the generated file is not current")
    args = parser.parse_args()
    version, sdk_ids, deprecated = sdk_data()
    metadata = json.loads(METADATA.read_text())["models"]
    text = build(version, sdk_ids, deprecated, metadata)
    current = OUTPUT.read_text() if OUTPUT.exists() else ""
    if args.check:
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale (anthropic {version}): regenerate it with "
                  f"scripts/generate-model-catalog.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} is current (anthropic {version}, {len(sdk_ids)} SDK ids)")
        return 0
    if current != text:
        OUTPUT.write_text(text)
        print(f"wrote {OUTPUT.relative_to(ROOT)} (anthropic {version}, {len(sdk_ids)} SDK ids)")
    else:
        print(f"{OUTPUT.relative_to(ROOT)} already current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
