"""make starter: what a project of some patterns holds, and that cargo-lambda's template entry
writes the same project. (make test-starters runs each project's own make test; this is the
kit's quick check of what they contain, without building them.) Kit-only: a project made by
make starter has no generator, so it does not get this file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tools.starter import template as composition
from tools.shared.cfn import ROOT, Template
from patterns import needs

pytestmark = needs("sync", "async", "fanout", "realtime", "callbacks")
CARGO_LAMBDA = Path(sys.executable).parent / "cargo-lambda"


def make(patterns: list[str], name: str, dest: Path, *options: str, env: dict[str, str] | None = None) -> Path:
    subprocess.run([sys.executable, "-m", "tools.starter.starter", "--patterns", *patterns, "--name", name, "--dest", str(dest), *options],
                   cwd=ROOT, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})})
    return dest


def lock(project: Path) -> dict[str, str]:
    return {package["name"]: package["version"] for package in tomllib.loads((project / "Cargo.lock").read_text())["package"]}


@pytest.fixture(scope="module")
def async_only(tmp_path_factory) -> Path:
    # Offline: the lock is pruned from the cargo cache make test's builds filled.
    return make(["async"], "my-jobs", tmp_path_factory.mktemp("async") / "my-jobs", env={"CARGO_NET_OFFLINE": "true"})


@pytest.fixture(scope="module")
def sync_only(tmp_path_factory) -> Path:
    return make(["sync"], "my-orders", tmp_path_factory.mktemp("sync") / "my-orders")


def test_an_async_only_project_has_no_topic_outbox_stream_sns_crate_or_websocket(async_only):
    template = Template.read(async_only / "template.yaml")
    assert "aws-sdk-sns" not in lock(async_only)
    # The one SNS topic is the alarm topic (alarms reach someone in every project).
    assert set(template.of_type("AWS::SNS::Topic")) == {"AlarmTopic"}
    assert not [t for t in template.of_type("AWS::DynamoDB::Table").values() if "StreamSpecification" in t["Properties"]]
    assert not template.of_type("AWS::ApiGatewayV2::Api") and "OutboxTable" not in template.resources
    assert sorted(template.binary(f) for f in template.functions()) == ["job-worker", "jobs-api"]
    # Nothing names what is not there: no import parameter, no variable, no policy statement.
    text = (async_only / "template.yaml").read_text()
    assert not re.search(r"Outbox|OrdersTable|ORDERS_TABLE|OUTBOX_TABLE|DomainEvents", text)
    assert not (async_only / "kit" / "lambda-kit" / "src" / "sns.rs").exists()
    assert "aws-sdk-sns" not in (async_only / "Cargo.toml").read_text()
    # Its help, CI and README show its own function where the kit's show orders-api.
    for name in ("Makefile", ".ci/run", "README.md"):
        assert "OrdersApiFunction" not in (async_only / name).read_text(), name


def test_an_async_only_project_has_no_invoice_job_and_refuses_a_callback_url(async_only):
    crates = async_only / "functions" / "async"
    assert not list(crates.rglob("invoice.rs"))
    rust = "\n".join(p.read_text() for p in crates.rglob("*.rs"))
    assert not re.search(r"Invoice|OrdersTable|ORDERS_TABLE|contracts::order", rust)
    assert "callbacks are not part of this deployment" in (crates / "jobs" / "src" / "model.rs").read_text()
    assert "serde_dynamo" not in (crates / "job-worker" / "Cargo.toml").read_text()
    # No generator directive is left in a project.
    assert not [p for p in async_only.rglob("*") if p.is_file() and p.suffix in (".rs", ".toml", ".py", ".md", ".yaml")
                and "starter: " in p.read_text()]


def test_a_pattern_marker_keeps_or_drops_its_line_or_block_and_a_dropped_mod_line_its_file():
    from tools.starter.starter import StarterError, only_with

    text = ("a\n"
            "b // starter: with sync\n"
            "pub mod invoice; // starter: with sync\n"
            "    // starter: with fanout\n"
            "    c\n"
            "    mod relay;\n"
            "    // starter: end\n"
            "d # starter: without fanout\n"
            "e # starter: with realtime|async\n")
    assert only_with(text, ["sync", "fanout"]) == ("a\nb\npub mod invoice;\n    c\n    mod relay;\n", [])
    assert only_with(text, ["async"]) == ("a\nd\ne\n", ["invoice", "relay"])
    assert only_with(text, ["sync"])[0] == "a\nb\npub mod invoice;\nd\n"
    for broken in ("x // starter: with nothing\n", "// starter: with sync\nx\n", "// starter: end\n",
                   "x // starter: maybe sync\n"):
        with pytest.raises(StarterError):
            only_with(broken, ["sync"])


def test_every_pattern_marker_in_the_kit_reads_as_one_and_names_a_pattern():
    from tools.starter.starter import MARKED, MARKER, only_with

    marked = [p for folder in ("functions", "kit", "tools", "tests") for p in (ROOT / folder).rglob("*")
              if p.is_file() and p.suffix in MARKED and p.name not in ("starter.py", "test_starter.py")
              and MARKER in p.read_text(encoding="utf-8")]
    assert marked
    for path in marked:
        for chosen in ([], list(composition.PATTERNS)):
            only_with(path.read_text(encoding="utf-8"), chosen, where=str(path))  # raises on a broken one


def pattern_names(pattern: str) -> set[str]:
    """What names a pattern: its crates, its template's logical ids and its HTTP routes."""
    names = {crate.parent.name for crate in (composition.FUNCTIONS / pattern).glob("*/Cargo.toml")}
    resources = composition.Part.read(composition.FUNCTIONS / pattern / "template.yaml").body.get("Resources") or {}
    for logical_id, resource in resources.items():
        names.add(logical_id)
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if (event.get("Properties") or {}).get("Path"):
                names.add(event["Properties"]["Path"])
    return names


def name_pattern(name: str) -> str:
    if name.startswith("/"):  # a route, not a longer one
        return re.escape(name) + r"(?![A-Za-z0-9_{-])"
    if "-" in name:  # a crate, also as its Rust name
        return rf"(?<![A-Za-z0-9_-])({re.escape(name)}|{re.escape(name.replace('-', '_'))})(?![A-Za-z0-9_-])"
    if name.islower():  # a one-word crate (jobs, realtime, webhooks) as a crate, not the word
        return rf"(?<![A-Za-z0-9_-]){re.escape(name)}(::|\.workspace|\s*=\s*\{{|/src)"
    return rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])"


@pytest.mark.parametrize("chosen", [["sync"], ["async"], ["fanout"], ["realtime"], ["callbacks"], ["events"]])
def test_a_project_names_no_function_crate_resource_or_route_of_a_pattern_it_does_not_have(chosen, tmp_path):
    project = make(chosen, "acme", tmp_path / "acme")
    held = composition.with_requirements(chosen)
    own = set().union(*(pattern_names(p) for p in held))
    absent = {name for p in composition.PATTERNS if p not in held for name in pattern_names(p)} - own
    assert absent
    found = re.compile("|".join(f"(?:{name_pattern(name)})" for name in sorted(absent)))
    hits = [f"{path.relative_to(project)}:{number}: {line.strip()[:100]}"
            for path in sorted(project.rglob("*")) if path.is_file() and path.name != "Cargo.lock"
            for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
            if found.search(line)]
    assert not hits, f"{' '.join(held)}: names of absent patterns:\n" + "\n".join(hits)


def test_a_sync_only_project_has_no_sqs(sync_only):
    template = Template.read(sync_only / "template.yaml")
    assert not template.of_type("AWS::SQS::Queue") and "aws-sdk-sqs" not in lock(sync_only)
    assert sorted(template.binary(f) for f in template.functions()) == ["orders-api"]
    assert sorted(p.name for p in (sync_only / "functions").iterdir()) == ["sync"]
    assert sorted(p.name for p in (sync_only / "events").iterdir()) == ["orders-api"]


@pytest.mark.parametrize(("fixture", "absent"), [
    ("sync_only", ["poller.py", "ws_gateway.py", "ws_token.py", "webhook_receiver.py"]),
    ("async_only", ["ws_gateway.py", "ws_token.py", "webhook_receiver.py"]),
])
def test_a_project_holds_only_the_local_tools_its_patterns_use(fixture, absent, request):
    project = request.getfixturevalue(fixture)
    assert sorted(p.name for p in (project / "tools").iterdir() if p.is_dir()) == ["local", "rehearsal", "sam_local", "shared"]
    held = {p.name for p in (project / "tools" / "local").glob("*.py")}
    assert not held & set(absent)
    assert {"stack.py", "gateway.py"} <= held and (project / "tools" / "shared" / "cfn.py").is_file()
    # its README lists what it holds, and nothing else
    readme = (project / "tools" / "README.md").read_text()
    for name in absent + ["starter/", "load/", "template.py"]:
        assert name not in readme
    for path in re.findall(r"^\| `([^`]+)`", readme, re.M):
        assert (project / "tools" / path).exists(), path


@pytest.mark.parametrize("fixture", ["async_only", "sync_only"])
def test_a_project_keeps_the_kits_versions_and_only_its_own_crates(fixture, request):
    project = request.getfixturevalue(fixture)
    kit = lock(ROOT)
    assert [name for name, version in lock(project).items() if kit.get(name) != version] == []
    manifest = tomllib.loads((project / "Cargo.toml").read_text())
    used = "\n".join(p.read_text() for p in project.glob("*/*/*/Cargo.toml")) + "\n".join(p.read_text() for p in project.glob("kit/*/Cargo.toml"))
    for dependency in manifest["workspace"]["dependencies"]:
        assert re.search(rf"^{re.escape(dependency)}(\.workspace| = \{{ workspace)", used, re.M), f"{dependency} is used by no crate"
    assert "bench" not in (project / "Makefile").read_text() and "starter" not in (project / "Makefile").read_text()
    assert not (project / "bench").exists() and not (project / "tools" / "starter").exists()
    assert not (project / "tests" / "test_starter.py").exists()
    ci = (project / ".ci" / "run").read_text()
    assert "make test\n" in ci and "make sam-local" in ci and "test-starters" not in ci
    assert re.search(rf'^stack_name = "{project.name}"$', (project / "samconfig.toml").read_text(), re.M)


@pytest.mark.parametrize("fixture", ["async_only", "sync_only"])
def test_template_yaml_is_the_projects_own_source_with_no_composition_around_it(fixture, request):
    project = request.getfixturevalue(fixture)
    text = (project / "template.yaml").read_text()
    assert text.split("Description: >-\n  ", 1)[1].startswith(f"{project.name}: ")
    assert "Edit it as any SAM template" in text
    for composition_word in ("make template", "functions/shared.yaml", "/template.yaml", "tools/starter/template.py", "Metadata.Pattern"):
        assert composition_word not in text
    assert not list(project.glob("functions/**/*.yaml")), "no part of the kit's composition"
    assert not (project / "tools" / "starter").exists() and not (project / "tests" / "test_composition.py").exists()
    makefile = (project / "Makefile").read_text()
    assert not re.search(r"^template:", makefile, re.M) and "make template" not in makefile
    assert "make template" not in (project / "README.md").read_text()


def test_a_sample_that_needs_an_absent_pattern_is_left_out_with_its_expected_answer(async_only):
    assert not (async_only / "events" / "jobs-api" / "create-invoice-job.json").exists()
    expected = (async_only / "tests" / "expected" / "jobs-api.json").read_text()
    assert "create-invoice-job.json" not in expected and "create-job-rest-api.json" in expected


def test_the_readme_shows_the_projects_own_code_how_to_call_it_change_it_and_deploy_it(async_only, sync_only):
    for project, route, function in ((async_only, "/jobs", "JobsApiFunction"), (sync_only, "/orders", "OrdersApiFunction")):
        text = (project / "README.md").read_text()
        lines = text.splitlines()
        assert lines[0] == f"# {project.name}" and len(lines) <= 220
        headings = [line for line in lines if line.startswith("## ")]
        assert headings[:4] == ["## Prerequisites", "## What is here", "## Run it locally", "## Make it yours"]
        assert {"## One event under SAM's emulator", "## Deploy"} <= set(headings)
        # the owner's code first, with its own crates; a curl for the routes it serves
        assert text.index("functions/") < text.index("tools/")
        assert f"curl -si -X POST http://127.0.0.1:3000{route}" in text and f"http://127.0.0.1:3000{route}/<id>" in text
        assert f"make sam-invoke FN={function} EVENT=events/" in text
        sample = re.search(r"make sam-invoke FN=\S+ EVENT=(\S+)", text).group(1)
        assert (project / sample).is_file()
        assert "sam deploy --guided" in text and "sam delete" in text and re.search(r"costs about \$\d+\.\d\d a month", text)
    assert "jobs::kinds::Kind" in (async_only / "README.md").read_text()
    sync_text = (sync_only / "README.md").read_text()
    assert "/jobs" not in sync_text and "job kind" not in sync_text.lower()


def test_the_kit_readme_opens_like_its_peers_and_stays_short():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 400
    assert text.index("make demo") < text.index("## Prerequisites") < text.index("## The patterns") < text.index("## Start a project")
    for pattern in ("sync", "async", "fanout", "realtime", "callbacks"):
        assert f"| `{pattern}` |" in text and f"(functions/{pattern}/README.md)" in text
    for link in re.findall(r"\]\(((?:docs|functions)/[^)#]+)\)", text):
        assert (ROOT / link).is_file(), link


def test_what_a_pattern_requires_comes_with_it(tmp_path):
    project = make(["realtime"], "live", tmp_path / "live")
    assert sorted(p.name for p in (project / "functions").iterdir()) == ["async", "fanout", "realtime"]


def starter(patterns: list[str], name: str, dest: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """make starter as a user types it: the system's Python, no virtualenv of the kit's."""
    return subprocess.run(["make", "--no-print-directory", "starter", f"PATTERNS={' '.join(patterns)}", f"NAME={name}", f"DEST={dest}",
                           "PYTHON=python3"], cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})


def one_line_refusal(result: subprocess.CompletedProcess) -> str:
    """The refusal the generator printed: exactly one line of its own (make adds its '***' line)."""
    ours = [line for line in result.stderr.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*", line)]
    assert result.returncode != 0 and len(ours) == 1 and ours[0].startswith("make starter: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return ours[0]


def test_an_unknown_pattern_or_a_bad_name_is_refused_in_one_line_and_writes_nothing(tmp_path):
    for patterns, name, reason in ((["graphql"], "x-y", "no such pattern"), (["sync"], "Not-A-Name", "lower-case letters")):
        assert reason in one_line_refusal(starter(patterns, name, tmp_path / "p"))
        assert list(tmp_path.iterdir()) == []


def test_a_folder_that_is_not_empty_is_refused_in_one_line_and_left_as_it_was(tmp_path):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me\n")
    assert "is not empty" in one_line_refusal(starter(["async"], "my-jobs", dest))
    assert [p.name for p in dest.iterdir()] == ["notes.txt"] and (dest / "notes.txt").read_text() == "keep me\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_an_empty_folder_is_filled_and_a_missing_one_made(tmp_path):
    (tmp_path / "empty").mkdir()
    for dest in (tmp_path / "empty", tmp_path / "new" / "deeper"):
        assert starter(["sync"], "my-orders", dest).returncode == 0
        assert (dest / "Cargo.lock").exists() and (dest / "template.yaml").exists()
        assert dest.stat().st_mode & 0o755 == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "new"]


def test_with_an_empty_cargo_cache_the_project_is_made_with_the_same_lock_as_offline_from_a_full_one(tmp_path, async_only):
    """A machine that never ran cargo: the lock is pruned with the index fetched from the
    registry, and comes out byte for byte as the one pruned offline from the kit's full cache
    (async_only is made with CARGO_NET_OFFLINE=true). Needs the crates.io index over the network."""
    result = starter(["async"], "my-jobs", tmp_path / "my-jobs", env={"CARGO_HOME": str(tmp_path / "cargo-home")})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "my-jobs" / "Cargo.lock").read_text() == (async_only / "Cargo.lock").read_text()


def test_when_cargo_cannot_prune_the_lock_it_says_so_in_one_line_and_writes_nothing(tmp_path):
    """An empty cargo cache and no network (offline): nothing to prune with."""
    result = starter(["async"], "my-jobs", tmp_path / "my-jobs", env={"CARGO_HOME": str(tmp_path / "cargo-home"), "CARGO_NET_OFFLINE": "true"})
    assert "could not prune Cargo.lock" in one_line_refusal(result)
    assert [p.name for p in tmp_path.iterdir()] == ["cargo-home"]


@pytest.mark.parametrize("source", ["folder", "zip"])
def test_cargo_lambda_new_from_the_template_writes_the_same_project_as_make_starter(tmp_path, source):
    template = make(["async", "fanout"], "template-name", tmp_path / "template", "--cargo-lambda-template")
    assert (template / "CargoLambda.toml").exists()
    if source == "zip":
        template = Path(shutil.make_archive(str(tmp_path / "template"), "zip", template))
    plain = make(["async", "fanout"], "orders-events", tmp_path / "plain")
    (tmp_path / "out").mkdir()
    subprocess.run([str(CARGO_LAMBDA), "lambda", "new", "--template", str(template), "--no-interactive", "orders-events"],
                   cwd=tmp_path / "out", check=True, capture_output=True, text=True)
    rendered = tmp_path / "out" / "orders-events"

    def tree(root: Path) -> dict[str, tuple[bytes, bool]]:
        return {p.relative_to(root).as_posix(): (p.read_bytes(), bool(p.stat().st_mode & 0o100)) for p in root.rglob("*") if p.is_file()}

    got, want = tree(rendered), tree(plain)
    assert sorted(got) == sorted(want)
    assert [name for name in want if got[name] != want[name]] == []
