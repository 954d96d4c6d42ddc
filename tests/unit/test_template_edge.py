"""The CloudFront edge in template.yaml: private web bucket behind this distribution's OAC,
/api/* to the HTTP API, /ws to the WebSocket API, security headers and TLS settings."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.harness import ROOT, template_resources

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
WEBSOCKET_HEADERS = {
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-accept",
    "sec-websocket-extensions",
}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return template_resources()


@pytest.fixture(scope="module")
def config(resources: dict[str, Any]) -> dict[str, Any]:
    assert resources["Distribution"]["Type"] == "AWS::CloudFront::Distribution"
    distribution_config: dict[str, Any] = resources["Distribution"]["Properties"][
        "DistributionConfig"
    ]
    return distribution_config


def origin(config: dict[str, Any], origin_id: str) -> dict[str, Any]:
    matches = [o for o in config["Origins"] if o["Id"] == origin_id]
    assert len(matches) == 1, origin_id
    found: dict[str, Any] = matches[0]
    return found


def behavior(config: dict[str, Any], pattern: str) -> dict[str, Any]:
    matches = [b for b in config["CacheBehaviors"] if b["PathPattern"] == pattern]
    assert len(matches) == 1, pattern
    found: dict[str, Any] = matches[0]
    return found


def sub_text(value: Any) -> str:
    """The template string of an Fn::Sub (short or list form)."""
    assert isinstance(value, dict), value
    assert set(value) == {"Fn::Sub"}, value
    body = value["Fn::Sub"]
    text = body[0] if isinstance(body, list) else body
    assert isinstance(text, str)
    return text


def refers_to(value: Any, logical_id: str) -> bool:
    """Whether an intrinsic (Ref, GetAtt, Sub) points at the given resource."""
    if value == {"Ref": logical_id}:
        return True
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        name = target[0] if isinstance(target, list) else target.split(".")[0]
        return bool(name == logical_id)
    if isinstance(value, dict) and "Fn::Sub" in value:
        return f"${{{logical_id}}}" in sub_text(value) or f"${{{logical_id}." in sub_text(value)
    return False


def test_web_bucket_blocks_all_public_access(resources: dict[str, Any]) -> None:
    props = resources["WebBucket"]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "WebsiteConfiguration" not in props
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_web_bucket_policy_allows_only_this_distribution(resources: dict[str, Any]) -> None:
    policy = resources["WebBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "WebBucket"}
    statements = policy["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 1
    allow = allows[0]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] in ("s3:GetObject", ["s3:GetObject"])
    assert sub_text(allow["Resource"]) == "${WebBucket.Arn}/*"
    assert set(allow["Condition"]) == {"StringEquals"}
    source_arn = allow["Condition"]["StringEquals"]
    assert set(source_arn) == {"AWS:SourceArn"}
    assert (
        sub_text(source_arn["AWS:SourceArn"])
        == "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"
    )
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert [d["Condition"] for d in denies] == [{"Bool": {"aws:SecureTransport": "false"}}]
    assert len(statements) == len(allows) + len(denies)


def test_s3_origin_uses_this_oac_and_no_oai(
    resources: dict[str, Any], config: dict[str, Any]
) -> None:
    web = origin(config, "web")
    assert refers_to(web["DomainName"], "WebBucket")
    assert web["OriginAccessControlId"] == {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}
    assert web["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert "CustomOriginConfig" not in web
    oac = resources["WebOriginAccessControl"]
    assert oac["Type"] == "AWS::CloudFront::OriginAccessControl"
    oac_config = oac["Properties"]["OriginAccessControlConfig"]
    assert oac_config["OriginAccessControlOriginType"] == "s3"
    assert oac_config["SigningBehavior"] == "always"
    assert oac_config["SigningProtocol"] == "sigv4"
    types = {r["Type"] for r in resources.values()}
    assert "AWS::CloudFront::CloudFrontOriginAccessIdentity" not in types


def test_default_behavior_serves_the_web_app(
    resources: dict[str, Any], config: dict[str, Any]
) -> None:
    default = config["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "web"
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert default["ResponseHeadersPolicyId"] == {"Ref": "SecurityHeadersPolicy"}
    (association,) = default["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    assert refers_to(association["FunctionARN"], "SpaRewriteFunction")
    code = resources["SpaRewriteFunction"]["Properties"]["FunctionCode"]
    assert "/index.html" in code
    # Custom error responses would also turn the API's 403/404 into index.html.
    assert "CustomErrorResponses" not in config


def test_api_behavior_targets_the_http_api(config: dict[str, Any]) -> None:
    api = behavior(config, "/api/*")
    assert api["TargetOriginId"] == "http-api"
    assert api["CachePolicyId"] == CACHING_DISABLED
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert {"GET", "POST", "OPTIONS"} <= set(api["AllowedMethods"])
    http_api = origin(config, "http-api")
    assert sub_text(http_api["DomainName"]) == (
        "${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    )
    assert http_api["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert http_api["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]


def test_api_origin_sends_the_origin_verify_secret(
    resources: dict[str, Any], config: dict[str, Any]
) -> None:
    headers = origin(config, "http-api")["OriginCustomHeaders"]
    (header,) = [h for h in headers if h["HeaderName"].lower() == "x-origin-verify"]
    assert sub_text(header["HeaderValue"]) == (
        "{{resolve:secretsmanager:${OriginVerifySecret}:SecretString:value}}"
    )
    secret = resources["OriginVerifySecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "value"
    env = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    # Verification is on unless a stack opts out (the local runtime, which has no CloudFront).
    assert env["ORIGIN_VERIFY_SECRET_ARN"] == {
        "Fn::If": ["VerifyOrigin", {"Ref": "OriginVerifySecret"}, ""]
    }
    # The verify header goes to the HTTP API only, never to the bucket or the WebSocket API.
    for other in ("web", "chat-websocket"):
        assert "OriginCustomHeaders" not in origin(config, other)


def test_websocket_behavior_targets_the_websocket_api(
    resources: dict[str, Any], config: dict[str, Any]
) -> None:
    ws = behavior(config, "/ws")
    assert ws["TargetOriginId"] == "chat-websocket"
    assert ws["CachePolicyId"] == CACHING_DISABLED
    ws_origin = origin(config, "chat-websocket")
    assert sub_text(ws_origin["DomainName"]) == (
        "${ChatApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    )
    assert resources["ChatApi"]["Properties"]["ProtocolType"] == "WEBSOCKET"
    assert ws_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    # The stage is the WebSocket API's path: /ws is rewritten to /<stage> (no OriginPath,
    # which would make it /<stage>/ws).
    assert "OriginPath" not in ws_origin
    (association,) = ws["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    assert refers_to(association["FunctionARN"], "WebSocketPathFunction")
    code = sub_text(resources["WebSocketPathFunction"]["Properties"]["FunctionCode"])
    assert "request.uri = '/${ChatStageName}'" in code


def test_websocket_origin_request_policy_forwards_handshake_and_ticket(
    resources: dict[str, Any], config: dict[str, Any]
) -> None:
    ws = behavior(config, "/ws")
    assert ws["OriginRequestPolicyId"] == {"Ref": "WebSocketOriginRequestPolicy"}
    policy = resources["WebSocketOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"]
    headers = policy["HeadersConfig"]
    assert headers["HeaderBehavior"] == "whitelist"
    forwarded = {h.lower() for h in headers["Headers"]}
    assert forwarded >= WEBSOCKET_HEADERS
    assert "host" not in forwarded  # API Gateway routes on its own host name
    query = policy["QueryStringsConfig"]
    # Only the single-use ticket: a long-lived token in a URL would land in the access logs.
    assert query == {"QueryStringBehavior": "whitelist", "QueryStrings": ["ticket"]}


def test_viewers_only_use_https(config: dict[str, Any]) -> None:
    behaviors = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    for item in behaviors:
        assert item["ViewerProtocolPolicy"] in ("redirect-to-https", "https-only"), item
    for item in config["Origins"]:
        if "CustomOriginConfig" in item:
            assert item["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


def test_response_headers_policy_csp_allows_the_websocket_origin(
    resources: dict[str, Any],
) -> None:
    policy = resources["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    security = policy["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert "ContentTypeOptions" in security
    assert "ReferrerPolicy" in security
    csp = sub_text(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    directives = {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in csp.split(";")) if part
    }
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    connect = directives["connect-src"]
    assert "'self'" in connect  # https://<site>/api and (CSP 3) wss://<site>/ws
    ws_api = "wss://${ChatApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    assert any(source.startswith(ws_api) for source in connect), connect
    custom = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"][1]
    condition, with_domain, without = custom["CustomDomainSources"]["Fn::If"]
    assert condition == "HasCustomDomain"
    assert "wss://${CustomDomainName}" in sub_text(with_domain)
    assert without == ""


def test_custom_domain_requires_tls_1_2(config: dict[str, Any]) -> None:
    condition, custom, default = config["ViewerCertificate"]["Fn::If"]
    assert condition == "HasCustomDomain"
    assert custom["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert custom["SslSupportMethod"] == "sni-only"
    assert custom["AcmCertificateArn"] == {"Ref": "AcmCertificateArn"}
    assert default == {"CloudFrontDefaultCertificate": True}
    assert config["Aliases"]["Fn::If"][0] == "HasCustomDomain"


def test_access_logs_and_optional_waf(resources: dict[str, Any], config: dict[str, Any]) -> None:
    assert config["Logging"]["Bucket"] == {"Fn::GetAtt": ["AccessLogsBucket", "DomainName"]}
    logs = resources["AccessLogsBucket"]["Properties"]
    assert all(logs["PublicAccessBlockConfiguration"].values())
    condition, web_acl, otherwise = config["WebACLId"]["Fn::If"]
    assert (condition, web_acl, otherwise) == (
        "HasWebAcl",
        {"Ref": "WebAclArn"},
        {"Ref": "AWS::NoValue"},
    )


def test_http_api_routes_and_authorization(resources: dict[str, Any]) -> None:
    # The public ApiFunction and the admin console's AdminApiFunction share the one HTTP API.
    events = [
        event
        for function in ("ApiFunction", "AdminApiFunction")
        for event in resources[function]["Properties"]["Events"].values()
    ]
    routes = {
        (e["Properties"]["Method"], e["Properties"]["Path"]): e["Properties"].get("Auth", {})
        for e in events
        if e["Type"] == "HttpApi"
    }
    assert all(e["Properties"]["ApiId"] == {"Ref": "HttpApi"} for e in events)
    assert routes == {
        ("POST", "/api/sms"): {"Authorizer": "AWS_IAM"},
        ("GET", "/api/sms/{job_id}"): {"Authorizer": "AWS_IAM"},
        ("GET", "/api/stats"): {},
        ("GET", "/api/stats/{date}"): {},
        ("GET", "/api/rooms/{room}/messages"): {},
        ("POST", "/api/chat/tickets"): {},
        ("GET", "/api/openapi.json"): {},
        # The admin console (AdminApiFunction): Cognito JWT authorizer (test_template_admin.py).
        ("ANY", "/api/admin/{proxy+}"): {"Authorizer": "AdminJwt"},
    }
    api = resources["HttpApi"]["Properties"]
    assert api["Auth"]["EnableIamAuthorizer"] is True
    assert "AccessLogSettings" in api
    assert {"ThrottlingBurstLimit", "ThrottlingRateLimit"} <= set(api["DefaultRouteSettings"])


def test_outputs_and_deploy_target() -> None:
    text = (ROOT / "template.yaml").read_text()
    outputs = text.split("\nOutputs:\n", 1)[1]
    for name in ("SiteUrl", "ApiUrl", "CloudFrontApiUrl", "WebSocketUrl", "SmsBulkQueueUrl"):
        assert re.search(rf"^  {name}:$", outputs, re.MULTILINE), name
    assert re.search(r"^deploy-web:", (ROOT / "Makefile").read_text(), re.MULTILINE)
