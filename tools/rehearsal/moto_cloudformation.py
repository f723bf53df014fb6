"""moto's CloudFormation, made to deploy this template the way CloudFormation does: for
`make deploy-rehearsal` (tools/rehearsal/rehearsal.py), which starts the local AWS with
`python -m tools.shared.moto_server --patch=tools.rehearsal.moto_cloudformation`.

moto 5.2 creates a stack from a template, but (1) it does not run the template's transforms, and
(2) it skips, with a warning and CREATE_COMPLETE all the same, every resource type it has no model
for. Both are fixed here, without touching what moto does for the types it knows:

1. Transforms: a stack's or change set's template goes through `AWS::LanguageExtensions` (the
   part of it this template uses: tools.shared.cfn.resolve_conditionals) and then SAM's transform
   (samtranslator, the package CloudFormation's AWS::Serverless transform is built from), with
   the stack's parameter values, before moto reads it: what CloudFormation does with a
   `Transform` list, in that order.

2. The types this template uses that moto lacks, each created in moto's own backend for its
   service, so what was deployed can be read back (and, for subscriptions, queue policies and
   secrets, used) through the real SDK:

   | type                                | created as                                            |
   |-------------------------------------|-------------------------------------------------------|
   | AWS::CloudWatch::Alarm              | a metric alarm (PutMetricAlarm)                        |
   | AWS::SNS::Subscription              | a subscription with its attributes (filter, redrive)   |
   | AWS::SNS::TopicPolicy               | the Policy attribute of each topic                     |
   | AWS::SQS::QueuePolicy               | the Policy attribute of each queue                     |
   | AWS::SecretsManager::Secret         | a secret, with GenerateSecretString's random value     |
   | AWS::Lambda::EventInvokeConfig      | the function's event invoke config                     |
   | AWS::ApiGatewayV2::Api              | an API; an HTTP API's OpenAPI Body imported as routes  |
   |                                     | and integrations, each route's authorizer set from the |
   |                                     | body's `security`                                      |
   | AWS::ApiGatewayV2::Route            | a route                                               |
   | AWS::ApiGatewayV2::Integration      | an integration                                        |
   | AWS::ApiGatewayV2::RouteResponse    | a route response                                      |
   | AWS::ApiGatewayV2::Stage            | a stage                                               |

   moto's CloudFormation also compares an update's parameters with those given last time, not
   with the values in effect (a default sent again looks changed, and moto re-creates what refers
   to it, failing on the way); here with the values in effect, as CloudFormation does. It gives
   a stack made or changed by a change set (what sam deploy
   does) the outputs of its first template, none; here it gets its template's outputs. It deletes
   a stack's resources in no particular order (a function
   before its permissions, which then fail); here dependents go first, as in CloudFormation. And
   it lists a resource whose condition is false (as nothing, which its
   own DescribeStackResource then fails on); it is left out here, as CloudFormation leaves it.

   moto's event bus has no physical id: its `!Ref` is its name here, as in CloudFormation. The
   name moto makes for an archive can pass EventBridge's 48 characters; here it is cut to fit,
   as CloudFormation's generated names fit their type.

   Left as moto has them: a Lambda permission has no physical id.

   Where they differ from CloudFormation: nothing is validated beyond what moto's backend
   checks (an alarm on a metric that does not exist, a policy that grants nothing: both are
   accepted by CloudFormation too); an update replaces the resource (delete, then create)
   instead of updating it in place, so physical ids of these types change on every update; a
   secret's generated value uses the template's length and exclusions but not every character
   class rule; an HTTP API's JWT authorizer is recorded, not enforced (moto serves no API).
"""

from __future__ import annotations

import copy
import functools
import json
import secrets
import string
from typing import Any

from moto.apigatewayv2.models import apigatewayv2_backends
from moto.awslambda.models import LambdaBackend, lambda_backends
from moto.events.models import Archive, EventBus
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import parsing
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.dynamodb.models import dynamodb_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from tools.shared.cfn import LANGUAGE_EXTENSIONS, resolve_conditionals

SERVERLESS = "AWS::Serverless-2016-10-31"


def transformed(template: dict[str, Any], parameters: dict[str, Any], region: str) -> dict[str, Any]:
    """`template` after its `Transform` list, as CloudFormation runs it: LanguageExtensions,
    then SAM's transform. A template without transforms is returned as it is."""
    transforms = template.get("Transform") or []
    transforms = [transforms] if isinstance(transforms, str) else list(transforms)
    if not transforms:
        return template
    unknown = set(transforms) - {LANGUAGE_EXTENSIONS, SERVERLESS}
    if unknown:
        raise ValueError(f"no local stand-in for the transforms {sorted(unknown)}")
    template = copy.deepcopy(template)
    if LANGUAGE_EXTENSIONS in transforms:
        template = resolve_conditionals(template, parameters)
    template.pop("Transform", None)
    if SERVERLESS in transforms:
        import boto3  # noqa: PLC0415
        from samtranslator.parser.parser import Parser  # noqa: PLC0415
        from samtranslator.translator.translator import Translator  # noqa: PLC0415

        template["Transform"] = SERVERLESS
        translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
        template = translator.translate(template, parameter_values=dict(parameters), get_managed_policy_map=dict)
    return template


# Stand-ins for the resource types moto lacks ---------------------------------------------------


class _StandIn(CloudFormationModel):
    """What every stand-in shares: a physical id (what Ref gives), attributes for GetAtt, and an
    update that replaces the resource."""

    TYPE = ""
    ATTRIBUTES: tuple[str, ...] = ()

    def __init__(self, physical_id: str, attributes: dict[str, Any] | None = None, undo=None):
        self.physical_id = physical_id
        self.attributes = attributes or {}
        self.undo = undo

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException  # noqa: PLC0415

        if attribute_name not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return self.attributes[attribute_name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):  # noqa: ANN001, ANN206
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):  # noqa: ANN001, ANN206
        # Not reached: moto deletes a resource through its object's delete() when it has one.
        pass

    def delete(self, account_id: str, region_name: str) -> None:
        """What moto calls to delete the resource with its stack. A part whose parent is gone
        already (a route of a deleted API, the invoke config of a deleted function) went with it:
        CloudFormation may delete the parent first."""
        if self.undo is not None:
            try:
                self.undo()
            except Exception as error:  # noqa: BLE001 - moto's not-found errors share no base class
                if "NotFound" not in f"{type(error).__name__} {getattr(error, 'code', '')}":
                    raise
            self.undo = None


class Alarm(_StandIn):
    TYPE = "AWS::CloudWatch::Alarm"
    ATTRIBUTES = ("Arn",)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001, ANN206
        properties = cloudformation_json["Properties"]
        name = properties.get("AlarmName") or resource_name
        backend = cloudwatch_backends[account_id][region_name]
        alarm = backend.put_metric_alarm(
            name=name,
            namespace=properties.get("Namespace"),
            metric_name=properties.get("MetricName"),
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=int(properties["EvaluationPeriods"]),
            period=int(properties.get("Period", 60)),
            threshold=float(properties.get("Threshold", 0)),
            statistic=properties.get("Statistic"),
            description=properties.get("AlarmDescription", ""),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in properties.get("Dimensions", [])],
            alarm_actions=list(properties.get("AlarmActions", [])),
            ok_actions=list(properties.get("OKActions", [])),
            insufficient_data_actions=list(properties.get("InsufficientDataActions", [])),
            datapoints_to_alarm=properties.get("DatapointsToAlarm"),
            treat_missing_data=properties.get("TreatMissingData"),
            unit=properties.get("Unit"),
        )
        return cls(name, {"Arn": alarm.alarm_arn}, lambda: backend.delete_alarms([name]))


class Subscription(_StandIn):
    TYPE = "AWS::SNS::Subscription"
    ATTRIBUTES = ("Arn",)
    _ATTRIBUTE_PROPERTIES = ("FilterPolicyScope", "FilterPolicy", "RedrivePolicy", "RawMessageDelivery", "DeliveryPolicy")

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001, ANN206
        properties = cloudformation_json["Properties"]
        backend = sns_backends[account_id][region_name]
        subscription = backend.subscribe(properties["TopicArn"], properties["Endpoint"], properties["Protocol"])
        for name in cls._ATTRIBUTE_PROPERTIES:
            if name in properties:
                value = properties[name]
                value = json.dumps(value) if isinstance(value, dict) else str(value).lower() if isinstance(value, bool) else str(value)
                backend.set_subscription_attributes(subscription.arn, name, value)
        return cls(subscription.arn, {"Arn": subscription.arn}, lambda: backend.unsubscribe(subscription.arn))


class TopicPolicy(_StandIn):
    TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001, ANN206
        properties = cloudformation_json["Properties"]
        backend = sns_backends[account_id][region_name]
        for topic in properties["Topics"]:
            backend.set_topic_attribute(topic, "policy", json.dumps(properties["PolicyDocument"]))
        return cls(resource_name)


class QueuePolicy(_StandIn):
    TYPE = "AWS::SQS::QueuePolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001, ANN206
        properties = cloudformation_json["Properties"]
        backend = sqs_backends[account_id][region_name]
        for url in properties["Queues"]:
            backend.set_queue_attributes(url.rstrip("/").rsplit("/", 1)[-1], {"Policy": json.dumps(properties["PolicyDocument"])})
        return cls(resource_name)


def generated_secret(spec: dict[str, Any]) -> str:
    """A value as GenerateSecretString makes one: PasswordLength characters (32 by default) from
    letters, digits and punctuation, less ExcludeCharacters and the classes excluded; inside
    SecretStringTemplate under GenerateStringKey when both are given."""
    alphabet = ""
    if not spec.get("ExcludeUppercase"):
        alphabet += string.ascii_uppercase
    if not spec.get("ExcludeLowercase"):
        alphabet += string.ascii_lowercase
    if not spec.get("ExcludeNumbers"):
        alphabet += string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    if spec.get("IncludeSpace"):
        alphabet += " "
    alphabet = "".join(c for c in alphabet if c not in spec.get("ExcludeCharacters", ""))
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    if "SecretStringTemplate" in spec and "GenerateStringKey" in spec:
        document = json.loads(spec["SecretStringTemplate"])
        document[spec["GenerateStringKey"]] = value
        return json.dumps(document)
    return value


class Secret(_StandIn):
    TYPE = "AWS::SecretsManager::Secret"
    ATTRIBUTES = ("Id",)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001, ANN206
        properties = cloudformation_json["Properties"]
        backend = secretsmanager_backends[account_id][region_name]
        value = properties.get("SecretString")
        if value is None:
            value = generated_secret(properties.get("GenerateSecretString", {}))
        name = properties.get("Name") or resource_name
        created = json.loads(backend.create_secret(
            name=name, secret_string=value, secret_binary=None, description=properties.get("Description"),
            tags=properties.get("Tags"), kms_key_id=properties.get("KmsKeyId"), client_request_token=None,
            replica_regions=[], force_overwrite=False,
        ))
        arn = created["ARN"]
        return cls(arn, {"Id": arn}, lambda: backend.delete_secret(arn, None, True))


class EventInvokeConfig(_StandIn):
    TYPE = "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001, ANN206
        properties = cloudformation_json["Properties"]
        backend = lambda_backends[account_id][region_name]
        function = properties["FunctionName"]
        config = {name: properties[name] for name in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig") if name in properties}
        backend.put_function_event_invoke_config(function, config)
        return cls(f"{function}-{properties.get('Qualifier', '$LATEST')}",
                   undo=lambda: backend.delete_function_event_invoke_config(function))


class Api(_StandIn):
    TYPE = "AWS::ApiGatewayV2::Api"
    ATTRIBUTES = ("ApiEndpoint", "ApiId")

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001, ANN206
        properties = cloudformation_json["Properties"]
        backend = apigatewayv2_backends[account_id][region_name]
        body = properties.get("Body")
        api = backend.create_api(
            api_key_selection_expression=properties.get("ApiKeySelectionExpression"),
            cors_configuration=properties.get("CorsConfiguration"),
            description=properties.get("Description") or (body or {}).get("info", {}).get("description"),
            disable_schema_validation=properties.get("DisableSchemaValidation"),
            disable_execute_api_endpoint=properties.get("DisableExecuteApiEndpoint"),
            name=properties.get("Name") or resource_name,
            protocol_type=properties.get("ProtocolType") or "HTTP",
            route_selection_expression=properties.get("RouteSelectionExpression"),
            tags=properties.get("Tags") or {},
            version=properties.get("Version"),
        )
        if body is not None:
            _import(api, body, bool(properties.get("FailOnWarnings")))
        return cls(api.api_id, {"ApiEndpoint": api.api_endpoint, "ApiId": api.api_id}, lambda: backend.delete_api(api.api_id))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):  # noqa: ANN001, ANN206
        # In place, as API Gateway updates an API: same id, its routes re-imported from the body.
        properties = cloudformation_json["Properties"]
        api = apigatewayv2_backends[account_id][region_name].get_api(original_resource.physical_id)
        if properties.get("Body") is not None:
            _import(api, properties["Body"], bool(properties.get("FailOnWarnings")))
        if properties.get("Description") is not None:
            api.description = properties["Description"]
        return original_resource


def _import(api: Any, body: dict[str, Any], fail_on_warnings: bool) -> None:
    """moto's OpenAPI import, then what it leaves out: `x-amazon-apigateway-any-method` is the
    method ANY, and each route's authorizer comes from its operation's `security`."""
    stages = dict(api.stages)  # moto's import drops them; API Gateway's keeps an API's stages
    api.import_api(json.dumps(body), fail_on_warnings=fail_on_warnings)
    api.stages.update(stages)
    for route in api.routes.values():
        method, _, path = route.route_key.partition(" ")
        if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
            route.route_key = f"ANY {path}"
    _authorize_routes(api, body)


def _authorize_routes(api: Any, body: dict[str, Any]) -> None:
    """Sets each imported route's authorization from its operation's `security`, as API Gateway's
    import does (moto's import leaves every route open)."""
    schemes = body.get("components", {}).get("securitySchemes", {})
    authorizers: dict[str, str] = {}
    routes = {route.route_key: route for route in api.routes.values()}
    for path, operations in body.get("paths", {}).items():
        for method, operation in operations.items():
            method = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            route = routes.get(f"{method} {path}")
            for requirement in operation.get("security", []):
                for name in requirement:
                    scheme = schemes[name]
                    if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4":
                        route.authorization_type = "AWS_IAM"
                        continue
                    authorizer = scheme["x-amazon-apigateway-authorizer"]
                    if name not in authorizers:
                        configuration = authorizer.get("jwtConfiguration", {})
                        created = api.create_authorizer(
                            auth_creds_arn=None, auth_payload_format_version=None, auth_result_ttl=None,
                            authorizer_type=authorizer["type"].upper(), authorizer_uri=None, enable_simple_response=None,
                            identity_source=[authorizer.get("identitySource", "$request.header.Authorization")],
                            identity_validation_expr=None,
                            jwt_config={"audience": configuration.get("audience", []), "issuer": configuration.get("issuer")},
                            name=name,
                        )
                        authorizers[name] = created.id
                    route.authorization_type = authorizer["type"].upper()
                    route.authorizer_id = authorizers[name]


def _arguments(properties: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """A moto backend's keyword arguments from CloudFormation properties of the same names
    (RouteKey -> route_key), None for the ones not given."""
    from moto.core.utils import camelcase_to_underscores  # noqa: PLC0415

    return {camelcase_to_underscores(name): properties.get(name) for name in names}


ROUTE_PROPERTIES = ("AuthorizationType", "AuthorizerId", "ModelSelectionExpression", "OperationName", "RequestModels",
                    "RequestParameters", "RouteKey", "RouteResponseSelectionExpression", "Target")
INTEGRATION_PROPERTIES = ("ConnectionId", "ConnectionType", "ContentHandlingStrategy", "CredentialsArn", "Description",
                          "IntegrationMethod", "IntegrationSubtype", "IntegrationType", "IntegrationUri", "PassthroughBehavior",
                          "PayloadFormatVersion", "RequestParameters", "RequestTemplates", "ResponseParameters",
                          "TemplateSelectionExpression", "TimeoutInMillis", "TlsConfig")


class Route(_StandIn):
    TYPE = "AWS::ApiGatewayV2::Route"
    ATTRIBUTES = ("RouteId",)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001, ANN206
        p = cloudformation_json["Properties"]
        backend = apigatewayv2_backends[account_id][region_name]
        route = backend.create_route(api_id=p["ApiId"], **_arguments(p, ROUTE_PROPERTIES),
                                     api_key_required=bool(p.get("ApiKeyRequired")), authorization_scopes=p.get("AuthorizationScopes", []))
        return cls(route.route_id, {"RouteId": route.route_id}, lambda: backend.delete_route(p["ApiId"], route.route_id))


class Integration(_StandIn):
    TYPE = "AWS::ApiGatewayV2::Integration"
    ATTRIBUTES = ("IntegrationId",)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001, ANN206
        p = cloudformation_json["Properties"]
        backend = apigatewayv2_backends[account_id][region_name]
        integration = backend.create_integration(api_id=p["ApiId"], **_arguments(p, INTEGRATION_PROPERTIES))
        return cls(integration.id, {"IntegrationId": integration.id},
                   lambda: backend.delete_integration(p["ApiId"], integration.id))


class RouteResponse(_StandIn):
    TYPE = "AWS::ApiGatewayV2::RouteResponse"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001, ANN206
        p = cloudformation_json["Properties"]
        backend = apigatewayv2_backends[account_id][region_name]
        response = backend.create_route_response(
            api_id=p["ApiId"], route_id=p["RouteId"], route_response_key=p["RouteResponseKey"],
            model_selection_expression=p.get("ModelSelectionExpression"), response_models=p.get("ResponseModels"),
        )
        return cls(response.id)


class Stage(_StandIn):
    TYPE = "AWS::ApiGatewayV2::Stage"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001, ANN206
        p = cloudformation_json["Properties"]
        backend = apigatewayv2_backends[account_id][region_name]
        config = {
            "stageName": p["StageName"], "autoDeploy": p.get("AutoDeploy"), "description": p.get("Description"),
            "accessLogSettings": p.get("AccessLogSettings"), "defaultRouteSettings": p.get("DefaultRouteSettings"),
            "routeSettings": p.get("RouteSettings", {}), "stageVariables": p.get("StageVariables", {}), "tags": p.get("Tags", {}),
        }
        stage = backend.create_stage(p["ApiId"], config)
        return cls(stage.name, undo=lambda: backend.delete_stage(p["ApiId"], stage.name))


STAND_INS = (Alarm, Subscription, TopicPolicy, QueuePolicy, Secret, EventInvokeConfig, Api, Route, Integration, RouteResponse, Stage)


# EventBridge's limit on an archive's name.
ARCHIVE_NAME_LIMIT = 48
_PATCHED = False


def patch() -> None:
    """Registers the stand-ins and the transforms with moto's CloudFormation (once per process)."""
    global _PATCHED  # noqa: PLW0603
    if _PATCHED:
        return
    _PATCHED = True
    model_list = parsing.get_model_list

    def with_stand_ins() -> list[type[CloudFormationModel]]:
        return [model for model in model_list() if model is not _StandIn] + list(STAND_INS)

    parsing.get_model_list = functools.lru_cache(with_stand_ins)
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()

    stack_init = cloudformation_models.Stack.__init__

    def init_stack(self, stack_id, name, template, parameters, account_id, region_name, *args, **kwargs):  # noqa: ANN001, ANN202
        # The transforms need the parameters, which moto sets only after it parsed the template.
        self._transform_context = (dict(parameters or {}), region_name)
        stack_init(self, stack_id, name, template, parameters, account_id, region_name, *args, **kwargs)

    def parse_stack_template(self) -> None:  # noqa: ANN001
        parameters, region = getattr(self, "_transform_context", ({}, "us-east-1"))
        self.template_dict = transformed(self.parse_template(self.template), parameters, region)

    stack_update = cloudformation_models.Stack.update

    def update_stack(self, template, role_arn=None, parameters=None, tags=None):  # noqa: ANN001, ANN202
        # An update's template is transformed with the update's parameters (moto parses it
        # before it hands them over).
        if parameters is not None:
            self._transform_context = (dict(parameters), self.region_name)
        return stack_update(self, template, role_arn, parameters, tags)

    cloudformation_models.Stack.update = update_stack

    change_set_parse = cloudformation_models.ChangeSet._parse_template

    def parse_change_set_template(self) -> None:  # noqa: ANN001
        change_set_parse(self)
        self.template_dict = transformed(self.template_dict, self.parameters or {}, self.stack.region_name)

    # moto would run a mapped or subscribed function itself (in Docker) when a message arrives;
    # the rehearsal runs the deployed functions under cargo-lambda with the local pollers
    # instead. The mappings and subscriptions stay as deployed; moto only stops acting on them.
    create_mapping = LambdaBackend.create_event_source_mapping

    def create_mapping_without_invoking(self, spec):  # noqa: ANN001, ANN202
        mapping = create_mapping(self, spec)
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        for table in dynamodb_backends[self.account_id][self.region_name].tables.values():
            table.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    LambdaBackend.create_event_source_mapping = create_mapping_without_invoking

    # `!Ref` of an event bus is its name (a rule's EventBusName, a function's environment); moto's
    # EventBus has no physical id, so its Ref would be the model object itself.
    if not hasattr(EventBus, "physical_resource_id"):
        EventBus.physical_resource_id = property(lambda self: self.name)

    # CloudFormation fits the name it makes for a resource to the type's limit; moto gives an
    # archive `<stack>-<logical id>-<random>` whole, past the 48 characters EventBridge takes.
    create_archive = Archive.create_from_cloudformation_json.__func__

    def create_archive_with_a_name_that_fits(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001, ANN202
        if len(resource_name) > ARCHIVE_NAME_LIMIT:
            resource_name = resource_name[:ARCHIVE_NAME_LIMIT - 13] + resource_name[-13:]  # keeps "-<random>"
        return create_archive(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    Archive.create_from_cloudformation_json = classmethod(create_archive_with_a_name_that_fits)
    LambdaBackend.send_sns_message = lambda self, *args, **kwargs: None

    # A resource whose condition is false is not created, and CloudFormation does not list it;
    # moto lists it as None (and then fails on it in DescribeStackResource).
    listed = cloudformation_models.Stack.stack_resources.fget
    cloudformation_models.Stack.stack_resources = property(
        lambda self: [resource for resource in listed(self) if resource is not None])

    # CloudFormation deletes a stack in the reverse order of its dependencies: a function's
    # permissions and mappings before the function. moto deletes in a set's order and retries
    # what failed, which never succeeds for a permission whose function is gone. Resources enter
    # the map after what they refer to (moto creates a reference first), so the reverse of that
    # order is the dependents first.
    def delete_in_reverse(self) -> None:  # noqa: ANN001
        created = [name for name in self._parsed_resources if name in self._resource_json_map]
        for name in reversed(created):
            resource_json = self._resource_json_map[name]
            parsed = self._parsed_resources.get(name)
            if resource_json.get("DeletionPolicy") == "Retain" or parsed is None or isinstance(parsed, str):
                continue
            self._delete_resource(parsed, resource_json)
            self._parsed_resources.pop(name)

    parsing.ResourceMap.delete = delete_in_reverse

    # An update changes what refers to a parameter whose value changed. moto compares the new
    # values with the ones given at the last deploy only: a parameter left at its default then,
    # and sent again now (sam deploy sends every parameter on an update, UsePreviousValue), looks
    # changed, and moto re-creates everything that refers to it, failing on the way. Compared
    # here with the values in effect, defaults included, as CloudFormation compares them.
    resource_diff = parsing.ResourceMap.build_resource_diff

    def as_text(values: dict[str, Any]) -> dict[str, str]:
        return {name: ",".join(map(str, value)) if isinstance(value, list) else str(value) for name, value in values.items()}

    def diff_against_values_in_effect(self, other_template, parameters=None):  # noqa: ANN001, ANN202
        given = self.input_parameters
        self.input_parameters = as_text({**self.resolved_parameters, **given})
        try:
            return resource_diff(self, other_template, as_text(parameters) if parameters else parameters)
        finally:
            self.input_parameters = given

    parsing.ResourceMap.build_resource_diff = diff_against_values_in_effect

    cloudformation_models.Stack.__init__ = init_stack
    cloudformation_models.Stack._parse_template = parse_stack_template
    cloudformation_models.ChangeSet._parse_template = parse_change_set_template

    # After a change set runs, the stack has its template's outputs (moto keeps those of the
    # template the stack was made with: none, for a stack made by a change set, as sam deploy does).
    apply_change_set = cloudformation_models.ChangeSet.apply

    def apply_with_outputs(self) -> None:  # noqa: ANN001
        apply_change_set(self)
        self.stack.template_dict = self.template_dict
        self.stack.description = self.template_dict.get("Description")
        self.stack.output_map = self.stack._create_output_map()

    cloudformation_models.ChangeSet.apply = apply_with_outputs
