"""template.yaml: the linters at zero findings, and the invariants no linter checks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from patterns import has, needs, needs_one_of
from tools.shared.cfn import ROOT, Template, load, referable, references

BIN = Path(sys.executable).parent
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
TEMPLATE = Template.read()


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_sam_validate_lint_passes():
    result = run(str(BIN / "sam"), "validate", "--lint", "--template", "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_with_the_serverless_rules_reports_nothing():
    result = run(str(BIN / "cfn-lint"), "-a", "cfn_lint_serverless.rules", "--", "template.yaml")
    assert (result.returncode, result.stdout.strip()) == (0, ""), result.stdout + result.stderr


def test_checkov_reports_no_failed_check():
    result = run(str(CHECKOV), "--framework", "cloudformation", "--skip-download", "--quiet", "--output", "json", "-f", "template.yaml")
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [f'{c["check_id"]} {c["resource"]}' for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 0


def test_every_checkov_skip_gives_its_reason():
    for name, resource in TEMPLATE.resources.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 20, f"{name}: skip of {skip.get('id')} needs a reason"


# The template by pattern --------------------------------------------------------------------


def test_the_template_refers_only_to_what_it_holds():
    """cfn-lint does not see a dangling reference inside a SAM resource's properties (tried: an
    environment variable naming a table that is not there passes): every reference names a
    resource, a parameter or a pseudo-parameter."""
    body = load(ROOT / "template.yaml")
    known = referable(body)
    dangling = {name for name in references(body) if not name.startswith("AWS::")} - known
    assert not dangling, f"references to nothing in template.yaml: {sorted(dangling)}"


# Invariants ---------------------------------------------------------------------------------

FUNCTIONS = TEMPLATE.functions()


def function_property(function: dict, name: str):
    own = function.get("Properties", {})
    return own[name] if name in own else TEMPLATE.body.get("Globals", {}).get("Function", {}).get(name)


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_function_is_a_workspace_binary_built_by_cargo_lambda(logical_id):
    function = FUNCTIONS[logical_id]
    assert function["Metadata"]["BuildMethod"] == "rust-cargolambda"
    binary = TEMPLATE.binary(logical_id)
    assert list(ROOT.glob(f"functions/*/{binary}/Cargo.toml")), f"no crate functions/<pattern>/{binary}"
    assert function_property(function, "Runtime") == "provided.al2023"


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_function_traces_logs_json_to_a_retained_encrypted_group_and_has_bounded_concurrency(logical_id):
    function = FUNCTIONS[logical_id]
    assert function_property(function, "Tracing") == "Active"
    assert TEMPLATE.body["Globals"]["Function"]["LoggingConfig"]["LogFormat"] == "JSON"
    log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    group = TEMPLATE.resources[log_group]["Properties"]
    assert "RetentionInDays" in group and "KmsKeyId" in group
    assert "ReservedConcurrentExecutions" in function["Properties"]


def iam_statements():
    for logical_id, function in FUNCTIONS.items():
        for policy in function["Properties"].get("Policies", []):
            if isinstance(policy, str):
                yield logical_id, policy
            elif "Statement" in policy:
                for statement in policy["Statement"]:
                    yield logical_id, statement


def test_function_policies_name_their_actions_and_resources():
    for logical_id, statement in iam_statements():
        assert not isinstance(statement, str) or not statement.endswith("FullAccess"), f"{logical_id}: {statement}"
        if isinstance(statement, str):
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), f"{logical_id}: wildcard action in {actions}"
        assert statement["Resource"] != "*", f"{logical_id}: {statement.get('Sid')} has Resource *"


def test_tables_are_encrypted_with_the_stack_key_and_recoverable():
    for name, table in TEMPLATE.of_type("AWS::DynamoDB::Table").items():
        properties = table["Properties"]
        assert properties["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "DataKey"}, name
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name


def test_the_http_api_is_throttled_and_access_logged():
    for name, api in TEMPLATE.of_type("AWS::Serverless::HttpApi").items():
        properties = api["Properties"]
        assert properties["DefaultRouteSettings"]["ThrottlingRateLimit"], name
        assert properties["DefaultRouteSettings"]["ThrottlingBurstLimit"], name
        json.loads(properties["AccessLogSettings"]["Format"].replace("\n", ""))


def test_release_builds_keep_unwinding_so_a_panic_stays_one_invocation_error():
    # cargo-lambda sets panic = "abort" unless the profile says otherwise.
    profile = tomllib.loads((ROOT / "Cargo.toml").read_text())["profile"]["release"]
    assert profile["panic"] == "unwind"


def test_every_ttl_attribute_is_one_the_code_writes():
    sources = "".join(path.read_text() for path in [*ROOT.glob("functions/*/*/src/**/*.rs"), *ROOT.glob("kit/*/src/**/*.rs")])
    tables = {name: t["Properties"] for name, t in TEMPLATE.of_type("AWS::DynamoDB::Table").items()}
    with_ttl = {name: p["TimeToLiveSpecification"] for name, p in tables.items() if "TimeToLiveSpecification" in p}
    assert with_ttl, "the idempotency table at least expires its records"
    for name, ttl in with_ttl.items():
        assert ttl["Enabled"] is True, name
        # Named in a DynamoDB call ("expires_at"), or a field of an item's struct (serde_dynamo).
        attribute = re.escape(ttl["AttributeName"])
        assert re.search(rf'"{attribute}"|\b{attribute}: ', sources), f"{name}: no code writes {ttl['AttributeName']}"


# Messaging invariants (Lambda's and SQS's rules that no linter checks) -------------------------

def mappings_from(resource_type: str) -> list[tuple[str, dict]]:
    """(function, properties) of every event source mapping whose source is a `resource_type`."""
    return [
        (mapping["Properties"]["FunctionName"]["Ref"], mapping["Properties"])
        for mapping in TEMPLATE.of_type("AWS::Lambda::EventSourceMapping").values()
        if TEMPLATE.resources[mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]]["Type"] == resource_type
    ]


SQS_EVENTS = mappings_from("AWS::SQS::Queue")


def resolved(value):
    return int(TEMPLATE.resolve(value))


@needs_one_of("async", "fanout")
def test_there_is_an_sqs_consumer_to_check():
    assert SQS_EVENTS


@pytest.mark.parametrize(("logical_id", "source"), SQS_EVENTS)
def test_sqs_consumers_report_failures_per_record_in_batches_lambda_accepts(logical_id, source):
    assert "ReportBatchItemFailures" in source["FunctionResponseTypes"]
    window = source.get("MaximumBatchingWindowInSeconds", 0)
    assert source["BatchSize"] <= 10 or window >= 1


@pytest.mark.parametrize(("logical_id", "source"), SQS_EVENTS)
def test_the_visibility_timeout_is_at_least_six_times_the_function_timeout_plus_the_window(logical_id, source):
    queue = TEMPLATE.resources[source["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
    timeout = function_property(FUNCTIONS[logical_id], "Timeout")
    assert queue["VisibilityTimeout"] >= 6 * timeout + source.get("MaximumBatchingWindowInSeconds", 0)


@pytest.mark.parametrize(("logical_id", "source"), SQS_EVENTS)
def test_poison_messages_go_to_a_longer_lived_alarmed_dlq_after_at_least_five_receives(logical_id, source):
    queue = TEMPLATE.resources[source["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
    redrive = queue["RedrivePolicy"]
    assert redrive["maxReceiveCount"] >= 5
    dlq_name = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    dlq = TEMPLATE.resources[dlq_name]["Properties"]
    assert dlq["MessageRetentionPeriod"] > queue.get("MessageRetentionPeriod", 345600)
    alarms = TEMPLATE.of_type("AWS::CloudWatch::Alarm").values()
    assert any(d["Value"] == {"Fn::GetAtt": [dlq_name, "QueueName"]} for a in alarms for d in a["Properties"]["Dimensions"])


@pytest.mark.parametrize(("logical_id", "source"), SQS_EVENTS)
def test_a_consumer_told_its_queues_receive_limit_is_told_the_redrive_policys(logical_id, source):
    """A consumer that acts on a message's last delivery (`*_MAX_RECEIVES`) must know which one
    it is: the number is the queue's maxReceiveCount, or it acts too early or never."""
    queue = TEMPLATE.resources[source["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
    variables = (function_property(FUNCTIONS[logical_id], "Environment") or {}).get("Variables", {})
    for name, value in variables.items():
        if name.endswith("_MAX_RECEIVES"):
            assert int(value) == queue["RedrivePolicy"]["maxReceiveCount"], name


@pytest.mark.parametrize(("logical_id", "source"), SQS_EVENTS)
def test_reserved_concurrency_covers_the_event_source_maximum_concurrency(logical_id, source):
    maximum = resolved(source["ScalingConfig"]["MaximumConcurrency"])
    reserved = resolved(FUNCTIONS[logical_id]["Properties"]["ReservedConcurrentExecutions"])
    assert 2 <= maximum <= reserved


def test_queues_are_encrypted_with_the_stack_key():
    for name, queue in TEMPLATE.of_type("AWS::SQS::Queue").items():
        assert queue["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}, name


# Publish-subscribe invariants -------------------------------------------------------------------

# The domain-events topic's queue subscriptions (the alarm topic's e-mail is no queue).
SUBSCRIPTIONS = {name: s for name, s in TEMPLATE.of_type("AWS::SNS::Subscription").items() if s["Properties"]["Protocol"] == "sqs"}
SNS_EVENTS = [(f, e["Properties"]) for f, fn in FUNCTIONS.items() for e in fn["Properties"].get("Events", {}).values() if e["Type"] == "SNS"]


@needs("fanout")
def test_every_subscription_has_its_own_dead_letter_queue():
    dlqs = [s["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for s in SUBSCRIPTIONS.values()]
    dlqs += [p["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for _, p in SNS_EVENTS]
    assert len(dlqs) == len(SUBSCRIPTIONS) + len(SNS_EVENTS) == len(set(dlqs)) >= 3


def test_only_the_topic_or_the_domain_bus_may_send_to_the_queues_they_deliver_to():
    """A queue that SNS or EventBridge delivers to takes messages from that topic, or from the
    rules of the domain bus, and from no other principal of those services."""
    policies = list(TEMPLATE.of_type("AWS::SQS::QueuePolicy").values())
    covered = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny":
                continue  # the TLS-only statement (test_every_queue_policy_refuses_requests_without_tls)
            assert statement["Principal"] != "*" and statement["Action"] == "sqs:SendMessage"
            # starter: with fanout
            if statement["Principal"] == {"Service": "sns.amazonaws.com"}:
                assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Ref": "DomainEventsTopic"}
                covered |= {arn["Fn::GetAtt"][0] for arn in statement["Resource"]}
                continue
            # starter: end
            # starter: with events
            if statement["Principal"] == {"Service": "events.amazonaws.com"}:
                assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == {
                    "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${DomainEventBus}/*"}
                covered |= {arn["Fn::GetAtt"][0] for arn in statement["Resource"]}
                continue
            # starter: end
            raise AssertionError(f"a queue policy lets {statement['Principal']} send")
    targets = {s["Properties"]["Endpoint"]["Fn::GetAtt"][0] for s in SUBSCRIPTIONS.values()}
    targets |= {s["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for s in SUBSCRIPTIONS.values()}
    targets |= {p["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for _, p in SNS_EVENTS}
    for target in rule_targets():
        if ":sqs:" in str(TEMPLATE.resolve(target["Arn"])):
            targets.add(target["Arn"]["Fn::GetAtt"][0])
        targets.add(target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
    assert targets <= covered


def rule_targets() -> list[dict]:
    """Every target of every EventBridge rule, as SAM deploys them."""
    return [target for rule in TEMPLATE.translated_of_type("AWS::Events::Rule").values() for target in rule["Properties"]["Targets"]]


@needs("events")
def test_every_rule_target_retries_then_dead_letters_into_an_alarmed_queue():
    targets = rule_targets()
    assert len(targets) >= 3
    alarmed = {alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
               for alarm in TEMPLATE.of_type("AWS::CloudWatch::Alarm").values()
               if alarm["Properties"].get("Namespace") == "AWS/SQS"}
    for target in targets:
        retry = target["RetryPolicy"]
        assert 0 < retry["MaximumRetryAttempts"] <= 185 and 60 <= retry["MaximumEventAgeInSeconds"] <= 86400
        assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] in alarmed


@needs("events")
def test_the_rules_route_by_content_with_each_kind_of_filter_the_pattern_shows():
    """The issue's minimum, held: a numeric range, a prefix, anything-but, exists, and a rule of
    several detail types; and a Lambda target gets only part of the event (an input transformer)."""
    patterns = json.dumps([rule["Properties"]["EventPattern"] for rule in TEMPLATE.translated_of_type("AWS::Events::Rule").values()])
    for operator in ('"numeric": [">=", 100000, "<=", 5000000000]', '"prefix": "b2b-"', '"anything-but"', '"exists": true'):
        assert operator in patterns, operator
    rules = TEMPLATE.translated_of_type("AWS::Events::Rule").values()
    assert any(len(rule["Properties"]["EventPattern"]["detail-type"]) > 1 for rule in rules)
    lambda_targets = [t for t in rule_targets() if "Fn::GetAtt" in t["Arn"] and t["Arn"]["Fn::GetAtt"][0] in TEMPLATE.functions()]
    assert lambda_targets and all("InputTransformer" in t for t in lambda_targets)


@needs("events")
def test_only_event_relay_puts_on_the_domain_bus_and_only_there():
    putters = []
    for name, function in TEMPLATE.functions().items():
        for policy in function["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if any(action.startswith("events:") for action in actions):
                    putters.append(name)
                    assert actions == ["events:PutEvents"]
                    assert statement["Resource"] == {"Fn::GetAtt": ["DomainEventBus", "Arn"]}
    assert putters == ["EventRelayFunction"]


@needs("fanout")
def test_the_events_topic_is_encrypted_and_takes_tls_publishes_only():
    assert set(TEMPLATE.of_type("AWS::SNS::Topic")) == {"DomainEventsTopic", "AlarmTopic"}
    topic = TEMPLATE.resources["DomainEventsTopic"]
    assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    (policy,) = [p for p in TEMPLATE.of_type("AWS::SNS::TopicPolicy").values() if p["Properties"]["Topics"] == [{"Ref": "DomainEventsTopic"}]]
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false" for s in denies)


def test_the_data_outlives_the_stack_unless_the_deployer_says_it_is_throwaway():
    """Tables, the key that encrypts them and the secrets survive `sam delete` and a replacing
    update by default (DeletionPolicy and UpdateReplacePolicy Retain, through
    AWS::LanguageExtensions); DataRetention Delete is for throwaway stacks."""
    from tools.shared.cfn import translate

    kinds = ("AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::SecretsManager::Secret")
    data = [name for kind in kinds for name in TEMPLATE.of_type(kind)]
    assert data and TEMPLATE.body["Parameters"]["DataRetention"]["Default"] == "Retain"
    for parameters, policy in (({}, "Retain"), ({"DataRetention": "Delete"}, "Delete")):
        resources = translate(TEMPLATE.body, parameters)["Resources"]
        for name in data:
            assert (resources[name]["DeletionPolicy"], resources[name]["UpdateReplacePolicy"]) == (policy, policy), name


def test_every_queue_policy_refuses_requests_without_tls():
    policies = TEMPLATE.of_type("AWS::SQS::QueuePolicy")
    for name, policy in policies.items():
        queues = {queue["Ref"] for queue in policy["Properties"]["Queues"]}
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        (deny,) = [s for s in statements if s["Effect"] == "Deny" and "aws:SecureTransport" in s.get("Condition", {}).get("Bool", {})]
        assert deny["Principal"] == "*" and deny["Action"] == "sqs:*" and deny["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        assert {resource["Fn::GetAtt"][0] for resource in deny["Resource"]} == queues, name


@needs("fanout")
def test_only_event_publisher_may_publish_domain_events():
    """A subscriber trusts what the topic delivers as what the outbox recorded: the topic's
    policy lets event-publisher's role publish and denies every other principal, even one whose
    IAM policy allows sns:Publish on *."""
    (policy,) = [p for p in TEMPLATE.of_type("AWS::SNS::TopicPolicy").values() if p["Properties"]["Topics"] == [{"Ref": "DomainEventsTopic"}]]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    publisher = {"Fn::GetAtt": ["EventPublisherFunctionRole", "Arn"]}
    def actions(statement: dict) -> list[str]:
        return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]

    allows = [s for s in statements if s["Effect"] == "Allow" and "sns:Publish" in actions(s)]
    assert [s["Principal"] for s in allows] == [{"AWS": publisher}]
    (deny,) = [s for s in statements if s["Effect"] == "Deny" and "ArnNotEquals" in s.get("Condition", {})]
    assert deny["Principal"] == "*" and deny["Action"] == "sns:Publish"
    assert deny["Condition"]["ArnNotEquals"] == {"aws:PrincipalArn": publisher}
    # The role exists once SAM has made it: the one event-publisher runs as.
    role = TEMPLATE.translated["EventPublisherFunction"]["Properties"]["Role"]
    assert role == {"Fn::GetAtt": ["EventPublisherFunctionRole", "Arn"]} and "EventPublisherFunctionRole" in TEMPLATE.translated


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_the_guard_dlq_rule_is_suppressed_only_with_its_reason(logical_id):
    """AWS Guard's LAMBDA_DLQ_CHECK wants a DeadLetterConfig on every function. A DLQ on the
    function catches asynchronous invocations only: where a function is invoked synchronously or
    by an event source mapping, the suppression says so (the source's own DLQ takes the
    failures); where it is invoked asynchronously, its on-failure destination does."""
    function = FUNCTIONS[logical_id]
    assert "LAMBDA_DLQ_CHECK" in function["Metadata"]["guard"]["SuppressedRules"]
    text = (ROOT / "template.yaml").read_text()
    block = text[text.index(f"\n  {logical_id}:\n"):]
    block = block[:block.index("SuppressedRules:")]
    assert "# LAMBDA_DLQ_CHECK: " in block.rsplit("guard:", 1)[1], "the reason, in a comment above the suppression"
    asynchronous = any(e["Type"] == "SNS" for e in function["Properties"].get("Events", {}).values())
    if asynchronous:
        assert function["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]


def test_sns_invoked_functions_have_an_on_failure_destination():
    for function, _ in SNS_EVENTS:
        config = FUNCTIONS[function]["Properties"]["EventInvokeConfig"]
        assert config["DestinationConfig"]["OnFailure"]["Type"] == "SQS"


@needs("fanout")
def test_stream_consumers_report_failures_and_keep_what_they_give_up_on():
    streams = [source for _, source in mappings_from("AWS::DynamoDB::Table")]
    assert streams
    for source in streams:
        assert "ReportBatchItemFailures" in source["FunctionResponseTypes"]
        assert source["StartingPosition"] == "TRIM_HORIZON"
        assert source["DestinationConfig"]["OnFailure"]["Destination"]


def test_every_alarm_tells_the_alarm_topic_when_it_fires_and_when_it_clears():
    alarms = TEMPLATE.of_type("AWS::CloudWatch::Alarm")
    assert alarms
    for name, alarm in alarms.items():
        properties = alarm["Properties"]
        assert properties.get("AlarmActions") == [{"Ref": "AlarmTopic"}], f"{name}: ALARM reaches no one"
        assert properties.get("OKActions") == [{"Ref": "AlarmTopic"}], f"{name}: OK reaches no one"


def test_every_alarm_on_the_functions_own_metrics_watches_a_metric_and_outcome_the_code_writes():
    """An alarm on a metric no function writes would never fire: each alarm in the stack's
    namespace names a metric and an outcome that appear in the functions' or the kit's code, and
    the function dimension is one of the stack's functions."""
    sources = "\n".join(path.read_text() for folder in ("functions", "kit") for path in (ROOT / folder).rglob("*.rs"))
    alarms = {name: r["Properties"] for name, r in TEMPLATE.resources.items()
              if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == {"Ref": "MetricsNamespace"}}
    if not alarms:
        pytest.skip("no alarm on the functions' own metrics in this project's patterns")
    for name, alarm in alarms.items():
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert set(dimensions) == {"function", "outcome"}, name
        assert TEMPLATE.resources[dimensions["function"]["Ref"]]["Type"] == "AWS::Serverless::Function", name
        assert f'"{alarm["MetricName"]}"' in sources and f'"{dimensions["outcome"]}"' in sources, name
        assert alarm["Statistic"] == "Sum" and alarm["TreatMissingData"] == "notBreaching", name


def test_only_cloudwatch_publishes_to_the_encrypted_alarm_topic_and_an_email_is_optional():
    topic = TEMPLATE.resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "DataKey"}
    (policy,) = [p["Properties"] for p in TEMPLATE.of_type("AWS::SNS::TopicPolicy").values() if p["Properties"]["Topics"] == [{"Ref": "AlarmTopic"}]]
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"Service": "cloudwatch.amazonaws.com"}]
    assert allows[0]["Action"] == "sns:Publish" and allows[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*" and deny["Action"] == "sns:Publish"
    assert deny["Condition"] == {"StringNotEquals": {"aws:PrincipalServiceName": "cloudwatch.amazonaws.com"}}
    key = TEMPLATE.resources["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and "kms:GenerateDataKey*" in s["Action"] for s in key), \
        "CloudWatch must be able to encrypt what it publishes to the topic"
    subscription = TEMPLATE.resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail" and subscription["Properties"]["Protocol"] == "email"
    assert TEMPLATE.body["Parameters"]["AlarmEmail"]["Default"] == ""
    assert not Template.read().condition("HasAlarmEmail"), "no e-mail unless one is given"


def test_every_queue_where_failures_wait_is_alarmed():
    text = json.dumps(TEMPLATE.resources)
    waiting = set()
    for name in TEMPLATE.of_type("AWS::SQS::Queue"):
        as_target = json.dumps({"Fn::GetAtt": [name, "Arn"]})
        if f'"deadLetterTargetArn": {as_target}' in text or f'"Destination": {as_target}' in text:
            waiting.add(name)
    alarmed = {d["Value"]["Fn::GetAtt"][0] for a in TEMPLATE.of_type("AWS::CloudWatch::Alarm").values() for d in a["Properties"]["Dimensions"]
               if isinstance(d["Value"], dict) and "Fn::GetAtt" in d["Value"]}
    assert waiting <= alarmed, waiting - alarmed
    # Each SQS consumer has a DLQ; the fan-out adds one per subscription and the stream's.
    assert len(waiting) >= len(SQS_EVENTS) + (3 if has("fanout") else 0)


def raw_environment(logical_id: str) -> dict:
    globals_env = TEMPLATE.body.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = TEMPLATE.functions()[logical_id].get("Properties", {}).get("Environment", {}).get("Variables", {})
    return {**globals_env, **own}


@pytest.fixture(scope="module")
def packages_by_binary() -> dict[str, str]:
    metadata = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
                                         cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    return {target["name"]: package["name"] for package in metadata["packages"]
            for target in package["targets"] if "bin" in target["kind"]}


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE.functions()))
def test_what_sam_build_compiles_for_a_function_has_no_local_switches(logical_id, packages_by_binary):
    """sam build compiles a function's package without the `local` feature the local stack turns
    on: fault injection and loopback callbacks are not in what is deployed; nor the `testing`
    features (the in-memory stand-ins of the fuzz tests and benchmarks)."""
    package = packages_by_binary[TEMPLATE.binary(logical_id)]
    tree = run("cargo", "tree", "-p", package, "-e", "normal,features", "--prefix", "none", "--locked")
    assert tree.returncode == 0, tree.stderr
    assert "lambda-kit feature" in tree.stdout, "the tree lists lambda-kit's features"
    assert 'lambda-kit feature "local"' not in tree.stdout
    assert 'feature "testing"' not in tree.stdout


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE.functions()))
def test_no_function_gets_a_fault_switch_or_a_secret_through_its_environment(logical_id):
    from tools.local.stack import FAULT_SWITCHES

    for name, value in raw_environment(logical_id).items():
        assert name not in FAULT_SWITCHES and not name.startswith("LOCAL_"), f"{logical_id}: {name} is a local-only switch"
        if name.endswith("_SECRET_ARN"):
            # Where the secret is, not the secret: a reference to a Secrets Manager secret.
            assert isinstance(value, dict) and TEMPLATE.resources[value["Ref"]]["Type"] == "AWS::SecretsManager::Secret", \
                f"{logical_id}: {name} must be !Ref to an AWS::SecretsManager::Secret"
            continue
        assert not any(word in name.upper() for word in ("SECRET", "PASSWORD", "TOKEN", "PRIVATE", "CREDENTIAL")), \
            f"{logical_id}: {name} looks like a secret; read it from Secrets Manager or SSM at init instead"
        # Values are names and references, never literal key material.
        assert isinstance(value, (dict, int)) or len(str(value)) < 64, f"{logical_id}: {name} holds a long literal"


def test_no_managed_policy_grants_full_access():
    for logical_id, function in TEMPLATE.functions().items():
        for policy in function.get("Properties", {}).get("Policies", []):
            if isinstance(policy, str):
                assert "FullAccess" not in policy and policy != "AdministratorAccess", f"{logical_id}: {policy}"
        for arn in function.get("Properties", {}).get("ManagedPolicyArns", []) or []:
            assert "FullAccess" not in str(arn), f"{logical_id}: {arn}"


# The managed policies a function role may carry once SAM has made it, and why each is there.
MANAGED_POLICY_ALLOW_LIST = {
    # SAM attaches it to every role it makes: logs:CreateLogGroup, CreateLogStream and
    # PutLogEvents on Resource "*". CloudWatch Logs has resource-level permissions: narrowing it to
    # each function's own log group takes a hand-written role per function (SECURITY.md).
    "service-role/AWSLambdaBasicExecutionRole",
    # Tracing: Active. X-Ray has no resource-level permissions: its actions take "*" only.
    "AWSXrayWriteOnlyAccess",
}


def test_after_the_sam_transform_no_role_carries_a_managed_policy_off_the_list_or_a_wildcard_resource():
    """SAM's SQS and DynamoDB event sources would attach AWSLambdaSQSQueueExecutionRole and
    AWSLambdaDynamoDBExecutionRole (receive and delete on every queue, read every stream of the
    account): the mappings are written out instead, each function's statement naming its own
    queue or stream. Checked on the template as CloudFormation gets it, for every AuthMode."""
    from tools.shared.cfn import translate

    for parameters in ({}, {"AuthMode": "NONE"}, {"AuthMode": "JWT", "JwtIssuer": "https://idp.example.com", "JwtAudience": "app"}):
        roles = {name: r["Properties"] for name, r in translate(TEMPLATE.body, parameters)["Resources"].items()
                 if r["Type"] == "AWS::IAM::Role"}
        assert roles
        for name, role in roles.items():
            managed = {arn.split(":policy/", 1)[1] for arn in role.get("ManagedPolicyArns", [])}
            assert managed <= MANAGED_POLICY_ALLOW_LIST, f"{name}: {sorted(managed - MANAGED_POLICY_ALLOW_LIST)}"
            for policy in role.get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                    assert "*" not in resources, f"{name}: {statement}"


@needs("realtime")
def test_the_websocket_api_is_throttled_access_logged_and_its_connect_checks_a_token():
    stages = TEMPLATE.of_type("AWS::ApiGatewayV2::Stage")
    assert stages
    for name, stage in stages.items():
        properties = stage["Properties"]
        assert properties["DefaultRouteSettings"]["ThrottlingRateLimit"], name
        assert properties["DefaultRouteSettings"]["ThrottlingBurstLimit"], name
        json.loads(properties["AccessLogSettings"]["Format"].replace("\n", ""))
    # No authorizer: the $connect integration's function checks the token, so it must have the key.
    integrations = TEMPLATE.of_type("AWS::ApiGatewayV2::Integration")
    for route in TEMPLATE.of_type("AWS::ApiGatewayV2::Route").values():
        if route["Properties"]["RouteKey"] != "$connect":
            continue
        integration = route["Properties"]["Target"]["Fn::Sub"].split("${")[1].rstrip("}")
        function = re.search(r"\$\{(\w+)\.Arn\}", json.dumps(integrations[integration]["Properties"]["IntegrationUri"])).group(1)
        assert "WS_TOKEN_SECRET_ARN" in FUNCTIONS[function]["Properties"]["Environment"]["Variables"]


def test_secrets_are_generated_encrypted_and_readable_by_the_functions_they_name_only():
    """One reader per secret, unless the secret names its readers (Metadata ReadBy) and why."""
    for name, secret in TEMPLATE.of_type("AWS::SecretsManager::Secret").items():
        properties = secret["Properties"]
        assert properties["KmsKeyId"] == {"Ref": "DataKey"}, name
        assert "GenerateSecretString" in properties and "SecretString" not in properties, name
        readers = [
            function for function, resource in FUNCTIONS.items()
            for policy in resource["Properties"].get("Policies", [])
            if isinstance(policy, dict) and policy.get("AWSSecretsManagerGetSecretValuePolicy", {}).get("SecretArn") == {"Ref": name}
        ]
        named = secret.get("Metadata", {}).get("ReadBy")
        if named is None:
            assert len(readers) == 1, f"{name} is read by {readers}"
        else:
            assert sorted(readers) == sorted(named), f"{name} is read by {readers}, names {named}"


@needs("realtime")
def test_ws_push_manages_only_its_own_stages_connections():
    grants = [statement for function, statement in iam_statements()
              if isinstance(statement, dict) and "execute-api:ManageConnections" in json.dumps(statement["Action"])]
    assert grants
    for statement in grants:
        assert statement["Resource"]["Fn::Sub"].endswith("${WebSocketApi}/${WebSocketStage}/POST/@connections/*")


def test_the_local_aws_endpoint_reaches_no_deployed_function():
    """LocalAwsEndpoint exists for `sam local` only (make sam-local): with its default, as in any
    deploy that does not set it, no function gets AWS_ENDPOINT_URL; and it takes nothing but a
    plain-http address on loopback or a private network."""
    spec = TEMPLATE.body["Parameters"]["LocalAwsEndpoint"]
    assert spec["Default"] == ""
    deployed = Template.read()  # default parameter values, as `sam deploy` without overrides
    for logical_id in deployed.functions():
        assert "AWS_ENDPOINT_URL" not in deployed.function_environment(logical_id), logical_id
        for name, value in raw_environment(logical_id).items():
            if name == "AWS_ENDPOINT_URL":
                assert value == {"Fn::If": ["UseLocalAwsEndpoint", {"Ref": "LocalAwsEndpoint"}, {"Ref": "AWS::NoValue"}]}, logical_id
    assert TEMPLATE.body["Conditions"]["UseLocalAwsEndpoint"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "LocalAwsEndpoint"}, ""]}]}
    # Only the one variable, and only through that condition: no other place names the parameter.
    assert json.dumps(TEMPLATE.body).count('"LocalAwsEndpoint"') == 3
    pattern = re.compile(spec["AllowedPattern"])
    for allowed in ("", "http://172.30.250.1:40123", "http://127.0.0.1:5000", "http://10.0.0.2:80"):
        assert pattern.fullmatch(allowed), allowed
    for refused in ("https://dynamodb.us-east-1.amazonaws.com", "http://203.0.113.7:80", "http://evil.example:80", "http://172.32.0.1:80"):
        assert not pattern.fullmatch(refused), refused
    # With a value, every function gets it (what make sam-local passes).
    local = Template.read()
    local.overrides["LocalAwsEndpoint"] = "http://172.30.250.1:40123"
    assert {local.function_environment(f)["AWS_ENDPOINT_URL"] for f in local.functions()} == {"http://172.30.250.1:40123"}


# Who may call the HTTP API (AuthMode) ---------------------------------------------------------


def http_api_operations(parameters: dict[str, str]) -> tuple[dict, list[dict]]:
    """The HTTP API as CloudFormation creates it with `parameters` (AWS::LanguageExtensions, then
    SAM's transform): its OpenAPI body's security schemes and every operation."""
    from tools.shared.cfn import translate

    resources = translate(TEMPLATE.body, parameters)["Resources"]
    body = resources["HttpApi"]["Properties"]["Body"]
    operations = [operation for path in body["paths"].values() for operation in path.values()]
    assert operations, "the HTTP API has routes"
    return body.get("components", {}).get("securitySchemes", {}), operations


@needs_one_of("sync", "async")
def test_with_the_default_parameters_every_route_takes_sigv4_callers_only():
    """A `sam deploy` that names no AuthMode publishes a closed API: API Gateway answers 403 to a
    request without a SigV4 signature of a principal allowed execute-api:Invoke."""
    assert TEMPLATE.body["Parameters"]["AuthMode"]["Default"] == "IAM"
    for parameters in ({}, {"AuthMode": "IAM"}):
        schemes, operations = http_api_operations(parameters)
        assert all(operation["security"] == [{"AWS_IAM": []}] for operation in operations)
        assert schemes["AWS_IAM"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    # As the local stack reads it: every route of the default template has the IAM authorizer.
    routes = Template.read().http_routes()
    assert routes and {route.auth.kind for route in routes} == {"AWS_IAM"}


@needs_one_of("sync", "async")
def test_auth_mode_none_opens_every_route_and_says_what_it_exposes():
    schemes, operations = http_api_operations({"AuthMode": "NONE"})
    assert all("security" not in operation for operation in operations)
    assert "JwtAuthorizer" not in schemes
    description = " ".join(TEMPLATE.body["Parameters"]["AuthMode"]["Description"].split())
    assert "NONE exposes every route to the internet" in description


@needs_one_of("sync", "async")
def test_with_auth_mode_jwt_every_route_takes_tokens_of_the_issuer_for_the_audience():
    issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
    schemes, operations = http_api_operations({"AuthMode": "JWT", "JwtIssuer": issuer, "JwtAudience": "orders-app,ops"})
    assert all(operation["security"] == [{"JwtAuthorizer": []}] for operation in operations)
    authorizer = schemes["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "jwt" and authorizer["identitySource"] == "$request.header.Authorization"
    # CloudFormation puts the parameters' values there (the local gateway's stand-in reads them so).
    assert authorizer["jwtConfiguration"] == {"issuer": {"Ref": "JwtIssuer"}, "audience": {"Ref": "JwtAudience"}}
    assert Template(TEMPLATE.body, {"JwtIssuer": issuer, "JwtAudience": "orders-app,ops"}).resolve(authorizer["jwtConfiguration"]) \
        == {"issuer": issuer, "audience": ["orders-app", "ops"]}


@needs("realtime")
def test_with_auth_mode_jwt_the_websocket_connect_takes_jwts_of_the_same_issuer_and_audience():
    def jwt_settings(parameters: dict[str, str]) -> dict[str, str]:
        environment = Template(TEMPLATE.body, parameters).function_environment("WsApiFunction")
        return {name: value for name, value in environment.items() if name.startswith("JWT_")}

    # The names ws-api reads (ws_api::jwt::JwtRules::from_env).
    source = (ROOT / "functions/realtime/ws-api/src/jwt.rs").read_text()
    assert all(f'"{name}"' in source for name in ("JWT_ISSUER", "JWT_AUDIENCE", "JWT_CUSTOMER_CLAIM"))
    assert jwt_settings({}) == jwt_settings({"AuthMode": "IAM"}) == {}
    issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
    parameters = {"AuthMode": "JWT", "JwtIssuer": issuer, "JwtAudience": "orders-app,ops"}
    assert jwt_settings(parameters) == {"JWT_ISSUER": issuer, "JWT_AUDIENCE": "orders-app,ops", "JWT_CUSTOMER_CLAIM": "sub"}
    claim = {**parameters, "JwtCustomerClaim": "custom:customer_id"}
    assert jwt_settings(claim)["JWT_CUSTOMER_CLAIM"] == "custom:customer_id"
    # The kit's own $connect tokens are a second trust root: off in JWT mode unless asked for.
    environment = Template(TEMPLATE.body, parameters).function_environment("WsApiFunction")
    assert environment["KIT_SIGNED_CONNECT_WITH_JWT"] == "false"
    asked = Template(TEMPLATE.body, {**parameters, "WsKitTokensWithJwt": "true"}).function_environment("WsApiFunction")
    assert asked["KIT_SIGNED_CONNECT_WITH_JWT"] == "true"
    assert "KIT_SIGNED_CONNECT_WITH_JWT" not in Template(TEMPLATE.body, {}).function_environment("WsApiFunction")
    # As CloudFormation has it after AWS::LanguageExtensions: with NONE the variables are not there.
    from tools.shared.cfn import translate

    variables = translate(TEMPLATE.body, {})["Resources"]["WsApiFunction"]["Properties"]["Environment"]["Variables"]
    assert not any(name.startswith("JWT_") for name in variables)


def rules_refusing(parameters: dict[str, str]) -> list[str]:
    """The template's Rules as CloudFormation evaluates them before a deploy with `parameters`:
    the AssertDescription of every assertion that fails (Fn::Equals, Fn::Not, Fn::Contains, Ref)."""
    declared = TEMPLATE.body.get("Parameters", {})

    def value(name: str):
        text = parameters.get(name, declared[name].get("Default", ""))
        return text.split(",") if declared[name]["Type"] == "CommaDelimitedList" else text

    def evaluate(node):
        if isinstance(node, dict):
            ((function, argument),) = node.items()
            if function == "Ref":
                return value(argument)
            if function == "Fn::Equals":
                return evaluate(argument[0]) == evaluate(argument[1])
            if function == "Fn::Not":
                return not evaluate(argument[0])
            if function == "Fn::Contains":
                return evaluate(argument[1]) in evaluate(argument[0])
            raise AssertionError(f"no evaluation of {function} here")
        return node

    refused = []
    for rule in TEMPLATE.body.get("Rules", {}).values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"]):
            continue
        refused += [a["AssertDescription"] for a in rule["Assertions"] if not evaluate(a["Assert"])]
    return refused


@needs_one_of("sync", "async")
def test_auth_mode_jwt_without_an_issuer_or_an_audience_is_refused_at_deploy():
    """API Gateway takes a JWT authorizer with an empty issuer or audience and then lets no
    token in: the template's rule refuses that deploy instead."""
    issuer = "https://idp.example.com"
    assert rules_refusing({}) == rules_refusing({"AuthMode": "NONE"}) == []
    assert rules_refusing({"AuthMode": "JWT", "JwtIssuer": issuer, "JwtAudience": "app,ops"}) == []
    assert len(rules_refusing({"AuthMode": "JWT"})) == 2
    assert [r for r in rules_refusing({"AuthMode": "JWT", "JwtAudience": "app"}) if "JwtIssuer" in r]
    assert [r for r in rules_refusing({"AuthMode": "JWT", "JwtIssuer": issuer}) if "JwtAudience" in r]
    assert [r for r in rules_refusing({"AuthMode": "JWT", "JwtIssuer": issuer, "JwtAudience": "app,"}) if "JwtAudience" in r]


def test_the_auth_parameters_accept_only_what_api_gateway_can_use():
    parameters = TEMPLATE.body["Parameters"]
    if "AuthMode" not in parameters:
        pytest.skip("no HTTP API in this template")
    assert parameters["AuthMode"]["AllowedValues"] == ["NONE", "IAM", "JWT"]
    issuer = re.compile(parameters["JwtIssuer"]["AllowedPattern"])
    assert issuer.fullmatch("") and issuer.fullmatch("https://login.example.com/tenant")
    assert not issuer.fullmatch("http://login.example.com") and not issuer.fullmatch("https://a b")
