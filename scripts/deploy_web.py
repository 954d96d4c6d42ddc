"""Upload the static web app (web/) to the stack's bucket and invalidate CloudFront.

`sam deploy` does not upload assets. This reads the stack outputs (WebBucketName,
DistributionId, WebSocketUrl), writes the runtime config.json (apiBase, webSocketUrl, stage,
and the admin sign-in's adminSignInUrl and adminClientId) to the bucket, syncs web/ (deleting
objects that are no longer in web/), invalidates /*, and registers the admin page's URL with
the admin sign-in's app client.

    python scripts/deploy_web.py --stack courier-dev [--region ap-northeast-2] [--dry-run]
    python scripts/deploy_web.py --outputs outputs.json --dry-run   # no AWS call at all

The local runtime passes --web-socket-url and --api-base: without CloudFront in the path, the
page talks to the emulator's API endpoints directly.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NO_CACHE = "no-cache, must-revalidate"
ASSET_CACHE = "public, max-age=300"
REQUIRED_OUTPUTS = ("WebBucketName", "DistributionId", "WebSocketUrl")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", help="CloudFormation stack name (reads its outputs)")
    parser.add_argument("--region", default=None, help="stack region (default: AWS config)")
    parser.add_argument("--web-dir", type=Path, default=ROOT / "web", help="default: web/")
    parser.add_argument("--outputs", type=Path, help="JSON stack outputs (no --stack)")
    parser.add_argument("--no-delete", action="store_true", help="keep objects not in web/")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--web-socket-url", help="config.json webSocketUrl (default: stack output)")
    parser.add_argument("--api-base", help="config.json apiBase (default: /api, via CloudFront)")
    args = parser.parse_args(argv)
    if not args.stack and not args.outputs:
        parser.error("give --stack (or --outputs FILE)")
    return args


def stack_outputs(session: Any, stack: str) -> dict[str, str]:
    response = session.client("cloudformation").describe_stacks(StackName=stack)
    outputs = response["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def runtime_config(
    outputs: dict[str, str],
    stage: str,
    *,
    web_socket_url: str | None = None,
    api_base: str | None = None,
) -> dict[str, str]:
    # apiBase stays same-origin (/api through CloudFront); the WebSocket URL is wss://<site>/ws.
    config = {
        "apiBase": api_base or "/api",
        "webSocketUrl": web_socket_url or outputs["WebSocketUrl"],
        "stage": stage,
    }
    # The admin page's sign-in (web/admin.js): the hosted UI and the web app's client id.
    if outputs.get("AdminSignInUrl") and outputs.get("AdminUserPoolClientId"):
        config["adminSignInUrl"] = outputs["AdminSignInUrl"]
        config["adminClientId"] = outputs["AdminUserPoolClientId"]
    return config


# UpdateUserPoolClient resets every setting it is not given: these are carried over as read.
CLIENT_SETTINGS = (
    "ClientName",
    "RefreshTokenValidity",
    "AccessTokenValidity",
    "IdTokenValidity",
    "TokenValidityUnits",
    "ReadAttributes",
    "WriteAttributes",
    "ExplicitAuthFlows",
    "SupportedIdentityProviders",
    "CallbackURLs",
    "LogoutURLs",
    "DefaultRedirectURI",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
    "AnalyticsConfiguration",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "EnablePropagateAdditionalUserContextData",
    "AuthSessionValidity",
    "RefreshTokenRotation",
)


def ensure_admin_page_registered(cognito: Any, outputs: dict[str, str]) -> bool:
    """Add the admin page (AdminConsoleUrl) to the admin client's callback and sign-out URLs.

    Without CustomDomainName the template cannot name the distribution there (Distribution ->
    HttpApi -> the JWT authorizer's audience -> the client would be a cycle), so each deploy
    registers it here; with a custom domain (or locally) it is there already and nothing
    changes. A later stack update that changes the client drops it again until this runs,
    which `make deploy` does right after every deploy. True when the client was updated.
    """
    page = outputs.get("AdminConsoleUrl")
    pool, client_id = outputs.get("AdminUserPoolId"), outputs.get("AdminUserPoolClientId")
    if not (page and pool and client_id):
        return False
    client = cognito.describe_user_pool_client(UserPoolId=pool, ClientId=client_id)[
        "UserPoolClient"
    ]
    callbacks, logouts = client.get("CallbackURLs", []), client.get("LogoutURLs", [])
    if page in callbacks and page in logouts:
        return False
    update = {key: client[key] for key in CLIENT_SETTINGS if key in client}
    update["CallbackURLs"] = sorted({*callbacks, page})
    update["LogoutURLs"] = sorted({*logouts, page})
    cognito.update_user_pool_client(UserPoolId=pool, ClientId=client_id, **update)
    print(f"admin sign-in: registered {page} with app client {client_id}")
    return True


def local_files(web_dir: Path) -> dict[str, Path]:
    files = {
        path.relative_to(web_dir).as_posix(): path
        for path in sorted(web_dir.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.parts)
    }
    files.pop("config.json", None)  # written from the stack outputs instead
    files.pop("config.example.json", None)
    return files


def content_type(key: str) -> str:
    guessed, _ = mimetypes.guess_type(key)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/javascript", "application/json"):
        return f"{guessed}; charset=utf-8"
    return guessed


def cache_control(key: str) -> str:
    return NO_CACHE if key.endswith((".html", ".json")) else ASSET_CACHE


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    session: Any = None
    if args.outputs:
        outputs: dict[str, str] = json.loads(args.outputs.read_text())
    else:
        import boto3  # only needed against AWS

        session = boto3.Session(region_name=args.region)
        outputs = stack_outputs(session, args.stack)
    missing = [name for name in REQUIRED_OUTPUTS if name not in outputs]
    if missing:
        sys.exit(f"stack outputs lack {', '.join(missing)}: deploy the template first")
    if not args.web_dir.is_dir():
        sys.exit(f"{args.web_dir} is not a directory")

    bucket, distribution = outputs["WebBucketName"], outputs["DistributionId"]
    files = local_files(args.web_dir)
    settings = runtime_config(
        outputs,
        args.stack or "local",
        web_socket_url=args.web_socket_url,
        api_base=args.api_base,
    )
    config = json.dumps(settings, indent=2) + "\n"
    print(f"bucket {bucket}, distribution {distribution}, {len(files)} files from {args.web_dir}")
    print(f"config.json: {config.strip()}")
    if args.dry_run:
        for key in files:
            print(f"  would upload {key} ({content_type(key)}; {cache_control(key)})")
        print("dry run: nothing uploaded, nothing invalidated")
        return 0

    if session is None:
        import boto3

        session = boto3.Session(region_name=args.region)
    s3 = session.client("s3")
    for key, path in files.items():
        s3.upload_file(
            str(path),
            bucket,
            key,
            ExtraArgs={"ContentType": content_type(key), "CacheControl": cache_control(key)},
        )
        print(f"  uploaded {key}")
    s3.put_object(
        Bucket=bucket,
        Key="config.json",
        Body=config.encode(),
        ContentType="application/json; charset=utf-8",
        CacheControl=NO_CACHE,
    )
    print("  uploaded config.json")
    if not args.no_delete:
        keep = set(files) | {"config.json"}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                if item["Key"] not in keep:
                    s3.delete_object(Bucket=bucket, Key=item["Key"])
                    print(f"  deleted {item['Key']}")
    invalidation = session.client("cloudfront").create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": f"deploy-web-{time.time_ns()}",
        },
    )
    print(f"invalidation {invalidation['Invalidation']['Id']} of /* started")
    ensure_admin_page_registered(session.client("cognito-idp"), outputs)
    print(f"site: {outputs.get('SiteUrl', '?')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
