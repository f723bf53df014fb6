"""The root template.yaml, composed from the patterns' own templates.

Each pattern keeps its resources in `functions/<pattern>/template.yaml`; what several patterns use
(the data key, the idempotency table, the HTTP API, the domain-events topic, common settings and
the functions' globals) sits once in `functions/shared.yaml`. A pattern that needs another's
resource names it as a parameter and says, under `Metadata.Pattern.Imports`, which pattern's
output provides it (`OrdersTableName: sync.OrdersTableName`), or `shared.<output>` for a shared
resource that some patterns use and others write to (`OutboxTableName: shared.OutboxTableName`:
the outbox exists when fan-out or events reads it). Composing a set of patterns:

- every resource, parameter and output of each chosen pattern, in the pattern's own words;
- an import whose pattern is chosen becomes that output's value (`!Ref OutboxTableName` turns
  into `!Ref OutboxTable`); one whose pattern is not is left out with what uses it: the
  parameter, each line that refers to it, and the list item (a policy statement) such a line
  sits in. A function reads such a setting as optional (the outbox: orders are stored and no
  event leaves; the orders table: no invoice jobs), so a pattern alone has nothing dead in it;
- each shared resource, condition, parameter and output only if a chosen pattern uses it (with
  the shared resources that come with it, `Metadata.Shared.Companions`).

The text is composed, not re-serialized: comments and layout stay as written.

    python -m tools.starter.template            rewrite template.yaml from every pattern
    python -m tools.starter.template --check    exit 1 if template.yaml is not what the patterns compose
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tools.shared.cfn import PATTERN_ORDER as ORDER
from tools.shared.cfn import load

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
SHARED = FUNCTIONS / "shared.yaml"


def present() -> tuple[str, ...]:
    """The patterns this project holds (a starter holds some): each a folder of functions/ with a
    template.yaml, in the README's order, then any others by name."""
    found = {path.parent.name for path in FUNCTIONS.glob("*/template.yaml")}
    return tuple(name for name in ORDER if name in found) + tuple(sorted(found - set(ORDER)))


PATTERNS = present()
SECTIONS = ("Parameters", "Rules", "Conditions", "Resources", "Outputs")

_TOP = re.compile(r"^([A-Za-z]+):")
_ENTRY = re.compile(r"^  ([A-Za-z0-9]+):")


@dataclass
class Part:
    """One template file: its sections' entries as text, and its parsed body."""

    path: Path
    body: dict
    top: dict[str, str] = field(default_factory=dict)
    entries: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> "Part":
        part = cls(path, load(path))
        current: str | None = None
        lines: dict[str, list[str]] = {}
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            match = _TOP.match(line)
            if match:
                current = match.group(1)
                lines[current] = [line]
            elif current is not None:
                lines[current].append(line)
        for name, text in lines.items():
            if name in SECTIONS:
                part.entries[name] = _entries(text[1:])
            else:
                part.top[name] = "".join(text).rstrip("\n") + "\n"
        return part

    def section(self, name: str) -> dict[str, str]:
        return self.entries.get(name, {})


def _entries(lines: list[str]) -> dict[str, str]:
    """A section's entries, each with the comment lines written just above it."""
    entries: dict[str, list[str]] = {}
    pending: list[str] = []
    last: str | None = None
    for line in lines:
        match = _ENTRY.match(line)
        if match:
            while pending and not pending[0].strip():
                pending.pop(0)
            last = match.group(1)
            entries[last] = [*pending, line]
            pending = []
        elif line.startswith("    ") and last is not None:
            entries[last].extend(pending)
            entries[last].append(line)
            pending = []
        else:
            pending.append(line)
    return {name: "".join(text).rstrip("\n") + "\n" for name, text in entries.items()}


def _names_used(text: str) -> set[str]:
    """Logical ids and parameters a piece of template text refers to."""
    used = set(re.findall(r"!(?:Ref|GetAtt) ([A-Za-z0-9]+)", text))
    used |= set(re.findall(r"\$\{([A-Za-z0-9]+)[.}]", text))
    return used


def imports(part: Part) -> dict[str, tuple[str, str]]:
    """A pattern's imports: parameter -> (pattern, output)."""
    declared = part.body.get("Metadata", {}).get("Pattern", {}).get("Imports") or {}
    return {name: tuple(source.split(".", 1)) for name, source in declared.items()}


def requirements(part: Part) -> tuple[list[str], list[str]]:
    """What a pattern cannot work without: every pattern of `Requires`, and one of `RequiresOneOf`."""
    pattern = part.body.get("Metadata", {}).get("Pattern", {})
    return list(pattern.get("Requires") or []), list(pattern.get("RequiresOneOf") or [])


def with_requirements(patterns: list[str] | tuple[str, ...]) -> list[str]:
    """`patterns` and what they require, in the README's order (`all`: every pattern here). Where a
    pattern needs one of several and none is chosen, the first is taken (fan-out's producer: sync)."""
    chosen = set(PATTERNS if "all" in patterns else patterns)
    unknown = chosen - set(PATTERNS)
    if unknown:
        raise SystemExit(f"no such pattern: {', '.join(sorted(unknown))} (there are {', '.join(PATTERNS)}, or all)")
    while True:
        more: set[str] = set()
        for name in chosen:
            every, one_of = requirements(Part.read(FUNCTIONS / name / "template.yaml"))
            more |= set(every) - chosen
            if one_of and not chosen & set(one_of):
                more.add(one_of[0])
        if not more:
            return [name for name in PATTERNS if name in chosen]
        chosen |= more


def samples_needing(part: Part, chosen: list[str] | tuple[str, ...]) -> list[str]:
    """The pattern's sample events (`<function>/<file>` under events/) whose answer needs a pattern
    that is not chosen (`Metadata.Pattern.SamplesNeeding`): a project without it leaves them out."""
    needing = part.body.get("Metadata", {}).get("Pattern", {}).get("SamplesNeeding") or {}
    return [sample for pattern, samples in needing.items() if pattern not in chosen for sample in samples]


def _drop_references(text: str, parameter: str) -> str:
    """`text` without what refers to `parameter`: each such line, or the list item it sits in."""
    lines = text.splitlines(keepends=True)
    indent = lambda line: len(line) - len(line.lstrip(" "))  # noqa: E731
    while True:
        hit = next((n for n, line in enumerate(lines) if re.search(rf"!Ref {parameter}\b", line)), None)
        if hit is None:
            return "".join(lines)
        start, end = hit, hit + 1
        # The line's parent: the nearest line above with less indentation.
        parent = next((n for n in range(hit - 1, -1, -1) if lines[n].strip() and indent(lines[n]) < indent(lines[hit])), None)
        if parent is not None and lines[parent].lstrip().startswith("- "):
            start, end = parent, parent + 1
            while end < len(lines) and (not lines[end].strip() or indent(lines[end]) > indent(lines[parent])):
                end += 1
        del lines[start:end]


def _output_value(part: Part, output: str) -> str:
    text = part.section("Outputs")[output]
    match = re.search(r"^    Value: (.+)$", text, re.M)
    if not match:
        raise SystemExit(f"{part.path}: output {output} has no one-line Value")
    return match.group(1)


def compose(patterns: list[str] | tuple[str, ...] = PATTERNS, project: str | None = None) -> str:
    """The SAM template of `patterns` (and the shared resources they use), as text.

    With `project` (make starter), the template of that project: its own source from then on,
    with no word of the parts it was composed from."""
    unknown = set(patterns) - set(PATTERNS)
    if unknown:
        raise SystemExit(f"no such pattern: {', '.join(sorted(unknown))} (there are {', '.join(PATTERNS)})")
    chosen = [name for name in PATTERNS if name in patterns]
    if not chosen:
        raise SystemExit("no pattern chosen")
    shared = Part.read(SHARED)
    parts = {name: Part.read(FUNCTIONS / name / "template.yaml") for name in chosen}

    shared_resources = shared.section("Resources")
    companions = shared.body.get("Metadata", {}).get("Shared", {}).get("Companions") or {}

    def own_sections(shared_provided: set[str]) -> dict[str, dict[str, dict[str, str]]]:
        """What each chosen pattern says, with the imports its chosen peers provide resolved (and
        of the shared outputs, those in `shared_provided`)."""
        sections: dict[str, dict[str, dict[str, str]]] = {}
        for name, part in parts.items():
            resolved: dict[str, str] = {}
            dropped: list[str] = []
            for parameter, (source, output) in imports(part).items():
                if source in parts:
                    resolved[parameter] = _output_value(parts[source], output)
                elif source == "shared" and output in shared_provided:
                    resolved[parameter] = _output_value(shared, output)
                else:
                    dropped.append(parameter)
            own: dict[str, dict[str, str]] = {}
            for section in SECTIONS:
                own[section] = {}
                for entry, text in part.section(section).items():
                    if section == "Parameters" and (entry in resolved or entry in dropped):
                        continue
                    for parameter in dropped:
                        if re.search(rf"\$\{{{parameter}[.}}]", text):
                            raise SystemExit(f"{part.path}: import {parameter} is used inside !Sub; use !Ref")
                        text = _drop_references(text, parameter)
                    for parameter, value in resolved.items():
                        if re.search(rf"\$\{{{parameter}[.}}]", text):
                            raise SystemExit(f"{part.path}: import {parameter} is used inside !Sub; use !Ref")
                        text = re.sub(rf"!Ref {parameter}\b", value, text)
                    own[section][entry] = text
            sections[name] = own
        return sections

    def taken_by(sections: dict[str, dict[str, dict[str, str]]]) -> set[str]:
        """The shared resources the patterns' text uses, with what comes with them."""
        text = "".join(text for own in sections.values() for entries in own.values() for text in entries.values())
        wanted = _names_used(text)
        taken: set[str] = set()
        while True:
            more = {name for name in shared_resources if name in wanted or companions.get(name) in taken} - taken
            if not more:
                return taken
            taken |= more
            for name in more:
                wanted |= _names_used(shared_resources[name])

    # An import of a shared output (`shared.OutboxTableName`) is provided when the chosen patterns
    # use that output's resources themselves (the outbox: when fan-out or events reads its stream).
    taken = taken_by(own_sections(set()))
    shared_provided = {name for name, text in shared.section("Outputs").items()
                       if _names_used(text) & set(shared_resources) and _names_used(text) & set(shared_resources) <= taken}
    sections = own_sections(shared_provided)

    # The shared resources, parameters and outputs the chosen patterns use.
    pattern_text = "".join(text for own in sections.values() for entries in own.values() for text in entries.values())
    taken = taken_by(sections)
    shared_outputs = {
        name: text for name, text in shared.section("Outputs").items()
        if _names_used(text) & set(shared_resources) <= taken
    }
    used_text = pattern_text + "".join(shared_resources[name] for name in taken) + "".join(shared_outputs.values())
    used_text += shared.top.get("Globals", "")
    shared_conditions = {
        name: text for name, text in shared.section("Conditions").items()
        if re.search(rf"(Condition: {name}\b|!If \[{name}\b|!Condition {name}\b)", used_text)
    }
    used_text += "".join(shared_conditions.values())
    shared_parameters = {name: text for name, text in shared.section("Parameters").items() if name in _names_used(used_text)}
    # A rule checks parameters at deploy: it comes with the parameters it reads.
    shared_rules = {name: text for name, text in shared.section("Rules").items() if _names_used(text) <= set(shared_parameters)}

    titles = [parts[name].body["Metadata"]["Pattern"]["Title"] for name in chosen]
    if project:
        header = (f"Description: >-\n  {project}: {'; '.join(titles)}.\n"
                  "\n# Every resource of this project: what `sam build`, `sam deploy` and the local stack read.\n"
                  "# Edit it as any SAM template; `make test` checks it (cfn-lint, checkov, the invariants in\n"
                  "# tests/test_template.py).\n")
    else:
        header = (f"Description: >-\n  {shared.body['Description']}: {'; '.join(titles)}.\n"
                  "\n# Composed by `make template` (tools/starter/template.py) from functions/shared.yaml and the\n"
                  "# templates of the patterns:\n"
                  + "".join(f"#   functions/{name}/template.yaml\n" for name in chosen)
                  + "# Edit those, not this file: tests/test_composition.py fails while they disagree.\n")
    out = [shared.top["AWSTemplateFormatVersion"], shared.top["Transform"], header]

    def section(title: str, groups: list[tuple[str, dict[str, str]]]) -> None:
        blocks = []
        for banner, entries in groups:
            if entries:
                blocks.append(f"  # ==== {banner} " + "=" * max(4, 88 - len(banner)) + "\n\n" + "\n".join(entries.values()))
        if blocks:
            out.append(f"\n{title}:\n" + "\n".join(blocks))

    def groups(kind: str, shared_entries: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
        def source(path: str) -> str:
            return "" if project else f" ({path})"

        return [("Shared" + source("functions/shared.yaml"), shared_entries)] + [
            (parts[name].body["Metadata"]["Pattern"]["Title"] + source(f"functions/{name}/template.yaml"), sections[name][kind])
            for name in chosen
        ]

    section("Parameters", groups("Parameters", shared_parameters))
    if shared_rules:
        out.append("\nRules:\n" + "".join(shared_rules.values()))
    if shared_conditions:
        out.append("\nConditions:\n" + "".join(shared_conditions.values()))
    if "Globals" in shared.top:
        out.append("\n" + shared.top["Globals"])
    section("Resources", groups("Resources", {name: text for name, text in shared_resources.items() if name in taken}))
    section("Outputs", groups("Outputs", shared_outputs))
    return "".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if template.yaml differs from the composition")
    parser.add_argument("--patterns", nargs="+", default=list(PATTERNS), help="compose only these (printed)")
    args = parser.parse_args()
    if args.patterns != list(PATTERNS):
        sys.stdout.write(compose(args.patterns))
        return 0
    composed = compose()
    target = ROOT / "template.yaml"
    if args.check:
        if target.read_text(encoding="utf-8") != composed:
            print("template.yaml is not what functions/shared.yaml and the patterns compose: run `make template`", file=sys.stderr)
            return 1
        return 0
    target.write_text(composed, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
