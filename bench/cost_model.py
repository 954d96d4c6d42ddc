"""The cost model's arithmetic: DynamoDB item sizes and request units, template conditions per
samconfig environment, the committed price table, and the idle resources of a stack.

Hand-written because no maintained library prices DynamoDB calls from item sizes or resolves a
SAM template's Conditions offline (cfn-lint decodes the template; it does not evaluate it). The
rules follow the DynamoDB developer guide ("Capacity unit consumption"); where a rule is a
modelling choice it says so.
"""

from __future__ import annotations

import base64
import math
import shlex
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PRICE_FILE = ROOT / "bench" / "prices_ap_northeast_2.toml"
HOURS_PER_MONTH = 730
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096

# ---- DynamoDB item sizes and request units -----------------------------------------------


def _number_size(text: str) -> int:
    """A number's stored size: about one byte per two significant digits, plus one."""
    digits = text.lstrip("+-").replace(".", "").split("e")[0].split("E")[0].strip("0")
    return max(1, math.ceil(len(digits) / 2)) + 1


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    return len(base64.b64decode(value))


def value_size(value: Mapping[str, Any]) -> int:
    """Size in bytes of one attribute value in DynamoDB's typed form ({"S": ...})."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        return _number_size(str(data))
    if kind == "B":
        return _binary_size(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in data)
    if kind == "NS":
        return sum(_number_size(str(n)) for n in data)
    if kind == "BS":
        return sum(_binary_size(b) for b in data)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in data)
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    """Attribute names (UTF-8) plus values; 0 for no item."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    """Write request units for one item write: 1 per started KB, at least 1."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    """Read request units for `size` bytes read: 1 per started 4 KB (half when eventual)."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class Index:
    """A secondary index as the table describes it: key attributes and projection."""

    name: str
    keys: tuple[str, ...]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    included: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableShape:
    keys: tuple[str, ...]
    indexes: tuple[Index, ...] = ()

    def projected(self, index: Index, item: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The index entry of `item`, or None when the item lacks an index key (not indexed)."""
        if not item or any(key not in item for key in index.keys):
            return None
        if index.projection == "ALL":
            return dict(item)
        wanted = set(self.keys) | set(index.keys) | set(index.included)
        return {name: value for name, value in item.items() if name in wanted}


@dataclass
class WriteCost:
    table: int = 0
    indexes: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.table + sum(self.indexes.values())


def index_write_units(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, shape: TableShape
) -> dict[str, int]:
    """Writes to each index when an item goes from `before` to `after` (either may be None).

    New entry: 1 put. Entry removed: 1 delete. Index key changed: delete + put. Only projected
    attributes changed: 1 update. Nothing projected changed: 0.
    """
    units: dict[str, int] = {}
    for index in shape.indexes:
        old, new = shape.projected(index, before), shape.projected(index, after)
        if old is None and new is None:
            cost = 0
        elif old is None:
            cost = write_units(item_size(new))
        elif new is None:
            cost = write_units(item_size(old))
        elif any(old[key] != new[key] for key in index.keys):
            cost = write_units(item_size(old)) + write_units(item_size(new))
        elif old != new:
            cost = write_units(max(item_size(old), item_size(new)))
        else:
            cost = 0
        if cost:
            units[index.name] = cost
    return units


def write_cost(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    shape: TableShape,
    *,
    condition_failed: bool = False,
    requested: Mapping[str, Any] | None = None,
) -> WriteCost:
    """Units one PutItem/UpdateItem/DeleteItem consumes.

    The table write is sized by the larger of the item before and after. A write whose condition
    fails is still billed for the table write (sized by the larger of the stored item and the
    item the request carried) but writes no index entry.
    """
    if condition_failed:
        return WriteCost(table=write_units(max(item_size(before), item_size(requested))))
    table = write_units(max(item_size(before), item_size(after)))
    return WriteCost(table=table, indexes=index_write_units(before, after, shape))


def shape_from_description(table: Mapping[str, Any]) -> TableShape:
    """A TableShape from DescribeTable's `Table` (key schema, GSIs and LSIs)."""
    keys = tuple(k["AttributeName"] for k in table["KeySchema"])
    indexes = []
    for index in [
        *table.get("GlobalSecondaryIndexes", []),
        *table.get("LocalSecondaryIndexes", []),
    ]:
        projection = index.get("Projection", {})
        indexes.append(
            Index(
                name=index["IndexName"],
                keys=tuple(k["AttributeName"] for k in index["KeySchema"]),
                projection=projection.get("ProjectionType", "ALL"),
                included=tuple(projection.get("NonKeyAttributes", [])),
            )
        )
    return TableShape(keys=keys, indexes=tuple(indexes))


# ---- template conditions per samconfig environment ----------------------------------------

PSEUDO_PARAMETERS = {"AWS::Region": "ap-northeast-2", "AWS::Partition": "aws"}


def samconfig_parameters(environment: str, path: Path = ROOT / "samconfig.toml") -> dict[str, str]:
    """The deploy parameter_overrides of one samconfig.toml environment, as a mapping."""
    config = tomllib.loads(path.read_text())
    overrides = config[environment]["deploy"]["parameters"].get("parameter_overrides", "")
    pairs = shlex.split(overrides) if isinstance(overrides, str) else list(overrides)
    return dict(pair.split("=", 1) for pair in pairs)


@dataclass
class Conditions:
    """Evaluates a template's Conditions (Equals/And/Or/Not/Condition/Ref) for one parameter set."""

    template: Mapping[str, Any]
    parameters: dict[str, str]
    _cache: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = {
            name: str(spec.get("Default", ""))
            for name, spec in self.template.get("Parameters", {}).items()
        }
        self.parameters = {**values, **self.parameters}

    def parameter(self, name: str) -> str:
        return self.parameters[name]

    def value(self, node: Any) -> Any:
        """A property value with `Ref`s to parameters resolved (literals pass through)."""
        return self._evaluate(node)

    def holds(self, name: str) -> bool:
        if name not in self._cache:
            self._cache[name] = bool(self._evaluate(self.template["Conditions"][name]))
        return self._cache[name]

    def exists(self, resource: Mapping[str, Any]) -> bool:
        condition = resource.get("Condition")
        return condition is None or self.holds(condition)

    def _evaluate(self, node: Any) -> Any:
        if not isinstance(node, Mapping):
            return node
        ((key, arg),) = node.items()
        if key == "Ref":
            if arg in PSEUDO_PARAMETERS:
                return PSEUDO_PARAMETERS[arg]
            return self.parameters[arg]
        if key == "Condition":
            return self.holds(arg)
        if key == "Fn::Equals":
            left, right = (self._evaluate(item) for item in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._evaluate(arg[0])
        if key == "Fn::And":
            return all(self._evaluate(item) for item in arg)
        if key == "Fn::Or":
            return any(self._evaluate(item) for item in arg)
        raise ValueError(f"unsupported in a condition: {key}")


def load_template(path: Path = ROOT / "template.yaml") -> dict[str, Any]:
    """template.yaml with intrinsic functions as `Ref`/`Fn::*` mappings (cfn-lint's decoder)."""
    from cfnlint.decode import decode_str

    decoded, matches = decode_str(path.read_text())
    if matches:
        raise ValueError(f"template.yaml does not decode: {matches}")
    return dict(decoded)


# ---- prices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    region: str
    source: str
    as_of: str
    note: str = ""


def load_prices(path: Path = PRICE_FILE) -> dict[str, Price]:
    """The committed price table; every entry must name its source and date."""
    raw = tomllib.loads(path.read_text())
    prices: dict[str, Price] = {}
    for key, entry in raw.items():
        if not isinstance(entry, dict):
            continue
        missing = {"usd", "unit", "region", "source", "as_of"} - set(entry)
        if missing:
            raise ValueError(f"price {key} lacks {sorted(missing)}")
        prices[key] = Price(
            usd=float(entry["usd"]),
            unit=str(entry["unit"]),
            region=str(entry["region"]),
            source=str(entry["source"]),
            as_of=str(entry["as_of"]),
            note=str(entry.get("note", "")),
        )
    return prices


# ---- idle resources -------------------------------------------------------------------------


@dataclass(frozen=True)
class IdleItem:
    name: str
    quantity: float
    price_key: str
    detail: str

    def usd(self, prices: Mapping[str, Price]) -> float:
        return self.quantity * prices[self.price_key].usd


def _source_type(resources: Mapping[str, Any], mapping: Mapping[str, Any]) -> str:
    """The resource type an event source mapping reads (its `Fn::GetAtt` target)."""
    source = mapping["Properties"]["EventSourceArn"]
    target = source.get("Fn::GetAtt", [""])[0] if isinstance(source, dict) else ""
    if isinstance(target, str) and "." in target:
        target = target.split(".")[0]
    return str(resources.get(target, {}).get("Type", ""))


def _count(resources: Mapping[str, Any], conditions: Conditions, *types: str) -> list[str]:
    return [
        name
        for name, resource in resources.items()
        if resource["Type"] in types and conditions.exists(resource)
    ]


def _launch_template_volumes(
    resources: Mapping[str, Any], instance: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The EBS volumes an instance gets from its own mappings or its launch template's."""
    mappings = list(instance.get("BlockDeviceMappings", []))
    reference = instance.get("LaunchTemplate", {}).get("LaunchTemplateId", {})
    if isinstance(reference, Mapping) and "Ref" in reference:
        data = resources[reference["Ref"]]["Properties"]["LaunchTemplateData"]
        mappings.extend(data.get("BlockDeviceMappings", []))
    return [m for m in mappings if "Ebs" in m]


def _alarm_metrics(alarm: Mapping[str, Any]) -> int:
    """Metrics an alarm is billed for: one, or each metric a metric-math alarm reads."""
    metrics = alarm.get("Properties", {}).get("Metrics")
    if not metrics:
        return 1
    return sum(1 for query in metrics if "MetricStat" in query) or 1


def idle_items(
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    *,
    scheduled: Sequence[tuple[str, float, float]] = (),
    esm_polls_per_month: float = 0.0,
) -> list[IdleItem]:
    """What a stack costs with no traffic at all, per month, under these parameters.

    `scheduled` lists (function, invocations per month, GB-seconds per invocation) for the work
    schedules start anyway; `esm_polls_per_month` is the empty SQS receives per event source
    mapping (a modelled figure: see docs/benchmarks.md).
    """
    conditions = Conditions(template, dict(parameters))
    resources = template["Resources"]
    items: list[IdleItem] = []
    h = HOURS_PER_MONTH

    nats = _count(resources, conditions, "AWS::EC2::NatGateway")
    if nats:
        items.append(IdleItem("nat_gateway_hours", len(nats) * h, "nat_gateway_hour", str(nats)))
    # A NAT instance (VpcEgress=nat-instance): its hours and its root volume.
    for name in _count(resources, conditions, "AWS::EC2::Instance"):
        properties = resources[name]["Properties"]
        instance_type = str(conditions.value(properties["InstanceType"]))
        price_key = f"ec2_{instance_type.replace('.', '_')}_hour"
        items.append(IdleItem(f"{name}_hours", h, price_key, instance_type))
        volume_gb = sum(
            int(mapping["Ebs"]["VolumeSize"])
            for mapping in _launch_template_volumes(resources, properties)
        )
        if volume_gb:
            items.append(
                IdleItem(f"{name}_volume", volume_gb, "ebs_gp3_gb_month", f"{volume_gb} GB gp3")
            )
    eips = _count(resources, conditions, "AWS::EC2::EIP")
    if eips:
        items.append(IdleItem("public_ipv4_hours", len(eips) * h, "public_ipv4_hour", str(eips)))
    endpoints = [
        name
        for name in _count(resources, conditions, "AWS::EC2::VPCEndpoint")
        if resources[name]["Properties"].get("VpcEndpointType") == "Interface"
    ]
    if endpoints:
        azs = 2  # the created VPC's two private subnets
        items.append(
            IdleItem(
                "interface_endpoint_az_hours",
                len(endpoints) * azs * h,
                "interface_endpoint_az_hour",
                f"{endpoints} x {azs} AZ",
            )
        )
    if _count(resources, conditions, "AWS::ElastiCache::ServerlessCache"):
        items.append(
            IdleItem(
                "elasticache_serverless_min_storage",
                0.1 * h,
                "elasticache_serverless_valkey_gb_hour",
                "Valkey minimum 100 MB metered",
            )
        )
    if conditions.holds("CreateDatabase"):
        minimum = float(conditions.parameter("DatabaseMinCapacity"))
        instances = len(_count(resources, conditions, "AWS::RDS::DBInstance"))
        proxy = conditions.holds("UseDatabaseProxy")
        # The proxy holds connections open, so an instance never pauses: it idles at its minimum,
        # 0.5 ACU at least.
        idle_acu = max(minimum, 0.5) if proxy else minimum
        if idle_acu > 0:
            items.append(
                IdleItem(
                    "aurora_min_acu_hours",
                    idle_acu * instances * h,
                    "aurora_serverless_v2_acu_hour",
                    f"{instances} instance(s) x {idle_acu} ACU",
                )
            )
        if proxy:
            items.append(
                IdleItem(
                    "rds_proxy_min_acu_hours",
                    8 * h,
                    "rds_proxy_serverless_acu_hour",
                    "RDS Proxy bills Aurora Serverless v2 at 8 ACU minimum",
                )
            )
        items.append(
            IdleItem("aurora_storage_min", 1.0, "aurora_storage_gb_month", "~1 GB schema+data")
        )
    keys = _count(resources, conditions, "AWS::KMS::Key")
    if keys:
        items.append(IdleItem("kms_keys", len(keys), "kms_key_month", str(keys)))
    secrets = _count(resources, conditions, "AWS::SecretsManager::Secret")
    if conditions.holds("CreateDatabase"):
        secrets.append("Aurora master secret (ManageMasterUserPassword)")
    if secrets:
        items.append(IdleItem("secrets", len(secrets), "secret_month", str(secrets)))
    alarms = _count(resources, conditions, "AWS::CloudWatch::Alarm")
    metric_count = sum(_alarm_metrics(resources[name]) for name in alarms)
    if alarms:
        items.append(
            IdleItem(
                "alarm_metrics",
                metric_count,
                "alarm_metric_month",
                f"{len(alarms)} alarms reading {metric_count} metrics",
            )
        )
    composite = _count(resources, conditions, "AWS::CloudWatch::CompositeAlarm")
    if composite:
        items.append(
            IdleItem("composite_alarms", len(composite), "composite_alarm_month", str(composite))
        )
    dashboards = _count(resources, conditions, "AWS::CloudWatch::Dashboard")
    if dashboards:
        items.append(IdleItem("dashboards", len(dashboards), "dashboard_month", str(dashboards)))
    # Only SQS mappings poll billed requests: Lambda's reads of a DynamoDB stream are free.
    mappings = [
        name
        for name in _count(resources, conditions, "AWS::Lambda::EventSourceMapping")
        if _source_type(resources, resources[name]) == "AWS::SQS::Queue"
    ]
    if mappings and esm_polls_per_month:
        items.append(
            IdleItem(
                "sqs_empty_receives",
                len(mappings) * esm_polls_per_month / 1e6,
                "sqs_request_million",
                f"{len(mappings)} SQS event source mappings long-polling (modelled)",
            )
        )
    for function, invocations, gb_seconds in scheduled:
        items.append(
            IdleItem(
                f"scheduled_{function}_gb_s",
                invocations * gb_seconds,
                "lambda_arm_gb_second",
                f"{invocations:.0f} invocations x {gb_seconds} GB-s (modelled)",
            )
        )
        items.append(
            IdleItem(
                f"scheduled_{function}_requests",
                invocations / 1e6,
                "lambda_request_million",
                f"{invocations:.0f} invocations",
            )
        )
        items.append(
            IdleItem(
                f"scheduled_{function}_traces",
                invocations / 1e6,
                "xray_trace_million",
                "one trace per invocation (Tracing: Active)",
            )
        )
    return items
