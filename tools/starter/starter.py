"""A new project from the kit: the chosen patterns, what they require, and nothing else.

    make starter PATTERNS="async" NAME=my-jobs DEST=../my-jobs
    python -m tools.starter.starter --patterns async --name my-jobs --dest ../my-jobs [--cargo-lambda-template]

The project is standalone and works the way the kit does (make demo, make test, make up/down,
make build, make sam-local, make sam-invoke, make fuzz; .ci/run):

- functions/<pattern>/ of each chosen pattern (crates, end-to-end tests), kit/ (the shared
  crates);
- template.yaml, the project's own source from then on: composed by the kit (tools/starter/template.py:
  an import whose provider is not there is left out with what uses it, so an async-only project
  has no outbox, topic or stream), with no word of the parts it came from;
- Cargo.toml with those crates and only the dependencies they name, and the kit's Cargo.lock
  pruned by cargo to them (same versions: cargo removes, never upgrades, offline);
- events/<function>/ and tests/expected/<function>.json of its functions, without the samples
  whose answer needs a pattern that is not there (`Metadata.Pattern.SamplesNeeding`);
- tools/ without the kit's own (tools/starter) and without the local loop's modules for absent
  patterns (load only with every pattern), tests/ (the kit-wide tests, without those about absent
  patterns), the Makefile without the kit's own targets (starter, bench; load unless every
  pattern is there), the pinned requirements, .ci/run, .gitignore, samconfig.toml with the
  project's stack name, and a README with the chosen patterns' sections and the next steps.

With --cargo-lambda-template the folder is also a template for `cargo lambda new --template`:
the project name becomes `{{project_name}}` where it appears and a CargoLambda.toml asks for it,
so `cargo lambda new --template <folder> NAME` writes the same project as this command with NAME.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from tools.starter import template as composition
from tools.shared.cfn import ROOT, load

# Files of the kit's top level a project takes as they are (the Makefile and .gitignore edited).
TOP_LEVEL = ("pytest.ini", "requirements-dev.txt", "requirements-checkov.txt", "rustfmt.toml", ".cargo/config.toml")
# The tools a project takes (tools/README.md): all but the generator and the composer
# (tools/starter), and the load run only with every pattern (it drives them all).
KIT_ONLY_TOOLS = ("starter",)
# Modules of the tools a project holds only with a pattern that uses them: Lambda's pollers (SQS,
# streams, SNS), the WebSocket gateway and its tokens, the webhook test receiver, and the deploy
# rehearsal's OpenID provider (for ws-api's own JWT check at $connect).
TOOLS_FOR = {
    "local/poller.py": ("async", "fanout", "realtime", "callbacks", "events"),
    "local/ws_gateway.py": ("realtime",),
    "local/ws_token.py": ("realtime",),
    "local/webhook_receiver.py": ("callbacks",),
    "rehearsal/oidc.py": ("realtime",),
    "events/__init__.py": ("events",),
    "events/replay.py": ("events",),
    "local/eventbridge.py": ("events",),
}
# Event schemas (kit/contracts/schemas/<type>.v<n>.json) that only a pattern's producer makes.
SCHEMAS_FOR = {"job.": "async"}
# The generator's, the composition's and the kit's crate architecture: a project owns its
# template.yaml and its crates.
KIT_ONLY_TESTS = ("test_starter.py", "test_composition.py", "test_crates.py")
SKIP = ("__pycache__", ".pyc", ".pytest_cache")
NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}[a-z0-9]$")


def crates_of(pattern: str) -> list[Path]:
    return sorted(path.parent for path in (composition.FUNCTIONS / pattern).glob("*/Cargo.toml"))


def functions_of(pattern: str) -> list[str]:
    """The pattern's function crates (those with a binary): also the names of their events/ folders."""
    return [crate.name for crate in crates_of(pattern) if (crate / "src" / "main.rs").exists()]


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*")
                  if path.is_file() and not any(part in SKIP or part.endswith(".pyc") for part in path.parts))


class Starter:
    def __init__(self, patterns: list[str], name: str, dest: Path) -> None:
        if not NAME.match(name):
            raise StarterError(f"NAME {name!r}: lower-case letters, digits and dashes, starting with a letter "
                             "(it becomes the stack name)")
        self.chosen = composition.with_requirements(patterns)
        self.name = name
        self.dest = dest.resolve()
        self.all = self.chosen == list(composition.ORDER)
        self.functions = [f for p in self.chosen for f in functions_of(p)]
        self.dropped_modules: list[tuple[Path, Path]] = []
        self.marked_rust: list[Path] = []
        self.left_out = {sample for p in self.chosen
                         for sample in composition.samples_needing(composition.Part.read(composition.FUNCTIONS / p / "template.yaml"), self.chosen)}

    # ---- writing ------------------------------------------------------------------------------

    def write(self, cargo_lambda_template: bool = False) -> None:
        """The project, written into a temporary folder beside DEST and moved into place only
        when complete: a failure leaves nothing behind, and DEST is never half-written."""
        target = self.dest
        refuse_non_empty(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.dest = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        umask = os.umask(0)
        os.umask(umask)
        self.dest.chmod(0o777 & ~umask)  # a folder as mkdir makes it, not mkdtemp's private 0700
        try:
            self.write_files()
            if cargo_lambda_template:
                self.as_cargo_lambda_template()
            refuse_non_empty(target)  # filled meanwhile?
            if target.exists():
                target.rmdir()
            self.dest.rename(target)
        except BaseException:
            shutil.rmtree(self.dest, ignore_errors=True)
            raise
        finally:
            self.dest = target

    def write_files(self) -> None:
        self.copy_tree(ROOT / "kit")
        # The schemas of events only an absent pattern produces (contracts::schema generates none).
        for path in sorted((self.dest / "kit" / "contracts" / "schemas").glob("*.json")):
            if any(path.name.startswith(prefix) and pattern not in self.chosen for prefix, pattern in SCHEMAS_FOR.items()):
                path.unlink()
        for pattern in self.chosen:
            # Its crates, tests and the rest; not its part of the kit's composition (template.yaml
            # holds what the project deploys).
            for path in files_under(composition.FUNCTIONS / pattern):
                if path != composition.FUNCTIONS / pattern / "template.yaml":
                    self.copy(path)
        self.prune_features("lambda-kit", always={"local"})  # the Makefile's local-stack builds turn it on
        self.prune_features("test-support")
        for function in self.functions:
            for path in files_under(ROOT / "events" / function):
                if f"{function}/{path.name}" not in self.left_out:
                    self.copy(path)
            self.put(f"tests/expected/{function}.json", self.expected(function))
        for path in files_under(ROOT / "tools"):
            tool = path.relative_to(ROOT / "tools").as_posix()
            if tool.split("/")[0] in KIT_ONLY_TOOLS or (tool.startswith("load/") and not self.all):
                continue
            if tool in TOOLS_FOR and not set(TOOLS_FOR[tool]) & set(self.chosen):
                continue
            self.copy(path)
        self.put("tools/README.md", self.tools_readme())
        for path in sorted((ROOT / "tests").glob("*.py")):
            if path.name not in KIT_ONLY_TESTS:
                self.copy(path)
        for name in TOP_LEVEL:
            self.copy(ROOT / name)
        self.put("template.yaml", composition.compose(self.chosen, project=self.name))
        self.put(".ci/run", self.ci_run())
        (self.dest / ".ci" / "run").chmod(0o755)
        self.put("Cargo.toml", self.cargo_toml())
        self.put("Makefile", self.own_examples(self.makefile()))
        self.put(".gitignore", "".join(line for line in (ROOT / ".gitignore").read_text().splitlines(keepends=True)
                                       if "venv-bench" not in line and "venv-starter" not in line))
        self.put("samconfig.toml", re.sub(r'^stack_name = ".*"$', f'stack_name = "{self.name}"',
                                          (ROOT / "samconfig.toml").read_text(), flags=re.M))
        self.put("README.md", self.readme())
        self.drop_modules()
        self.lock()
        self.format_rust()

    def copy_tree(self, folder: Path) -> None:
        for path in files_under(folder):
            self.copy(path)

    def copy(self, path: Path) -> None:
        target = self.dest / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        if path.suffix not in MARKED:
            return
        text = original = path.read_text(encoding="utf-8")
        if path.suffix == ".py" and "@needs" in text:
            text = without_tests_of_absent_patterns(text, self.chosen)
        if MARKER in text:
            text, modules = only_with(text, self.chosen, where=path.relative_to(ROOT).as_posix())
            owner = path.parent if path.name in ("lib.rs", "main.rs", "mod.rs") else path.parent / path.stem
            self.dropped_modules += [(owner / f"{m}.rs", owner / m) for m in modules]
            if path.suffix == ".rs":
                self.marked_rust.append(target)
        if text != original:
            target.write_text(text, encoding="utf-8")

    def format_rust(self) -> None:
        """rustfmt over the Rust files a pattern marker changed: a chain or a list that lost a
        line may fit on one now, as the project's `cargo fmt --check` (make lint) expects."""
        paths = sorted(str(path) for path in self.marked_rust if path.exists())  # not a dropped module's
        if not paths:
            return
        command = ["rustfmt", "--edition", "2024", *paths]
        result = subprocess.run(command, cwd=self.dest, capture_output=True, text=True)
        if result.returncode:
            raise StarterError(f"rustfmt failed ({_last_error(result.stderr)}): "
                               "`rustup component add rustfmt` installs it")

    def drop_modules(self) -> None:
        """The files of the modules whose `mod` line a pattern marker took out."""
        for file, folder in self.dropped_modules:
            for path in (self.dest / file.relative_to(ROOT), self.dest / folder.relative_to(ROOT)):
                if path.is_file():
                    path.unlink()
                elif path.is_dir():
                    shutil.rmtree(path)

    def put(self, relative: str, text: str) -> None:
        target = self.dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    # ---- the files that differ from the kit's ---------------------------------------------------

    def expected(self, function: str) -> str:
        path = ROOT / "tests" / "expected" / f"{function}.json"
        document = json.loads(path.read_text())
        document["events"] = [e for e in document["events"] if f"{function}/{e['event']}" not in self.left_out]
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    def cargo_toml(self) -> str:
        """The workspace: its crates, and of the kit's shared dependencies those its crates name."""
        text = (ROOT / "Cargo.toml").read_text(encoding="utf-8")
        text = re.sub(r'^members = \[.*\]$', 'members = ["functions/*/*", "kit/*"]', text, flags=re.M)
        text = re.sub(r'^# What `cargo test`.*?\ndefault-members = \[.*?\]\n', "", text, flags=re.M | re.S)
        tests = ", ".join(f'"functions/{p}/tests"' for p in self.chosen if (composition.FUNCTIONS / p / "tests").is_dir())
        text = re.sub(r'^exclude = \[.*\]$', f"exclude = [{tests}]", text, flags=re.M)
        named = {name for manifest in self.manifests() for name, spec in dependencies(manifest)
                 if isinstance(spec, dict) and spec.get("workspace")}
        head, rest = text.split("[workspace.dependencies]\n", 1)
        lines = rest.splitlines(keepends=True)
        table = next((n for n, line in enumerate(lines) if line.startswith("[")), len(lines))
        while table > 0 and lines[table - 1].startswith("#"):
            table -= 1  # a comment just above the next table belongs to it
        # Groups: comment lines and the entries under them; a group whose entries all go, goes.
        out: list[str] = []
        group: list[str] = []
        entries = kept = 0

        def flush() -> None:
            nonlocal group, entries, kept
            if group and (kept or not entries):
                out.extend(group)
            group, entries, kept = [], 0, 0

        for line in lines[:table]:
            entry = re.match(r"^([A-Za-z0-9_-]+)\s*=", line)
            if not line.strip() or (line.startswith("#") and entries):
                flush()
            if not line.strip():
                if out and out[-1].strip():
                    out.append(line)
                continue
            if entry:
                entries += 1
                if entry.group(1) not in named:
                    continue
                kept += 1
            group.append(line)
        flush()
        body = "".join(out).rstrip("\n") + "\n\n"
        return head + "[workspace.dependencies]\n" + body + "".join(lines[table:])

    def tools_readme(self) -> str:
        """tools/README.md without the rows of the tools and modules the project does not hold."""
        lines = (ROOT / "tools" / "README.md").read_text(encoding="utf-8").splitlines(keepends=True)
        return "".join(line for line in lines
                       if not (row := re.match(r"^\| `([^`]+)`", line)) or (self.dest / "tools" / row.group(1)).exists())

    def ci_run(self) -> str:
        """The kit's .ci/run without what only the kit runs (the starters' own checks)."""
        text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
        kit_only = ("# The kit's CI also runs `make test-starters`: every pattern set made into a project of its own,\n"
                    "# through that project's make test (and, for async and all, its make demo).\n")
        if kit_only not in text or "make test-starters\n" not in text:
            raise SystemExit(".ci/run no longer says what the kit runs alone: update tools/starter/starter.py")
        text = text.replace(kit_only, "")
        # The kit's check that make starter works on a machine with nothing yet in its caches.
        fresh = re.search(r"(?ms)^# A project is made on a machine that has nothing yet:.*?^rm -rf \"\$fresh\"\n\n", text)
        if not fresh:
            raise SystemExit(".ci/run no longer makes the projects from an empty cache as it did: update tools/starter/starter.py")
        text = text.replace(fresh.group(0), "")
        return self.own_examples(text.replace("make test-starters\n", ""))

    def makefile(self) -> str:
        """The kit's Makefile without its own targets (starter, bench; load unless all patterns)."""
        gone = ["starter", "test-starters", "bench", "lint-bench", "template"] + ([] if self.all else ["load"])
        gone += [] if "events" in self.chosen else ["replay"]
        text = (ROOT / "Makefile").read_text(encoding="utf-8")
        paragraphs = text.split("\n\n")
        kept = [p for p in paragraphs
                if not any(re.search(rf"^{target}:", p, re.M) for target in gone)
                and "$(BENCH_VENV)/.installed:" not in p and "$(STARTER_VENV)/.installed:" not in p]
        text = "\n\n".join(kept)
        out, dropping = [], False
        for line in text.splitlines(keepends=True):
            if any(re.match(rf"^#\s+make {target}\b", line) for target in gone):
                dropping = True  # a target's line in the header, and the lines continuing it
                continue
            if dropping and re.match(r"^#\s{10,}\S", line):
                continue
            dropping = False
            if not line.startswith(("BENCH_VENV", "STARTER_VENV")):
                out.append(line)
        text = "".join(out).replace(" (nor make bench in the kit)", "")
        return re.sub(r"^(\.PHONY:.*)$", lambda m: " ".join(w for w in m.group(1).split() if w not in gone), text, flags=re.M)

    def readme(self) -> str:
        """The project's README: its own code first, how to run and change it, how to deploy it.
        Each pattern gives its "Try it" and "Make it yours" sections (functions/<pattern>/README.md)."""
        parts = {p: _headed_sections((self.dest / "functions" / p / "README.md").read_text(encoding="utf-8")) for p in self.chosen}

        def section(pattern: str, heading: str) -> str:
            found = [text.split("\n", 1)[1].strip("\n") for title, text in parts[pattern] if title == heading]
            return found[0] + "\n" if found else ""

        titles = {p: composition.Part.read(composition.FUNCTIONS / p / "template.yaml").body["Metadata"]["Pattern"]["Title"] for p in self.chosen}
        resources = load(self.dest / "template.yaml")["Resources"]
        kinds = Counter(body["Type"] for body in resources.values())
        alarms, keys, secrets = kinds["AWS::CloudWatch::Alarm"], kinds["AWS::KMS::Key"], kinds["AWS::SecretsManager::Secret"]
        idle = alarms * 0.10 + keys * 1.00 + secrets * 0.40
        pollers = sum(1 for body in resources.values() if body["Type"] == "AWS::Lambda::EventSourceMapping"
                      and resources[body["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue")
        crates = []
        for pattern in self.chosen:
            for crate in crates_of(pattern):
                description = re.search(r'^description = "(.*)"$', (crate / "Cargo.toml").read_text(), re.M)
                crates.append(f"  {crate.name + '/':<22} {description.group(1) if description else ''}")
        try_it = "\n".join(f"### {titles[p]}\n\n{section(p, '## Try it')}" for p in self.chosen if section(p, "## Try it"))
        yours = "".join(section(p, "## Make it yours") for p in self.chosen)
        layout = "\n".join(
            [f"{'functions/' + p + '/':<23}{titles[p]}: its crates, README.md (how it works), tests/ (end to end)" for p in self.chosen]
            + crates)
        api = kinds["AWS::Serverless::HttpApi"] > 0
        example = self.example()
        polling = (f" Lambda long-polls each queue with an SQS event ({pollers} here) even when it is empty: those"
                   "\nReceiveMessage requests count against SQS's free million a month, then $0.40 per million.") if pollers else ""
        call = (f"\n.venv/bin/sam list stack-outputs --stack-name {self.name}   # ApiUrl, the queues, AlarmTopicArn, ..."
                + "\ncurl -si \"<ApiUrl>/" + ("orders/<id>" if "sync" in self.chosen else "jobs/<id>")
                + "\" --aws-sigv4 \"aws:amz:<region>:execute-api\" --user \"$KEY_ID:$SECRET\"    # AuthMode IAM, the default; JWT: -H 'authorization: Bearer ...'") if api else ""
        closed = ("\nThe API is closed (`AuthMode` `IAM` by default): deployed, it answers 403 to an unsigned"
                  "\nrequest. `make up` stands a caller in for unsigned requests (`LOCAL_UNSIGNED_CALLER=` refuses"
                  "\nthem, as API Gateway does); a SigV4-signed one is the caller its access key id names.\n") if api else ""
        return f"""# {self.name}

AWS Lambda functions in Rust: {"; ".join(titles[p].lower() if i else titles[p] for i, p in enumerate(self.chosen))}.
It runs and is tested on your machine without Docker or an AWS account, and deploys with SAM.

```sh
make demo   # builds, starts the system locally (no Docker), walks it over HTTP, stops it
make test   # every test: Rust unit and integration (real SDK against a local AWS), end to end, template gates
```

## Prerequisites

| Tool | Version | For |
|---|---|---|
| Rust (rustup, cargo) | 1.94 or newer | everything |
| Python | 3.11 or newer, with `venv` | the local loop and the tests: `make` installs the pinned tools into `.venv` |
| Docker | any engine, default settings | only `make sam-local` and `make sam-invoke` |
| AWS credentials | | only `sam deploy` |

The first `make test` installs the tools (about 3 minutes) and builds (10 minutes or more on 2
cores); later runs take a minute or two. Plain `cargo test` needs nothing running: it runs every
test that needs no local AWS and lists the others as ignored.

## What is here

```
{layout}
template.yaml          every resource of this project (SAM): edit it as any SAM template
events/<function>/     sample events, each run by a test against tests/expected/<function>.json
tests/                 template gates (cfn-lint, checkov, the invariants no linter checks), local-loop tests
kit/                   lambda-kit (config, tracing, SDK set-up, errors, ...), contracts, test-support
tools/                 what runs it here: the local loop, make sam-local, the deploy rehearsal (tools/README.md)
samconfig.toml         sam deploy's settings (stack name {self.name})
.ci/run                what CI runs
```

## Run it locally

```sh
make up      # the local stack, kept running: the functions under cargo lambda watch, a local AWS (moto)
make down    # stops it
```

Save an edit to a function while `make up` runs: its next request rebuilds and restarts it. The
stack's log is `.local/stack.log`.
{closed}
{try_it}
## Make it yours

- **Rename the project**: its name is in `README.md`, `samconfig.toml` (`stack_name`) and
  `template.yaml` (`Description`).
{yours}- **A function**: a crate under `functions/<pattern>/` (the workspace takes every folder there),
  with `lambda-kit` and the features it needs; in `template.yaml` an `AWS::Serverless::Function`
  with `Metadata: {{BuildMethod: rust-cargolambda, BuildProperties: {{Binary: <crate>}}}}`, its
  log group, its least-privilege policies and its events; a sample in `events/<crate>/` with its
  answer in `tests/expected/<crate>.json`. `make test` then builds it, serves it and checks the
  template (every function needs a log group with a retention, a reserved concurrency and no
  wildcard actions).
- **An AWS service**: add its SDK crate (`aws-sdk-<service>`, `default-features = false` as the
  others in `Cargo.toml`) to the function, build the client once in `main.rs` from the shared
  config, and grant the function only the actions it calls in `template.yaml`.
- **A resource**: add it to `template.yaml`, encrypted with `DataKey`; a queue with its
  dead-letter queue and an alarm on it to `AlarmTopic`. The local stack creates what the template
  holds; cfn-lint and checkov in `make test` say what is missing.

## One event under SAM's emulator

```sh
make sam-invoke FN={example[0]} EVENT=events/{example[1]}/{example[2]}
make sam-local   # every sample event through sam local, each answer checked
```

Both run `sam build`, start a local AWS on Docker's bridge for the containers, and remove every
container they started.

## Deploy

```sh
export AWS_PROFILE=...        # credentials for the account, as the AWS CLI takes them
make build                    # sam build: arm64 binaries, cross-compiled with cargo-lambda
.venv/bin/sam deploy --guided # asks for the region, AuthMode (IAM, the default; JWT; or NONE, open to anyone) and AlarmEmail{call}
.venv/bin/sam delete          # removes the stack, not its data: tables, key and secrets stay (DataRetention=Delete: they go too)
```

Give `AlarmEmail` and confirm the mail AWS sends: every alarm of the stack reaches it.
`make deploy-rehearsal` does the whole deploy offline first (a CloudFormation on loopback, checked,
then deleted). Idle, the stack costs about ${idle:.2f} a month at us-east-1 list prices:
{alarms} alarms at $0.10, {keys} KMS key at $1.00{f", {secrets} secret{'s' if secrets > 1 else ''} at $0.40" if secrets else ""}; requests, messages,
storage and logs are paid per use.{polling}

## More

Each pattern's design, limits and failure paths are in its `functions/<pattern>/README.md`. The
serverless patterns kit this project was made from (`make starter PATTERNS="{' '.join(self.chosen)}"`)
documents the local loop, the emulator and the benchmarks.
"""

    def own_examples(self, text: str) -> str:
        """The kit's Makefile help and .ci/run show one function and one sample event (orders-api's
        create-order): in a project without it, the project's own example instead."""
        if "sync" in self.chosen:
            return text
        function, binary, event = self.example()
        return text.replace("OrdersApiFunction", function).replace("events/orders-api/create-order.json", f"events/{binary}/{event}")

    def example(self) -> tuple[str, str, str]:
        """One function of this project and one of its sample events: (logical id, binary, file
        name). An API's reads best; orders-api's create-order where the project has it."""
        resources = load(self.dest / "template.yaml")["Resources"]
        functions = {body["Metadata"]["BuildProperties"]["Binary"]: logical_id for logical_id, body in sorted(resources.items())
                     if body["Type"] == "AWS::Serverless::Function"}
        binary = next((f for f in self.functions if f.endswith("-api")), self.functions[0])
        samples = [case["event"] for case in json.loads(self.expected(binary))["events"]]
        creates = [s for s in samples if s.startswith("create-") and "rest" not in s]
        event = "create-order.json" if "create-order.json" in samples else (creates or samples)[0]
        return functions[binary], binary, event

    def manifests(self) -> list[dict]:
        """The project's crates' Cargo.toml files as written (after the pattern markers)."""
        paths = [*(self.dest / "kit").glob("*/Cargo.toml"), *(self.dest / "functions").glob("*/*/Cargo.toml")]
        return [tomllib.loads(path.read_text(encoding="utf-8")) for path in sorted(paths)]

    def prune_features(self, kit_crate: str, always: set[str] = frozenset()) -> None:
        """A kit crate (lambda-kit, test-support) without the features no crate of this project
        asks for: the feature, the optional dependencies only it brings, and its module
        (`#[cfg(feature = "x")] pub mod m;`). An optional dependency is in Cargo.lock whether or
        not a feature turns it on, so an unused `sns` feature would keep aws-sdk-sns there."""
        kit = self.dest / "kit" / kit_crate
        manifest = (kit / "Cargo.toml").read_text(encoding="utf-8")
        features = dict(re.findall(r"^([a-z0-9_-]+) = \[(.*)\]$", manifest.split("[features]", 1)[1].split("\n[", 1)[0], re.M))
        asked: set[str] = set(always)
        for crate in self.manifests():
            if crate.get("package", {}).get("name") != kit_crate:
                for name, spec in dependencies(crate):
                    if name == kit_crate and isinstance(spec, dict):
                        asked |= set(spec.get("features", []))
        while True:
            implied = {f for name in asked for f in re.findall(r'"([a-z0-9_-]+)"', features.get(name, "")) if f in features}
            if implied <= asked:
                break
            asked |= implied
        unused = sorted(set(features) - asked)
        kept_deps = {d for name in asked for d in re.findall(r'"dep:([a-z0-9_-]+)"', features[name])}
        dropped_deps = {d for name in unused for d in re.findall(r'"dep:([a-z0-9_-]+)"', features[name])} - kept_deps
        lines = manifest.splitlines(keepends=True)
        out: list[str] = []
        for line in lines:
            name = line.split("=")[0].strip()
            if (name in unused and line.startswith(f"{name} = [")) or (name in dropped_deps and "optional = true" in line):
                while out and out[-1].startswith("#") and name in unused:
                    out.pop()  # the feature's comment
                continue
            out.append(line)
        (kit / "Cargo.toml").write_text("".join(out), encoding="utf-8")
        lib = kit / "src" / "lib.rs"
        text = lib.read_text(encoding="utf-8")
        for name in unused:
            for module in re.findall(rf'^#\[cfg\(feature = "{name}"\)\]\npub mod ([a-z_]+);\n', text, re.M):
                text = text.replace(f'#[cfg(feature = "{name}")]\npub mod {module};\n', "")
                for path in (kit / "src" / f"{module}.rs", kit / "src" / module):
                    if path.is_file():
                        path.unlink()
                    elif path.is_dir():
                        shutil.rmtree(path)
            # Its line in the crate's feature list (and the lines continuing it).
            text = re.sub(rf"^//! - `{name}`:.*\n(?://!   .*\n)*", "", text, flags=re.M)
        lib.write_text(text, encoding="utf-8")
        left = [f"{path.relative_to(self.dest)}: {name}" for path in kit.rglob("*.rs") for name in unused
                if f'feature = "{name}"' in path.read_text()]
        if left:
            raise SystemExit(f"{kit_crate} features {unused} are unused here but still named in {left}")

    # ---- Cargo.lock -------------------------------------------------------------------------------

    def lock(self) -> None:
        """The kit's Cargo.lock, pruned by cargo to this workspace; nothing upgraded or added.

        `cargo update --workspace` re-resolves the workspace's own crates only: what no crate
        here uses goes, every other package keeps its locked version. It needs the registry's
        index entries of those packages: from the local cache when it has them (offline: no
        network needed), else from the registry (a machine whose cargo cache is empty)."""
        shutil.copy2(ROOT / "Cargo.lock", self.dest / "Cargo.lock")
        command = ["cargo", "update", "--workspace", "--quiet"]
        offline = subprocess.run([*command, "--offline"], cwd=self.dest, capture_output=True, text=True)
        if offline.returncode:
            online = subprocess.run(command, cwd=self.dest, capture_output=True, text=True)
            if online.returncode:
                reason = _last_error(online.stderr) or _last_error(offline.stderr)
                raise StarterError(f"cargo could not prune Cargo.lock ({reason}): it needs the crates.io index, "
                                   "from the cargo cache or the network; check that `cargo fetch` works in the kit")
        kit, project = _locked(ROOT / "Cargo.lock"), _locked(self.dest / "Cargo.lock")
        moved = sorted(f"{name} {version}" for name, version in project - kit)
        if moved:
            raise StarterError(f"cargo changed locked versions while pruning Cargo.lock ({', '.join(moved[:5])}): "
                               "run `cargo update --workspace` in the kit and commit its Cargo.lock first")

    # ---- cargo lambda new --template ----------------------------------------------------------------

    def as_cargo_lambda_template(self) -> None:
        """The project folder as a `cargo lambda new --template` template that renders back to it:
        its name becomes `{{project_name}}`, files cargo-lambda always renders with Liquid
        (Cargo.toml, README.md, src/main.rs, src/lib.rs, bin/*) are kept verbatim with raw blocks."""
        rendered = []
        for path in sorted(p for p in self.dest.rglob("*") if p.is_file()):
            relative = path.relative_to(self.dest)
            text = path.read_text(encoding="utf-8")
            always = relative.name in ("Cargo.toml", "README.md") or (relative.parent.name == "src" and relative.name in ("main.rs", "lib.rs")) \
                or relative.parent.name == "bin"
            named = self.name in text and relative.as_posix() in ("README.md", "samconfig.toml", "template.yaml")
            if not always and not named:
                continue
            if named:
                parts = text.split(self.name)
                text = "{{project_name}}".join(_raw(part) for part in parts)
                rendered.append(relative.as_posix())
            elif "{{" in text or "{%" in text:
                text = _raw(text)
            path.write_text(text, encoding="utf-8")
        extra = [r for r in rendered if r not in ("README.md",)]
        (self.dest / "CargoLambda.toml").write_text(
            "# `cargo lambda new --template <this folder> <name>`: the project this folder was made as, under\n"
            "# <name>. Written by the kit's `make starter` (tools/starter/starter.py); no prompt but the name.\n"
            "[template]\n"
            "disable_default_prompts = true\n"
            f"render_files = {json.dumps(extra)}\n"
            'ignore_files = ["CargoLambda.toml"]\n',
            encoding="utf-8",
        )


def _raw(text: str) -> str:
    if "{{" not in text and "{%" not in text:
        return text
    return "{% raw %}" + text + "{% endraw %}"


def _headed_sections(text: str) -> list[tuple[str, str]]:
    """(heading, text up to the next level-2 heading), headings outside code fences."""
    sections: list[tuple[str, list[str]]] = []
    fenced = False
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            sections.append((line.strip(), [line]))
        elif sections:
            sections[-1][1].append(line)
    return [(title, "".join(lines)) for title, lines in sections]


class StarterError(Exception):
    """A reason the project cannot be made, said in one line with what to do."""


# Pattern markers: code of one pattern that sits in another's files (the invoice job the sync
# pattern adds to the async one, the outbox path fan-out adds to job-worker, callback URLs).
#
#     some line                      // starter: with sync      (the line, only with sync)
#     some text                      // starter: without fanout (only without fan-out: the kit
#                                                                  holds it too, so text, not code)
#     // starter: with callbacks                                 (the lines down to the next
#     ...                                                        //  starter: end, only with
#     // starter: end                                            //  callbacks; blocks may nest)
#     some line                      // starter: with sync|fanout (with either of them)
#
# In a project the marker comments go, and what they mark stays or goes with the pattern; a
# `mod x;` line that goes takes its file (x.rs or x/) with it. `#` comments in TOML, Python and
# YAML, `<!-- -->` in Markdown. The kit compiles and tests everything, markers being comments.
MARKER = "starter: "
MARKED = (".rs", ".toml", ".py", ".md", ".yaml")
_MOD = re.compile(r"^\s*(?:pub(?:\([a-z]+\))? )?mod ([a-z_0-9]+);")
_MARK = re.compile(r"^(?P<code>.*?)\s*(?:(?://|#)\s*|<!--\s*)starter: (?P<what>with|without|end)\b\s*(?P<pattern>[a-z|]*)\s*(?:-->)?\s*$")


def only_with(text: str, chosen: list[str], where: str = "") -> tuple[str, list[str]]:
    """`text` as a project of the `chosen` patterns has it, and the modules whose line went."""
    out: list[str] = []
    modules: list[str] = []
    stack: list[bool] = []  # per open block: whether it is kept
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        mark = _MARK.match(line.rstrip("\n"))
        if MARKER in line and not mark:
            raise StarterError(f"{where}:{number}: a pattern marker must read 'starter: with <pattern>', "
                               "'starter: without <pattern>' or 'starter: end'")
        if not mark:
            if all(stack):
                out.append(line)
            else:
                modules += _MOD.findall(line)
            continue
        what, patterns, code = mark["what"], mark["pattern"].split("|"), mark["code"]
        unknown = [p for p in patterns if p not in composition.PATTERNS]
        if what != "end" and unknown:
            raise StarterError(f"{where}:{number}: no pattern {unknown[0]!r} (there are {', '.join(composition.PATTERNS)})")
        keep = what == "end" or bool(set(patterns) & set(chosen)) == (what == "with")
        if what == "end":
            if code.strip() or not stack:
                raise StarterError(f"{where}:{number}: 'starter: end' closes no block")
            stack.pop()
        elif not code.strip():
            stack.append(keep)
        elif where.endswith(".rs") and not code.lstrip().startswith("//") and _items(code) > 1:
            raise StarterError(f"{where}:{number}: a marked line holds more than one item of a list "
                               "(rustfmt joined them?): mark a block instead")
        elif all(stack) and keep:
            out.append(code.rstrip() + "\n")
        elif all(stack):
            modules += _MOD.findall(code)
    if stack:
        raise StarterError(f"{where}: a 'starter: with/without' block is not closed by 'starter: end'")
    return "".join(out), modules


def dependencies(manifest: dict) -> list[tuple[str, object]]:
    """Every (name, spec) of a manifest's dependency tables."""
    return [item for table in ("dependencies", "dev-dependencies", "build-dependencies")
            for item in manifest.get(table, {}).items()]


def without_tests_of_absent_patterns(text: str, chosen: list[str]) -> str:
    """A Python test module without its tests marked `@needs(...)` / `@needs_one_of(...)` (tests/
    patterns.py) for patterns that are not chosen: a project holds only tests it runs."""
    import ast

    lines = text.splitlines(keepends=True)
    gone: list[tuple[int, int]] = []
    for node in ast.parse(text).body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for decorator in node.decorator_list:
            if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Name)
                    and decorator.func.id in ("needs", "needs_one_of")):
                continue
            names = {arg.value for arg in decorator.args if isinstance(arg, ast.Constant)}
            held = names <= set(chosen) if decorator.func.id == "needs" else bool(names & set(chosen))
            if not held:
                start = min(d.lineno for d in node.decorator_list) - 1
                while start > 0 and lines[start - 1].startswith("#"):
                    start -= 1  # its comment
                end = node.end_lineno
                while end < len(lines) and not lines[end].strip():
                    end += 1  # the blank lines after it
                gone.append((start, end))
                break
    for start, end in reversed(gone):
        del lines[start:end]
    return "".join(lines)


def _items(code: str) -> int:
    """How many comma-separated items `code` holds outside brackets and strings (`a, b,` is 2)."""
    depth, items, text, quoted = 0, 1, code.strip().rstrip(","), False
    for at, char in enumerate(text):
        if char == '"' and (at == 0 or text[at - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "([{<":
            depth += 1
        elif not quoted and char in ")]}>" and not (char == ">" and text[at - 1:at] in ("-", "=")):
            depth -= 1
        elif not quoted and char == "," and depth == 0:
            items += 1
    return items


def refuse_non_empty(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise StarterError(f"{dest} exists and is not empty: choose a new DEST (nothing was written)")


def _locked(lock: Path) -> set[tuple[str, str]]:
    """(name, version) of every package a Cargo.lock holds."""
    return {(package["name"], package["version"]) for package in tomllib.loads(lock.read_text(encoding="utf-8"))["package"]}


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error")]
    return (errors or lines or [""])[-1]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.starter.starter", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patterns", nargs="+", required=True, help=f"of {', '.join(composition.PATTERNS)}, or all")
    parser.add_argument("--name", required=True)
    parser.add_argument("--dest", required=True, type=Path)
    parser.add_argument("--cargo-lambda-template", action="store_true", help="write it as a cargo lambda new --template folder")
    args = parser.parse_args()
    patterns = [word for value in args.patterns for word in value.split()]
    try:
        starter = Starter(patterns, args.name, args.dest)
        starter.write(cargo_lambda_template=args.cargo_lambda_template)
    except StarterError as error:
        print(f"make starter: {error}", file=sys.stderr)
        return 2
    except SystemExit as error:  # the composition's own one-line refusals (an unknown pattern)
        if not isinstance(error.code, str):
            raise
        print(f"make starter: {error.code}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"make starter: {error.strerror or error} ({error.filename or args.dest}): nothing was written", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("make starter: interrupted: nothing was written", file=sys.stderr)
        return 130
    print(f"{starter.dest}: {args.name}, patterns {' '.join(starter.chosen)}"
          + (" (a cargo lambda new --template folder)" if args.cargo_lambda_template else "")
          + f"\nnext: cd {starter.dest} && git init && make test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
