"""Reading template.yaml: CloudFormation tags, parameters, and references resolved to local names.

Locally every resource is named after its logical id (a MyTable resource is the DynamoDB table
"MyTable"), so `!Ref MyTable` in a function's environment resolves to the table that
tools/local/stack.py created from the same template.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "local"

_TAGS = {
    "!Ref": "Ref",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!Join": "Fn::Join",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!FindInMap": "Fn::FindInMap",
    "!Condition": "Condition",
    "!Base64": "Fn::Base64",
    "!GetAZs": "Fn::GetAZs",
    "!ImportValue": "Fn::ImportValue",
}


# Lambda's own values for what a template leaves out: the service applies them, so neither SAM
# nor CloudFormation writes them down (Lambda API reference: CreateEventSourceMapping,
# PutFunctionEventInvokeConfig). The only defaults the local loop knows; everything else is read.
LAMBDA_DEFAULTS: dict[str, dict[str, Any]] = {
    "AWS::SQS::Queue": {"BatchSize": 10},
    # -1: a stream record is retried until it expires.
    "AWS::DynamoDB::Table": {"BatchSize": 100, "MaximumRetryAttempts": -1},
    "EventInvokeConfig": {"MaximumRetryAttempts": 2},
}


LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"


class _Unresolved(Exception):
    """A condition that depends on more than the parameters."""


def resolve_conditionals(body: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """What AWS::LanguageExtensions does that this template relies on: every `Fn::If` whose
    condition depends on parameters only becomes its chosen branch, before SAM's transform reads
    it (`!Ref AWS::NoValue` drops the property or the list item). CloudFormation's
    LanguageExtensions resolves more (Fn::Sub, Fn::Join, ... once their values are known); here
    everything else is left as it is, for CloudFormation to resolve after the transforms, which
    gives the same template. (SAM CLI's own copy of LanguageExtensions is not used: it turns an
    `Fn::Sub` it cannot resolve into a plain string, `"${AWS::StackName}-push"`.)"""
    declared = body.get("Parameters", {})
    conditions = body.get("Conditions", {})

    def parameter(name: str) -> Any:
        if name in parameters:
            return parameters[name]
        if name in declared and "Default" in declared[name]:
            return declared[name]["Default"]
        raise _Unresolved(name)

    def value(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return parameter(node["Ref"])
        if isinstance(node, (str, int, float, bool)):
            return node
        raise _Unresolved(node)

    def holds(condition: Any) -> bool:
        if isinstance(condition, dict) and set(condition) == {"Condition"}:
            return holds(conditions[condition["Condition"]])
        (operator, operands), = condition.items()
        if operator == "Fn::Equals":
            left, right = (value(operand) for operand in operands)
            return str(left) == str(right)
        if operator == "Fn::Not":
            return not holds(operands[0])
        if operator == "Fn::And":
            return all(holds(operand) for operand in operands)
        if operator == "Fn::Or":
            return any(holds(operand) for operand in operands)
        raise _Unresolved(operator)

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, when_true, when_false = node["Fn::If"]
                try:
                    chosen = when_true if holds(conditions[name]) else when_false
                except _Unresolved:
                    return {"Fn::If": [name, resolve(when_true), resolve(when_false)]}
                return resolve(chosen)
            resolved = {key: resolve(item) for key, item in node.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(node, list):
            return [item for item in (resolve(item) for item in node) if item is not NO_VALUE]
        return node

    def no_value(node: Any) -> Any:
        # Marks `!Ref AWS::NoValue` before resolving, so a chosen branch of it drops its key.
        if isinstance(node, dict):
            if node == {"Ref": "AWS::NoValue"}:
                return NO_VALUE
            return {key: no_value(item) for key, item in node.items()}
        if isinstance(node, list):
            return [no_value(item) for item in node]
        return node

    def restore(node: Any) -> Any:
        if node is NO_VALUE:
            return {"Ref": "AWS::NoValue"}
        if isinstance(node, dict):
            return {key: restore(item) for key, item in node.items()}
        if isinstance(node, list):
            return [restore(item) for item in node]
        return node

    body = copy.deepcopy(body)
    for section in ("Resources", "Outputs", "Globals"):
        if section in body:
            body[section] = restore(resolve(no_value(body[section])))
    return body


def translate(body: dict[str, Any], parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """`body` through SAM's transform, offline: CodeUri is given the S3 form `sam package` would
    give it, the region is the local one, and no managed policy is looked up in IAM."""
    # Imported here: a second of start-up, needed only by what reads the translation.
    import boto3  # noqa: PLC0415
    from samtranslator.parser.parser import Parser  # noqa: PLC0415
    from samtranslator.translator.translator import Translator  # noqa: PLC0415

    body = copy.deepcopy(body)
    transforms = body.get("Transform")
    if isinstance(transforms, list) and LANGUAGE_EXTENSIONS in transforms:
        # CloudFormation runs AWS::LanguageExtensions before SAM's transform.
        body = resolve_conditionals(body, parameters or {})
        body["Transform"] = [name for name in transforms if name != LANGUAGE_EXTENSIONS][0]
    for resource in body.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://local/code.zip"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    return translator.translate(body, parameter_values=dict(parameters or {}), get_managed_policy_map=dict)


# What `!Ref AWS::NoValue` resolves to: the property is left out.
NO_VALUE = object()


class _Loader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation's short-form tags as their long form."""


def _construct(tag: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {tag: value}

    return construct


for _short, _long in _TAGS.items():
    _Loader.add_constructor(_short, _construct(_long))


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


@dataclass
class Template:
    """The parts of the template the local loop needs, with references resolved locally."""

    body: dict[str, Any]
    overrides: dict[str, str] = field(default_factory=dict)
    # Where queue URLs point locally (moto's endpoint); set once moto runs.
    sqs_endpoint: str = f"http://sqs.{REGION}.localhost"

    @classmethod
    def read(cls, path: Path = TEMPLATE) -> "Template":
        return cls(load(path))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Resources", {})

    @functools.cached_property
    def translated(self) -> dict[str, dict[str, Any]]:
        """The resources as SAM deploys them: the template through samtranslator (SAM's own
        transform, installed with SAM CLI), so every event source mapping, subscription, invoke
        config and function environment (globals merged) is read as CloudFormation gets it,
        not re-derived from the SAM shorthand here."""
        return translate(self.body, self.overrides)["Resources"]

    def translated_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.translated.items() if r.get("Type") == resource_type}

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r.get("Type") == resource_type}

    def parameter(self, name: str) -> str:
        if name in self.overrides:
            return self.overrides[name]
        spec = self.body.get("Parameters", {}).get(name)
        if spec is None or "Default" not in spec:
            raise KeyError(f"parameter {name} has no default and no local value")
        return str(spec["Default"])

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        service = {
            "AWS::DynamoDB::Table": f"dynamodb:{REGION}:{ACCOUNT_ID}:table/{logical_id}",
            "AWS::SQS::Queue": f"sqs:{REGION}:{ACCOUNT_ID}:{logical_id}",
            "AWS::SNS::Topic": f"sns:{REGION}:{ACCOUNT_ID}:{logical_id}",
            "AWS::KMS::Key": f"kms:{REGION}:{ACCOUNT_ID}:key/{logical_id}",
            "AWS::Logs::LogGroup": f"logs:{REGION}:{ACCOUNT_ID}:log-group:{logical_id}",
            "AWS::Events::EventBus": f"events:{REGION}:{ACCOUNT_ID}:event-bus/{logical_id}",
            "AWS::Events::Archive": f"events:{REGION}:{ACCOUNT_ID}:archive/{logical_id}",
            "AWS::Lambda::Function": f"lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}",
            "AWS::Serverless::Function": f"lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}",
        }.get(kind, f"local:{REGION}:{ACCOUNT_ID}:{logical_id}")
        return f"arn:aws:{service}"

    def arn_of_queue(self, name: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.body.get("Parameters", {}):
            if self.body["Parameters"][name].get("Type") == "CommaDelimitedList":
                return self.parameter(name).split(",")
            return self.parameter(name)
        if name in self.resources:
            if self.resources[name]["Type"] == "AWS::SQS::Queue":
                return f"{self.sqs_endpoint}/{ACCOUNT_ID}/{name}"
            if self.resources[name]["Type"] == "AWS::SNS::Topic":
                return self.arn(name)
            if self.resources[name]["Type"] == "AWS::ApiGatewayV2::Stage":
                return self.resources[name]["Properties"]["StageName"]
            return name
        raise KeyError(f"unknown reference {name}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "QueueName":
            return logical_id
        if attribute == "QueueUrl":
            return self.ref(logical_id)
        if attribute == "TopicName":
            return logical_id
        if attribute == "StreamArn":
            return f"{self.arn(logical_id)}/stream/local"
        raise KeyError(f"attribute {logical_id}.{attribute} is not resolved locally")

    def resolve(self, value: Any) -> Any:
        """Resolves Ref, GetAtt, Sub and Join to local values; plain values pass through."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.get_att(logical_id, attribute)
        if set(value) == {"Fn::Sub"}:
            return self._sub(value["Fn::Sub"])
        if set(value) == {"Fn::Join"}:
            separator, items = value["Fn::Join"]
            # The list may itself be a reference (a CommaDelimitedList parameter).
            items = self.resolve(items) if isinstance(items, dict) else items
            return separator.join(str(self.resolve(item)) for item in items)
        if set(value) == {"Fn::If"}:
            condition, if_true, if_false = value["Fn::If"]
            return self.resolve(if_true if self.condition(condition) else if_false)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def condition(self, name: str) -> bool:
        """A template condition, evaluated with the local parameter values."""
        return bool(self._evaluate(self.body["Conditions"][name]))

    def _evaluate(self, spec: Any) -> Any:
        if isinstance(spec, dict) and set(spec) == {"Fn::Equals"}:
            left, right = (self._evaluate(item) for item in spec["Fn::Equals"])
            return str(left) == str(right)
        if isinstance(spec, dict) and set(spec) == {"Fn::Not"}:
            return not self._evaluate(spec["Fn::Not"][0])
        if isinstance(spec, dict) and set(spec) == {"Fn::And"}:
            return all(self._evaluate(item) for item in spec["Fn::And"])
        if isinstance(spec, dict) and set(spec) == {"Fn::Or"}:
            return any(self._evaluate(item) for item in spec["Fn::Or"])
        if isinstance(spec, dict) and set(spec) == {"Condition"}:
            return self.condition(spec["Condition"])
        return self.resolve(spec)

    def _sub(self, spec: Any) -> str:
        text, variables = (spec, {}) if isinstance(spec, str) else (spec[0], spec[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    # Functions ----------------------------------------------------------------------------

    def functions(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::Serverless::Function")

    def binary(self, logical_id: str) -> str:
        """The cargo binary that builds a function (Metadata.BuildProperties.Binary)."""
        return self.functions()[logical_id]["Metadata"]["BuildProperties"]["Binary"]

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """The function's environment as deployed (SAM merges the globals), resolved locally."""
        function = self.translated[logical_id]
        assert function["Type"] == "AWS::Lambda::Function", logical_id
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        resolved = {name: self.resolve(value) for name, value in variables.items()}
        return {name: str(value) for name, value in resolved.items() if value is not NO_VALUE}

    def log_format(self) -> str | None:
        return self.body.get("Globals", {}).get("Function", {}).get("LoggingConfig", {}).get("LogFormat")

    def event_source_mappings(self, source_type: str) -> list["EventSourceMapping"]:
        """The event source mappings SAM makes whose source is a resource of `source_type`
        (AWS::SQS::Queue, AWS::DynamoDB::Table), with Lambda's defaults for what is left out."""
        defaults = LAMBDA_DEFAULTS[source_type]
        mappings = []
        for name, mapping in sorted(self.translated_of_type("AWS::Lambda::EventSourceMapping").items()):
            properties = mapping["Properties"]
            source = properties["EventSourceArn"]["Fn::GetAtt"][0]
            if self.resources[source]["Type"] != source_type:
                continue
            function = properties["FunctionName"]["Ref"]
            mappings.append(EventSourceMapping(
                name=name,
                function=function,
                binary=self.binary(function),
                source=source,
                properties={**defaults, **self.resolve(properties)},
            ))
        return mappings

    def sqs_mappings(self) -> list["SqsMapping"]:
        """Every SQS event source mapping, as Lambda's poller would run it."""
        return [
            SqsMapping(
                function=mapping.function,
                binary=mapping.binary,
                queue=mapping.source,
                batch_size=int(mapping.properties["BatchSize"]),
                report_batch_item_failures="ReportBatchItemFailures" in mapping.properties.get("FunctionResponseTypes", []),
            )
            for mapping in self.event_source_mappings("AWS::SQS::Queue")
        ]

    def lambda_subscriptions(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(function, subscription logical id, resolved properties) of every SNS subscription
        that invokes a function directly."""
        found = []
        for name, subscription in sorted(self.translated_of_type("AWS::SNS::Subscription").items()):
            properties = subscription["Properties"]
            if properties.get("Protocol") == "lambda":
                found.append((properties["Endpoint"]["Fn::GetAtt"][0], name, self.resolve(properties)))
        return found

    def event_rules(self) -> list["EventRule"]:
        """Every EventBridge rule as SAM deploys it (a function's EventBridgeRule event is one),
        with its pattern and its targets, references resolved locally."""
        rules = []
        for name, rule in sorted(self.translated_of_type("AWS::Events::Rule").items()):
            properties = rule["Properties"]
            targets = []
            for target in properties.get("Targets", []):
                arn = target["Arn"]
                function = arn["Fn::GetAtt"][0] if isinstance(arn, dict) and "Fn::GetAtt" in arn and arn["Fn::GetAtt"][0] in self.functions() else None
                targets.append(EventTarget(id=target["Id"], function=function, properties=self.resolve(target)))
            rules.append(EventRule(
                name=name,
                bus=self.resolve(properties.get("EventBusName", "default")),
                pattern=properties["EventPattern"],
                enabled=properties.get("State", "ENABLED") == "ENABLED",
                targets=targets,
            ))
        return rules

    def event_invoke_config(self, logical_id: str) -> dict[str, Any]:
        """How Lambda retries the function's asynchronous invocations, with Lambda's defaults."""
        for config in self.translated_of_type("AWS::Lambda::EventInvokeConfig").values():
            if config["Properties"]["FunctionName"] == {"Ref": logical_id}:
                return {**LAMBDA_DEFAULTS["EventInvokeConfig"], **self.resolve(config["Properties"])}
        return dict(LAMBDA_DEFAULTS["EventInvokeConfig"])

    def http_routes(self) -> list["HttpRoute"]:
        """Every route of the HTTP APIs as SAM writes them into the API's OpenAPI body: (method,
        path) -> the function its Lambda proxy integration invokes; path None is `$default`."""
        routes = []
        for api in self.translated_of_type("AWS::ApiGatewayV2::Api").values():
            body = api["Properties"].get("Body", {})
            schemes = body.get("components", {}).get("securitySchemes", {})
            for path, operations in body.get("paths", {}).items():
                for method, operation in operations.items():
                    uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
                    function = re.search(r"\$\{([A-Za-z0-9]+)\.Arn\}", uri).group(1)
                    method = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                    default = path == "/$default"
                    routes.append(HttpRoute(method="ANY" if default else method, path=None if default else path,
                                            function=function, binary=self.binary(function),
                                            auth=RouteAuth.of(operation, schemes, self.resolve)))
        return routes

@dataclass(frozen=True)
class EventSourceMapping:
    name: str  # its logical id in the translated template
    function: str
    binary: str
    source: str  # the queue's or table's logical id, which is also its local name
    properties: dict[str, Any]  # resolved, with Lambda's defaults for what the template leaves out


@dataclass(frozen=True)
class SqsMapping:
    function: str
    binary: str
    queue: str  # logical id, which is also the local queue name
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class RouteAuth:
    """Who may call a route, as its OpenAPI operation says: `kind` NONE, AWS_IAM or JWT (with the
    JWT authorizer's issuer and audiences)."""

    kind: str = "NONE"
    issuer: str = ""
    audience: tuple[str, ...] = ()

    @classmethod
    def of(cls, operation: dict[str, Any], schemes: dict[str, Any], resolve) -> "RouteAuth":
        for requirement in operation.get("security", []):
            for name in requirement:
                scheme = schemes.get(name, {})
                if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4":
                    return cls("AWS_IAM")
                authorizer = scheme.get("x-amazon-apigateway-authorizer", {})
                if authorizer.get("type") == "jwt":
                    configuration = resolve(authorizer["jwtConfiguration"])
                    audience = configuration.get("audience", [])
                    audience = audience.split(",") if isinstance(audience, str) else audience
                    return cls("JWT", str(configuration.get("issuer", "")), tuple(a for a in audience if a))
                raise NotImplementedError(f"the local gateway has no stand-in for the authorizer {name}")
        return cls()


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str | None  # None: the $default route
    function: str
    binary: str
    auth: RouteAuth = field(default_factory=RouteAuth)

    @property
    def route_key(self) -> str:
        return "$default" if self.path is None else f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route matches the request, else None."""
        if self.path is None:
            return {}
        if self.method not in ("ANY", method):
            return None
        pattern = "^"
        for segment in self.path.strip("/").split("/"):
            greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
            named = re.fullmatch(r"\{(\w+)\}", segment)
            if greedy:
                pattern += f"/(?P<{greedy.group(1)}>.+)"
            elif named:
                pattern += f"/(?P<{named.group(1)}>[^/]+)"
            elif segment:
                pattern += "/" + re.escape(segment)
        found = re.match(pattern + "$", path if self.path != "/" else path.rstrip("/") or "")
        return found.groupdict() if found else None


# The kit's patterns in the order they build on each other (the README's table).
@dataclass
class EventTarget:
    """One target of an EventBridge rule: a function (invoked asynchronously) or a queue."""

    id: str
    function: str | None
    properties: dict[str, Any]

    def tap(self, rule: str) -> str:
        """The local queue moto delivers this target's matches to (tools/local/eventbridge.py)."""
        return f"{rule}-{self.id}-tap"[:80]


@dataclass
class EventRule:
    name: str
    bus: str
    pattern: dict[str, Any]
    enabled: bool
    targets: list[EventTarget]

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{self.bus}/{self.name}"


PATTERN_ORDER = ("sync", "async", "fanout", "realtime", "callbacks", "events")


def patterns_here() -> tuple[str, ...]:
    """The patterns this project holds: the folders of functions/ (a project made by make
    starter holds some), in the README's order, then any others by name."""
    found = {path.name for path in (ROOT / "functions").iterdir() if path.is_dir() and not path.name.startswith((".", "_"))}
    return tuple(name for name in PATTERN_ORDER if name in found) + tuple(sorted(found - set(PATTERN_ORDER)))


def referable(body: dict) -> set[str]:
    """What a reference in a SAM template body may name: its resources and parameters, and the
    execution role SAM makes for each function that names none (`<Function>Role`)."""
    roles = {f"{name}Role" for name, resource in body.get("Resources", {}).items()
             if resource.get("Type") == "AWS::Serverless::Function" and "Role" not in resource.get("Properties", {})}
    return set(body.get("Resources", {})) | set(body.get("Parameters", {})) | roles


def references(value: Any) -> set[str]:
    """Every logical id or parameter a template body refers to (Ref, GetAtt, Sub, DependsOn)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref":
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                local_names = set(inner[1]) if isinstance(inner, list) else set()
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)} - local_names
            elif key == "DependsOn":
                found |= set(inner if isinstance(inner, list) else [inner])
            if key != "Fn::Sub" or isinstance(inner, list):
                found |= references(inner if key != "Fn::Sub" else inner[1])
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found
