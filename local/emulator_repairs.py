"""Two post-deploy repairs through the AWS APIs for what MiniStack's CloudFormation gets wrong.

README "What differs from AWS" lists them; they change the emulator's resources only, never the
template or the code.
"""

from __future__ import annotations

from local.system import STACK_NAME, LocalSystem
from local.toolchain import ROOT


def repair_event_source_mappings(system: LocalSystem) -> None:
    """Re-apply each SQS mapping's MaximumConcurrency through the Lambda API.

    MiniStack's CloudFormation stores the value as the string CloudFormation passes, and its
    poller then fails comparing it with a number; the API path stores an integer. (boto3 reads
    the string back as an int, so the stored type cannot be seen from here: always re-apply.)
    """
    lam = system.client("lambda")
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for mapping in page["EventSourceMappings"]:
            limit = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
            if limit is not None:
                lam.update_event_source_mapping(
                    UUID=mapping["UUID"], ScalingConfig={"MaximumConcurrency": int(limit)}
                )


def import_http_api_routes(system: LocalSystem) -> None:
    """Create the HTTP API's routes through the API Gateway v2 API, from the functions' events.

    SAM turns AWS::Serverless::HttpApi into an API with an inline OpenAPI body; MiniStack's
    CloudFormation ignores that body, so the API would have no routes. The routes here are the
    template's own `HttpApi` events (method, path, IAM or none), each a Lambda proxy
    integration (payload 2.0) of the function that declares it, as SAM would have made them.
    """
    import yaml

    # Only literal event properties are read, so intrinsic functions (!Ref, ...) load as None;
    # a plain YAML read costs a fraction of cfn-lint's decoder on the start-up path.
    class TemplateLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types
        pass

    TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=TemplateLoader)  # noqa: S506
    apigw, lam = system.client("apigatewayv2"), system.client("lambda")
    api_id = system.outputs["HttpApiId"]
    existing = {route["RouteKey"] for route in apigw.get_routes(ApiId=api_id)["Items"]}
    stack = system.client("cloudformation")
    for logical_id, resource in template["Resources"].items():
        events = resource.get("Properties", {}).get("Events", {})
        routes = [e["Properties"] for e in events.values() if e.get("Type") == "HttpApi"]
        if resource.get("Type") != "AWS::Serverless::Function" or not routes:
            continue
        function = stack.describe_stack_resource(StackName=STACK_NAME, LogicalResourceId=logical_id)
        name = function["StackResourceDetail"]["PhysicalResourceId"]
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        integration = apigw.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=arn,
            PayloadFormatVersion="2.0",
        )["IntegrationId"]
        for route in routes:
            key = f"{route['Method'].upper()} {route['Path']}"
            if key in existing:
                continue
            iam = route.get("Auth", {}).get("Authorizer") == "AWS_IAM"
            apigw.create_route(
                ApiId=api_id,
                RouteKey=key,
                Target=f"integrations/{integration}",
                AuthorizationType="AWS_IAM" if iam else "NONE",
            )
