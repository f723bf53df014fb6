"""The expected answers to the sample events (tests/expected/<function>.json), for make sam-local.

The same files the Rust sample-event tests read, with the same rules (kit/test-support/
src/expected.rs says them): JSON Pointers into the answer as the function sends it on the wire,
matched exactly, or by `$starts_with`, `$absent`, and in `again` by `$same_as_first`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ROOT / "tests" / "expected"
EVENTS = ROOT / "events"

_MISSING = object()


@dataclass(frozen=True)
class Expected:
    function: str
    event: str
    answer: dict[str, Any]
    again: dict[str, Any] | None
    why: str | None  # set where the answer under sam local differs on purpose

    @property
    def path(self) -> Path:
        return EVENTS / self.function / self.event


def expectations(function: str) -> list[Expected]:
    """The function's sample events in the order they are sent, with what `sam local` must answer."""
    body = json.loads((EXPECTED / f"{function}.json").read_text())
    found = []
    for entry in body["events"]:
        local = entry.get("sam_local", {})
        found.append(Expected(function, entry["event"], local.get("answer", entry["answer"]), entry.get("again"), local.get("why")))
    files = sorted(p.name for p in (EVENTS / function).iterdir())
    if files != sorted(e.event for e in found):
        raise SystemExit(f"tests/expected/{function}.json and events/{function}/ do not name the same files")
    return found


def secrets(function: str) -> dict[str, str]:
    return json.loads((EXPECTED / f"{function}.json").read_text()).get("secrets", {})


def normalized(answer: Any) -> Any:
    """An HTTP answer with one lower-case `headers` map and its body read as JSON where it is."""
    if not isinstance(answer, dict) or "statusCode" not in answer:
        return answer
    headers = {name.lower(): values[0] for name, values in (answer.get("multiValueHeaders") or {}).items() if values}
    headers.update({name.lower(): value for name, value in (answer.get("headers") or {}).items()})
    raw = answer.get("body") or ""
    data = base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode()
    try:
        body: Any = json.loads(data)
    except ValueError:
        body = data.decode("utf-8", "replace")
    return {"statusCode": answer["statusCode"], "headers": headers, "body": body}


def pointer(document: Any, path: str) -> Any:
    """RFC 6901: the value at `path`, or _MISSING."""
    if path == "":
        return document
    for token in path.lstrip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(document, dict) and token in document:
            document = document[token]
        elif isinstance(document, list) and token.isdigit() and int(token) < len(document):
            document = document[int(token)]
        else:
            return _MISSING
    return document


def mismatches(expected: dict[str, Any], answer: Any, first: Any = None) -> list[str]:
    answer = normalized(answer)
    first = normalized(first) if first is not None else None
    found = []
    for path, want in expected.items():
        got = pointer(answer, path)
        if isinstance(want, dict) and len(want) == 1 and "$starts_with" in want:
            ok = isinstance(got, str) and got.startswith(want["$starts_with"])
        elif isinstance(want, dict) and len(want) == 1 and "$absent" in want:
            ok = (got is _MISSING) == (want["$absent"] is True)
        elif isinstance(want, dict) and len(want) == 1 and "$same_as_first" in want:
            ok = got is not _MISSING and first is not None and got == pointer(first, path)
        else:
            ok = got is not _MISSING and got == want and type(got) is type(want)
        if not ok:
            found.append(f"{path}: expected {json.dumps(want)}, got {json.dumps(None if got is _MISSING else got)}")
    return found
