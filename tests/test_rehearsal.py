"""What `make deploy-rehearsal` stands on: AWS::LanguageExtensions' conditionals resolved as
CloudFormation resolves them, and moto's CloudFormation (with tools/rehearsal/moto_cloudformation.py)
creating, updating and deleting every resource of the template in moto's backends, checked
through the real SDK (moto in this process)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tools.shared.cfn import ROOT, Template, resolve_conditionals
from patterns import needs, needs_one_of

TEMPLATE = Template.read()


def test_a_conditional_on_parameters_becomes_its_branch_and_no_value_drops_the_property():
    body = {
        "Parameters": {"Mode": {"Type": "String", "Default": "A"}},
        "Conditions": {"IsA": {"Fn::Equals": [{"Ref": "Mode"}, "A"]}, "NotA": {"Fn::Not": [{"Condition": "IsA"}]},
                       "OnResource": {"Fn::Equals": [{"Ref": "SomeQueue"}, "x"]}},
        "Resources": {"R": {"Type": "T", "Properties": {
            "Chosen": {"Fn::If": ["IsA", "a", "b"]},
            "Dropped": {"Fn::If": ["NotA", "x", {"Ref": "AWS::NoValue"}]},
            "List": ["keep", {"Fn::If": ["NotA", "x", {"Ref": "AWS::NoValue"}]}],
            "Nested": {"Fn::If": ["IsA", {"Fn::If": ["NotA", 1, 2]}, 3]},
            "Kept": {"Fn::If": ["OnResource", "x", {"Ref": "AWS::NoValue"}]},
            "Sub": {"Fn::Sub": "${AWS::StackName}-x"},
        }}},
    }
    properties = resolve_conditionals(body, {})["Resources"]["R"]["Properties"]
    assert properties == {"Chosen": "a", "List": ["keep"], "Nested": 2,
                          "Kept": {"Fn::If": ["OnResource", "x", {"Ref": "AWS::NoValue"}]},
                          "Sub": {"Fn::Sub": "${AWS::StackName}-x"}}
    assert resolve_conditionals(body, {"Mode": "B"})["Resources"]["R"]["Properties"]["Chosen"] == "b"


@pytest.fixture
def cloudformation(monkeypatch):
    """moto in this process, with the rehearsal's CloudFormation, and a code bucket."""
    import boto3
    from moto import mock_aws

    from tools.rehearsal.moto_cloudformation import patch

    for name, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    patch()
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="code", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("bootstrap", "")
        s3.put_object(Bucket="code", Key="code.zip", Body=archive.getvalue())
        yield lambda service: boto3.client(service, region_name="eu-west-1")


def template_text() -> str:
    # What `sam package` does to the template: each function's code in S3.
    return (ROOT / "template.yaml").read_text().replace("CodeUri: .", "CodeUri: s3://code/code.zip")


def parameters(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": name, "ParameterValue": value} for name, value in values.items()]


def test_the_template_deploys_whole_and_is_deleted_whole(cloudformation):
    cfn = cloudformation("cloudformation")
    cfn.create_stack(StackName="s", TemplateBody=template_text(), Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    assert cfn.describe_stacks(StackName="s")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    deployed = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName="s")["StackResources"]}
    expected = {name for name, r in TEMPLATE.translated.items() if "Condition" not in r}
    assert set(deployed) == expected, "every resource without a condition, none skipped"

    # The types moto lacks exist in moto's backends, as CloudFormation would have made them.
    alarms = cloudformation("cloudwatch").describe_alarms()["MetricAlarms"]
    topic = deployed["AlarmTopic"]["PhysicalResourceId"]
    assert len(alarms) == sum(1 for r in deployed.values() if r["ResourceType"] == "AWS::CloudWatch::Alarm")
    assert all(a["AlarmActions"] == [topic] and a["OKActions"] == [topic] for a in alarms)
    sns = cloudformation("sns")
    subscriptions = sns.list_subscriptions()["Subscriptions"]
    assert len(subscriptions) == sum(1 for r in deployed.values() if r["ResourceType"] == "AWS::SNS::Subscription")
    filtered = [s for s in subscriptions if "FilterPolicy" in sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])["Attributes"]]
    assert filtered or not subscriptions, "the subscriptions keep their filter policies"
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert any(s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com" for s in policy["Statement"])
    secrets = cloudformation("secretsmanager").list_secrets()["SecretList"]
    assert len(secrets) == sum(1 for r in deployed.values() if r["ResourceType"] == "AWS::SecretsManager::Secret")
    for secret in secrets:
        assert len(cloudformation("secretsmanager").get_secret_value(SecretId=secret["ARN"])["SecretString"]) >= 32
    if "HttpApi" in deployed:
        routes = cloudformation("apigatewayv2").get_routes(ApiId=deployed["HttpApi"]["PhysicalResourceId"])["Items"]
        assert {r["RouteKey"] for r in routes} == {r.route_key for r in TEMPLATE.http_routes()}

    cfn.delete_stack(StackName="s")
    assert cloudformation("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert sns.list_subscriptions()["Subscriptions"] == []
    # The data outlives the stack (DataRetention Retain, the default): the tables stay.
    dynamodb = cloudformation("dynamodb")
    tables = sorted(r["PhysicalResourceId"] for r in deployed.values() if r["ResourceType"] == "AWS::DynamoDB::Table")
    assert sorted(dynamodb.list_tables()["TableNames"]) == tables
    for table in tables:
        dynamodb.delete_table(TableName=table)
    # A throwaway stack takes its data with it.
    cfn.create_stack(StackName="t", TemplateBody=template_text(), Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
                     Parameters=parameters(DataRetention="Delete"))
    cfn.delete_stack(StackName="t")
    assert dynamodb.list_tables()["TableNames"] == []


@needs_one_of("sync", "async")
def test_an_update_of_auth_mode_changes_every_route_and_keeps_the_api(cloudformation):
    cfn = cloudformation("cloudformation")
    capabilities = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    cfn.create_stack(StackName="s", TemplateBody=template_text(), Capabilities=capabilities)
    api_id = cfn.describe_stack_resource(StackName="s", LogicalResourceId="HttpApi")["StackResourceDetail"]["PhysicalResourceId"]
    gateway = cloudformation("apigatewayv2")
    # The default parameters: closed, every route SigV4 only.
    assert {r.get("AuthorizationType", "NONE") for r in gateway.get_routes(ApiId=api_id)["Items"]} == {"AWS_IAM"}

    cfn.update_stack(StackName="s", TemplateBody=template_text(), Capabilities=capabilities, Parameters=parameters(AuthMode="NONE"))
    assert {r.get("AuthorizationType", "NONE") for r in gateway.get_routes(ApiId=api_id)["Items"]} == {"NONE"}

    cfn.update_stack(StackName="s", TemplateBody=template_text(), Capabilities=capabilities,
                     Parameters=parameters(AuthMode="JWT", JwtIssuer="https://idp.example.com", JwtAudience="app"))
    routes = gateway.get_routes(ApiId=api_id)["Items"]
    assert {r["AuthorizationType"] for r in routes} == {"JWT"}
    (authorizer_id,) = {r["AuthorizerId"] for r in routes}
    authorizer = gateway.get_authorizer(ApiId=api_id, AuthorizerId=authorizer_id)
    assert authorizer["JwtConfiguration"] == {"Issuer": "https://idp.example.com", "Audience": ["app"]}
    assert gateway.get_stages(ApiId=api_id)["Items"], "the API keeps its stage through the update"
    # starter: with realtime
    if "WsApiFunction" in TEMPLATE.body["Resources"]:
        # The WebSocket's $connect takes JWTs of the same issuer and audience (ws-api's environment).
        name = cfn.describe_stack_resource(StackName="s", LogicalResourceId="WsApiFunction")["StackResourceDetail"]["PhysicalResourceId"]
        variables = cloudformation("lambda").get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        assert {key: value for key, value in variables.items() if key.startswith("JWT_")} \
            == {"JWT_ISSUER": "https://idp.example.com", "JWT_AUDIENCE": "app", "JWT_CUSTOMER_CLAIM": "sub"}
    # starter: end


@needs_one_of("sync", "async")
def test_a_change_set_that_changes_one_parameter_changes_only_what_refers_to_it(cloudformation):
    """What sam deploy sends for an update: a change set with the changed parameter and every
    other one as UsePreviousValue (moto turns those into typed values, 30 for "30")."""
    cfn = cloudformation("cloudformation")
    capabilities = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    cfn.create_change_set(StackName="s", ChangeSetName="create", ChangeSetType="CREATE", TemplateBody=template_text(),
                          Capabilities=capabilities, Parameters=parameters(AuthMode="NONE"))
    cfn.execute_change_set(StackName="s", ChangeSetName="create")
    before = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in cfn.describe_stack_resources(StackName="s")["StackResources"]}
    assert cfn.describe_stacks(StackName="s")["Stacks"][0]["Outputs"], "a stack made by a change set has its outputs"

    others = [{"ParameterKey": name, "UsePreviousValue": True} for name in TEMPLATE.body["Parameters"] if name != "AuthMode"]
    cfn.create_change_set(StackName="s", ChangeSetName="iam", ChangeSetType="UPDATE", TemplateBody=template_text(),
                          Capabilities=capabilities, Parameters=parameters(AuthMode="IAM") + others)
    changes = cfn.describe_change_set(StackName="s", ChangeSetName="iam")["Changes"]
    assert [c["ResourceChange"]["LogicalResourceId"] for c in changes] == ["HttpApi"]
    cfn.execute_change_set(StackName="s", ChangeSetName="iam")
    after = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in cfn.describe_stack_resources(StackName="s")["StackResources"]}
    assert cfn.describe_stacks(StackName="s")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert after == before, "an API updated in place; nothing else touched"


@needs("realtime")
def test_the_loopback_issuer_serves_discovery_and_keys_over_https_and_signs_rs256_tokens(tmp_path):
    """The rehearsal's OpenID provider (tools/rehearsal/oidc.py): reachable only with its own CA, its key
    set verifies the tokens it signs, and a changed token does not verify."""
    import base64
    import ssl
    import urllib.error
    import urllib.request

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from tools.rehearsal.oidc import LoopbackIssuer

    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    issuer = LoopbackIssuer(tmp_path).start()
    try:
        trusted = ssl.create_default_context(cafile=str(issuer.ca_bundle))
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"{issuer.issuer}/.well-known/openid-configuration", timeout=10)
        with urllib.request.urlopen(f"{issuer.issuer}/.well-known/openid-configuration", context=trusted, timeout=10) as answer:
            discovery = json.load(answer)
        assert discovery == {"issuer": issuer.issuer, "jwks_uri": f"{issuer.issuer}/keys"}
        with urllib.request.urlopen(discovery["jwks_uri"], context=trusted, timeout=10) as answer:
            (jwk,) = json.load(answer)["keys"]
        assert (jwk["kty"], jwk["alg"], jwk["kid"]) == ("RSA", "RS256", LoopbackIssuer.KEY_ID)

        token = issuer.token({"iss": issuer.issuer, "sub": "c-1"})
        header, claims, signature = token.split(".")
        assert json.loads(unb64(header)) == {"alg": "RS256", "typ": "JWT", "kid": LoopbackIssuer.KEY_ID}
        assert json.loads(unb64(claims)) == {"iss": issuer.issuer, "sub": "c-1"}
        public = rsa.RSAPublicNumbers(int.from_bytes(unb64(jwk["e"]), "big"), int.from_bytes(unb64(jwk["n"]), "big")).public_key()
        public.verify(unb64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
        forged = base64.urlsafe_b64encode(json.dumps({"iss": issuer.issuer, "sub": "c-2"}).encode()).rstrip(b"=").decode()
        with pytest.raises(InvalidSignature):
            public.verify(unb64(signature), f"{header}.{forged}".encode(), padding.PKCS1v15(), hashes.SHA256())
    finally:
        issuer.stop()
