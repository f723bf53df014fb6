"""The kit's composition (tools/starter/template.py): template.yaml is what the patterns' templates
compose, each pattern alone passes the linters and holds only its own and the shared resources it
uses, imports are resolved or left out with their users. Kit-only: a project made by make starter
owns its template.yaml, which tests/test_template.py checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.starter import template as composition
from tools.shared.cfn import ROOT, Template, load, referable, references
from tools.shared.cfn import _Loader as cfn_loader
from patterns import needs

BIN = Path(sys.executable).parent
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_root_template_is_what_the_patterns_compose():
    assert (ROOT / "template.yaml").read_text(encoding="utf-8") == composition.compose(), \
        "template.yaml differs from functions/shared.yaml + functions/<pattern>/template.yaml: run `make template`"


@pytest.fixture(scope="module", params=composition.PATTERNS)
def pattern_alone(request, tmp_path_factory) -> tuple[str, Path]:
    """One pattern composed on its own (with the shared resources it uses), as a file."""
    path = tmp_path_factory.mktemp("patterns") / f"{request.param}.yaml"
    path.write_text(composition.compose([request.param]), encoding="utf-8")
    return request.param, path


def test_each_pattern_alone_passes_cfn_lint_with_the_serverless_rules(pattern_alone):
    _, path = pattern_alone
    result = run(str(BIN / "cfn-lint"), "-a", "cfn_lint_serverless.rules", "--", str(path))
    assert (result.returncode, result.stdout.strip()) == (0, ""), result.stdout + result.stderr


def test_each_pattern_alone_passes_checkov(pattern_alone):
    _, path = pattern_alone
    result = run(str(CHECKOV), "--framework", "cloudformation", "--skip-download", "--quiet", "--output", "json", "-f", str(path))
    report = json.loads(result.stdout)
    assert report["summary"]["failed"] == 0, [f'{c["check_id"]} {c["resource"]}' for c in report["results"]["failed_checks"]]


def test_each_pattern_alone_takes_only_its_own_functions_and_the_shared_resources_it_uses(pattern_alone):
    name, path = pattern_alone
    alone = Template.read(path)
    for logical_id in alone.functions():
        binary = alone.binary(logical_id)
        assert (ROOT / "functions" / name / binary / "Cargo.toml").exists(), \
            f"{logical_id} ({binary}) is in functions/{name}/template.yaml but its crate is not in functions/{name}/"
    shared = set(load(composition.SHARED)["Resources"])
    own = set(load(composition.FUNCTIONS / name / "template.yaml")["Resources"])
    assert set(alone.resources) - own <= shared
    # Each shared resource it takes is one it (or a shared resource it takes) refers to, or a companion.
    text = json.dumps({k: v for k, v in alone.resources.items() if k in own})
    for taken in set(alone.resources) & shared:
        referred = f'"{taken}"' in text or any(f'"{taken}' in json.dumps(alone.resources[other]) for other in set(alone.resources) & shared - {taken})
        companion = taken in load(composition.SHARED)["Metadata"]["Shared"]["Companions"]
        assert referred or companion, f"{name} alone takes {taken}, which it does not use"


@pytest.mark.parametrize("patterns", [[name] for name in composition.PATTERNS] + [list(composition.PATTERNS)])
def test_a_composition_refers_only_to_what_it_holds(patterns):
    """cfn-lint does not see a dangling reference inside a SAM resource's properties (tried: an
    environment variable naming another pattern's table passes): so here, for each pattern alone
    and for all of them, every reference names a resource, a parameter or a pseudo-parameter."""
    body = load_text(composition.compose(patterns))
    known = referable(body)
    dangling = {name for name in references(body) if not name.startswith("AWS::")} - known
    assert not dangling, f"{patterns}: references to nothing in the composition: {sorted(dangling)}"


def test_an_import_is_resolved_when_its_provider_is_there_and_left_out_with_its_users_when_not():
    for name in composition.PATTERNS:
        part = composition.Part.read(composition.FUNCTIONS / name / "template.yaml")
        for parameter, (source, output) in composition.imports(part).items():
            assert parameter in part.body["Parameters"], f"{name}: import {parameter} is not a parameter"
            alone = composition.compose([name])
            assert parameter not in load_text(alone).get("Parameters", {}) and f"!Ref {parameter}" not in alone, \
                f"{name} alone still uses {parameter}"
            if source not in composition.PATTERNS:
                continue  # a project without the provider (a starter)
            assert output in load(composition.FUNCTIONS / source / "template.yaml")["Outputs"], f"{name}: {source} has no output {output}"
            together = load_text(composition.compose([name, source]))
            assert parameter not in together.get("Parameters", {}), f"{name} + {source}: {parameter} left as a parameter"
            assert f"!Ref {parameter}" not in composition.compose([name, source])


def test_an_unmet_import_takes_its_line_or_the_list_item_it_sits_in_and_nothing_else():
    text = (
        "  Worker:\n"
        "    Properties:\n"
        "      Environment:\n"
        "        Variables:\n"
        "          JOBS: !Ref JobsTable\n"
        "          OUTBOX: !Ref OutboxName\n"
        "      Policies:\n"
        "        - Statement:\n"
        "            - Sid: Jobs\n"
        "              Resource: !GetAtt JobsTable.Arn\n"
        "            - Sid: Outbox\n"
        "              Action:\n"
        "                - dynamodb:PutItem\n"
        "              Resource: !Ref OutboxArn\n"
        "            - Sid: Key\n"
        "              Resource: !GetAtt DataKey.Arn\n"
    )
    left = composition._drop_references(composition._drop_references(text, "OutboxName"), "OutboxArn")
    assert left == text.replace("          OUTBOX: !Ref OutboxName\n", "").replace(
        "            - Sid: Outbox\n              Action:\n                - dynamodb:PutItem\n              Resource: !Ref OutboxArn\n", "")


@needs("sync", "async", "fanout", "realtime", "callbacks")
def test_a_pattern_brings_what_it_requires():
    assert composition.with_requirements(["realtime"]) == ["async", "fanout", "realtime"]
    assert composition.with_requirements(["callbacks"]) == ["async", "fanout", "callbacks"]
    assert composition.with_requirements(["fanout"]) == ["sync", "fanout"]  # a producer: the first named
    assert composition.with_requirements(["async", "fanout"]) == ["async", "fanout"]
    assert composition.with_requirements(["all"]) == list(composition.PATTERNS)


def load_text(text: str) -> dict:
    return yaml.load(text, Loader=cfn_loader)  # noqa: S506 - a SafeLoader subclass
