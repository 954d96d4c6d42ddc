"""template.yaml's relational data under each DatabaseAccess mode, resolved per parameter set."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import template
from tests.iam_check.policy import Resolver, samconfig_parameters

RDS_TYPES = {
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBProxy",
    "AWS::RDS::DBProxyTargetGroup",
    "AWS::RDS::DBProxyEndpoint",
    "AWS::RDS::DBSubnetGroup",
    "AWS::RDS::DBClusterParameterGroup",
    "AWS::RDS::DBParameterGroup",
}
RESOLVED_TYPES = RDS_TYPES | {
    "AWS::Serverless::Function",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::IAM::Role",
    "Custom::DatabaseMigrations",
}
DATABASE_FUNCTIONS = {
    "StatsPublishFunction",
    "ApiFunction",
    "AdminApiFunction",
    "CampaignLauncherFunction",
}
APP_USER = "courier_app"

# (mode, reader) combinations, each valid under the Rules.
PARAMETER_SETS = {
    "proxy+reader": {"DatabaseAccess": "proxy", "DatabaseReaderInstance": "true"},
    "proxy": {"DatabaseAccess": "proxy", "DatabaseReaderInstance": "false"},
    "direct+reader": {"DatabaseAccess": "direct", "DatabaseMinCapacity": "0"},
    "direct": {"DatabaseAccess": "direct", "DatabaseReaderInstance": "false"},
    "external": {
        "DatabaseAccess": "external",
        "ExternalRedisUrl": "redis://127.0.0.1:6379/0",
        "ExternalDatabaseUrl": "mysql://u:p@127.0.0.1:3306/courier",
    },
}


@pytest.fixture(scope="module")
def decoded() -> dict[str, Any]:
    return template()


def existing(decoded: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The resources created under these parameters, properties resolved."""
    resolver = Resolver(decoded, dict(parameters))
    return {
        name: {
            **resource,
            # Only what these tests read is resolved (the resolver knows the roles' intrinsics,
            # not e.g. the subnets' Fn::GetAZs).
            "Properties": resolver.resolve(resource.get("Properties", {}))
            if resource["Type"] in RESOLVED_TYPES
            else {},
        }
        for name, resource in decoded["Resources"].items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }


def rules_refuse(decoded: dict[str, Any], parameters: dict[str, str]) -> list[str]:
    """The rules whose assertions fail under these parameters (CloudFormation's evaluation)."""
    resolver = Resolver(decoded, dict(parameters))
    failed = []
    for name, rule in decoded["Rules"].items():
        condition = rule.get("RuleCondition")
        if condition is not None and not resolver.resolve(condition):
            continue
        if not all(resolver.resolve(a["Assert"]) for a in rule["Assertions"]):
            failed.append(name)
    return failed


def of_type(resources: dict[str, Any], *types: str) -> dict[str, Any]:
    return {n: r for n, r in resources.items() if r["Type"] in types}


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
def test_the_parameter_sets_used_here_pass_the_rules(decoded: dict[str, Any], name: str) -> None:
    assert rules_refuse(decoded, PARAMETER_SETS[name]) == []


@pytest.mark.parametrize("environment", ["default", "dev", "prod", "local"])
def test_every_samconfig_environment_passes_the_rules(
    decoded: dict[str, Any], environment: str
) -> None:
    parameters = samconfig_parameters(environment)
    # (local's ExternalRedisUrl is in samconfig; the runtime replaces it at deploy)
    assert rules_refuse(decoded, parameters) == []


def test_samconfig_modes_are_prod_proxy_dev_direct_paused_local_external() -> None:
    prod, dev, local = (samconfig_parameters(env) for env in ("prod", "dev", "local"))
    assert prod["DatabaseAccess"] == "proxy"
    assert prod.get("DatabaseMinCapacity", "0.5") != "0"
    assert (dev["DatabaseAccess"], dev["DatabaseMinCapacity"]) == ("direct", "0")
    assert local["DatabaseAccess"] == "external"
    assert not local.get("ExternalDatabaseUrl")
    assert not local.get("ExternalDatabaseReaderUrl")


def test_minimum_capacity_zero_is_refused_with_the_proxy_only(decoded: dict[str, Any]) -> None:
    # Given the capacity choices, with each mode that creates Aurora
    for value in decoded["Parameters"]["DatabaseMinCapacity"]["AllowedValues"]:
        proxy = rules_refuse(decoded, {"DatabaseAccess": "proxy", "DatabaseMinCapacity": value})
        direct = rules_refuse(decoded, {"DatabaseAccess": "direct", "DatabaseMinCapacity": value})
        # Then only 0 with the proxy is refused
        assert proxy == (["DatabaseProxyKeepsTheClusterAwake"] if value == "0" else []), value
        assert direct == [], value


@pytest.mark.parametrize("mode", ["proxy", "direct"])
def test_aurora_with_an_external_redis_is_refused(decoded: dict[str, Any], mode: str) -> None:
    # Given Aurora without the stack's VPC (the VPC comes with the created Redis)
    refused = rules_refuse(
        decoded, {"DatabaseAccess": mode, "ExternalRedisUrl": "redis://127.0.0.1:6379/0"}
    )
    # Then the deploy is refused, with a message that names the way out
    assert refused == ["AuroraNeedsTheVpc"]
    message = decoded["Rules"]["AuroraNeedsTheVpc"]["Assertions"][0]["AssertDescription"]
    assert "DatabaseAccess=external" in message


def test_external_creates_no_rds_proxy_or_migration_resources(decoded: dict[str, Any]) -> None:
    resources = existing(decoded, PARAMETER_SETS["external"])
    assert of_type(resources, *RDS_TYPES) == {}
    assert of_type(resources, "Custom::DatabaseMigrations") == {}
    assert "DatabaseMigrationFunction" not in resources
    # And the functions get the URLs, no host
    for name in DATABASE_FUNCTIONS:
        env = resources[name]["Properties"]["Environment"]["Variables"]
        assert env["DATABASE_URL"] == "mysql://u:p@127.0.0.1:3306/courier", name
        assert env["DATABASE_HOST"] == "", name
        assert env["DATABASE_CA_BUNDLE"] == "", name


@pytest.mark.parametrize("name", ["proxy+reader", "proxy", "direct+reader", "direct"])
def test_aurora_modes_create_the_cluster_and_the_migrations(
    decoded: dict[str, Any], name: str
) -> None:
    parameters = PARAMETER_SETS[name]
    resources = existing(decoded, parameters)
    cluster = resources["DatabaseCluster"]["Properties"]
    assert cluster["Engine"] == "aurora-mysql"
    major, minor = (int(part) for part in cluster["EngineVersion"].split(".")[3:5])
    assert (major, minor) >= (3, 8)  # Serverless v2 auto-pause needs 3.08
    assert cluster["StorageEncrypted"] is True
    assert cluster["EnableIAMDatabaseAuthentication"] is True
    assert cluster["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in cluster
    assert resources["DatabaseMigrations"]["Type"] == "Custom::DatabaseMigrations"
    instances = of_type(resources, "AWS::RDS::DBInstance")
    tiers = sorted(i["Properties"]["PromotionTier"] for i in instances.values())
    reader = parameters.get("DatabaseReaderInstance", "true") == "true"
    assert tiers == ([0, 2] if reader else [0])
    assert all(i["Properties"]["DBInstanceClass"] == "db.serverless" for i in instances.values())
    proxies = of_type(resources, "AWS::RDS::DBProxy")
    assert bool(proxies) == name.startswith("proxy")
    for proxy in proxies.values():
        assert proxy["Properties"]["DefaultAuthScheme"] == "IAM_AUTH"
        assert proxy["Properties"]["RequireTLS"] is True


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
def test_the_read_only_proxy_endpoint_exists_only_with_a_reader(
    decoded: dict[str, Any], name: str
) -> None:
    parameters = PARAMETER_SETS[name]
    resources = existing(decoded, parameters)
    endpoints = of_type(resources, "AWS::RDS::DBProxyEndpoint")
    readers = [
        i
        for i in of_type(resources, "AWS::RDS::DBInstance").values()
        if i["Properties"]["PromotionTier"] >= 2
    ]
    assert bool(endpoints) == (name.startswith("proxy") and bool(readers))
    for endpoint in endpoints.values():
        assert endpoint["Properties"]["TargetRole"] == "READ_ONLY"
    # And the functions read from it where it exists, else from no separate reader host
    env = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    if endpoints:
        assert env["DATABASE_READER_HOST"] == "DatabaseProxyReaderEndpoint.Endpoint"
    elif name == "direct+reader":
        assert env["DATABASE_READER_HOST"] == "DatabaseCluster.ReadEndpoint.Address"
    else:
        assert env["DATABASE_READER_HOST"] == ""


def _rds_connect_grants(resources: dict[str, Any]) -> dict[str, set[str]]:
    """Function -> the resources its own policies allow rds-db:connect on."""
    grants: dict[str, set[str]] = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = statement["Action"]
                actions = actions if isinstance(actions, list) else [actions]
                if any(a.startswith("rds-db:") or a == "*" for a in actions):
                    targets = statement["Resource"]
                    targets = targets if isinstance(targets, list) else [targets]
                    grants.setdefault(name, set()).update(targets)
    return grants


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
def test_rds_connect_is_granted_on_the_app_user_only_to_the_database_functions(
    decoded: dict[str, Any], name: str
) -> None:
    resources = existing(decoded, PARAMETER_SETS[name])
    grants = _rds_connect_grants(resources)
    if name == "external":
        assert grants == {}
        return
    # proxy: the proxy's resource id (the last part of its ARN); direct: the cluster's
    resource_id = "prx-databaseproxy" if name.startswith("proxy") else "cluster-DATABASECLUSTER"
    expected = f"arn:aws:rds-db:ap-northeast-2:123456789012:dbuser:{resource_id}/{APP_USER}"
    assert grants == {function: {expected} for function in DATABASE_FUNCTIONS}


def test_the_proxy_connects_to_the_cluster_as_the_app_user_only(decoded: dict[str, Any]) -> None:
    resources = existing(decoded, PARAMETER_SETS["proxy+reader"])
    (policy,) = resources["DatabaseProxyRole"]["Properties"]["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "rds-db:connect"
    assert statement["Resource"] == (
        f"arn:aws:rds-db:ap-northeast-2:123456789012:dbuser:cluster-DATABASECLUSTER/{APP_USER}"
    )


def _ingress(resources: dict[str, Any], group: str) -> list[tuple[int, int, str]]:
    """(from, to, source group) of every rule admitting traffic into `group`."""
    rules = []
    for resource in resources.values():
        if resource["Type"] == "AWS::EC2::SecurityGroupIngress":
            props = resource["Properties"]
            if props["GroupId"] == f"{group}.GroupId":
                rules.append(
                    (
                        props["FromPort"],
                        props["ToPort"],
                        props.get("SourceSecurityGroupId", props.get("CidrIp")),
                    )
                )
    for rule in resources[group]["Properties"].get("SecurityGroupIngress", []):
        rules.append(
            (
                rule["FromPort"],
                rule["ToPort"],
                rule.get("SourceSecurityGroupId", rule.get("CidrIp")),
            )
        )
    return rules


@pytest.mark.parametrize("name", ["proxy+reader", "direct"])
def test_the_database_admits_only_the_functions_and_the_proxy(
    decoded: dict[str, Any], name: str
) -> None:
    resources = existing(decoded, PARAMETER_SETS[name])
    sources = {"LambdaSecurityGroup.GroupId"}
    if name.startswith("proxy"):
        sources.add("DatabaseProxySecurityGroup.GroupId")
        assert _ingress(resources, "DatabaseProxySecurityGroup") == [
            (3306, 3306, "LambdaSecurityGroup.GroupId")
        ]
    assert sorted(_ingress(resources, "DatabaseSecurityGroup")) == sorted(
        (3306, 3306, source) for source in sources
    )


def test_database_functions_and_the_migration_function_run_in_the_vpc(
    decoded: dict[str, Any],
) -> None:
    resources = existing(decoded, PARAMETER_SETS["direct"])
    for name in [*DATABASE_FUNCTIONS, "DatabaseMigrationFunction"]:
        vpc = resources[name]["Properties"]["VpcConfig"]
        assert vpc["SecurityGroupIds"] == ["LambdaSecurityGroup.GroupId"], name
    migration = resources["DatabaseMigrationFunction"]["Properties"]
    env = migration["Environment"]["Variables"]
    assert env["DATABASE_HOST"] == "DatabaseCluster.Endpoint.Address"  # not the proxy
    assert env["DATABASE_USER"] == APP_USER
    resources = existing(decoded, PARAMETER_SETS["external"])
    assert "VpcConfig" not in resources["StatsPublishFunction"]["Properties"]


def test_outputs_name_the_mode_and_the_endpoints(decoded: dict[str, Any]) -> None:
    outputs = decoded["Outputs"]
    assert outputs["DatabaseAccess"]["Value"] == {"Ref": "DatabaseAccess"}
    assert outputs["DatabaseWriterEndpoint"]["Condition"] == "CreateDatabase"
    assert outputs["DatabaseReaderEndpoint"]["Condition"] == "CreateDatabaseReader"
