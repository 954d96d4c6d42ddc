"""The cost model's arithmetic: item sizes, request units, index writes, template conditions."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cost_model import (
    Conditions,
    Index,
    TableShape,
    idle_items,
    item_size,
    load_prices,
    read_units,
    samconfig_parameters,
    write_cost,
)

SHAPE = TableShape(
    keys=("pk",),
    indexes=(
        Index("by_day", keys=("day", "sk"), projection="ALL"),
        Index("by_message", keys=("msg",), projection="KEYS_ONLY"),
    ),
)


def _item(**attributes: str) -> dict[str, dict[str, str]]:
    return {name: {"S": value} for name, value in attributes.items()}


def test_item_size_counts_names_and_values() -> None:
    # Given strings, a number, a map and a list
    item = {
        "pk": {"S": "JOB#1"},
        "n": {"N": "12345"},
        "m": {"M": {"a": {"BOOL": True}}},
        "l": {"L": [{"S": "xy"}]},
    }
    # Then names plus values: 2+5, 1+(3 digit pairs + 1), 1+(3 + 1+1+1), 1+(3 + 2+1)
    assert item_size(item) == 7 + 5 + 7 + 7
    assert item_size(None) == 0


def test_request_units_round_up_per_kb_and_per_4kb() -> None:
    assert [read_units(s, consistent=True) for s in (0, 4096, 4097)] == [1.0, 1.0, 2.0]
    assert read_units(100, consistent=False) == 0.5
    big = _item(pk="x", body="y" * 1500)
    assert write_cost(None, big, TableShape(keys=("pk",))).table == 2


def test_a_new_item_writes_the_table_and_each_index_it_has_keys_for() -> None:
    # Given a new item with the by_day keys but no msg
    after = _item(pk="JOB#1", day="2026-01-01", sk="t#1", status="SENT")
    # When it is put
    cost = write_cost(None, after, SHAPE)
    # Then one table write and one by_day write; by_message is untouched
    assert (cost.table, cost.indexes) == (1, {"by_day": 1})


def test_an_update_changing_an_index_key_deletes_and_puts_the_index_entry() -> None:
    before = _item(pk="JOB#1", day="2026-01-01", sk="t#1", msg="m-1")
    changed_key = {**before, "sk": {"S": "t#2"}}
    changed_other = {**before, "status": {"S": "DELIVERED"}}
    # A key change: delete + put on by_day; KEYS_ONLY by_message sees nothing projected change
    assert write_cost(before, changed_key, SHAPE).indexes == {"by_day": 2}
    # A non-key change: one update on the ALL index, none on the KEYS_ONLY one
    assert write_cost(before, changed_other, SHAPE).indexes == {"by_day": 1}
    assert write_cost(before, changed_other, SHAPE).total == 2


def test_a_failed_conditional_write_is_billed_for_the_table_only() -> None:
    stored = _item(pk="JOB#1", day="2026-01-01", sk="t#1", body="y" * 1100)
    requested = _item(pk="JOB#1", day="2026-01-01", sk="t#9")
    cost = write_cost(stored, stored, SHAPE, condition_failed=True, requested=requested)
    assert (cost.table, cost.indexes) == (2, {})


TEMPLATE = {
    "Parameters": {"Egress": {"Default": "one"}, "Redis": {"Default": ""}},
    "Conditions": {
        "CreateRedis": {"Fn::Equals": [{"Ref": "Redis"}, ""]},
        "TwoNat": {
            "Fn::And": [
                {"Condition": "CreateRedis"},
                {"Fn::Equals": [{"Ref": "Egress"}, "per-az"]},
            ]
        },
        "NotTwo": {"Fn::Not": [{"Condition": "TwoNat"}]},
    },
    "Resources": {
        "NatGateway": {"Type": "AWS::EC2::NatGateway", "Condition": "CreateRedis"},
        "NatGatewayB": {"Type": "AWS::EC2::NatGateway", "Condition": "TwoNat"},
        "Key": {"Type": "AWS::KMS::Key"},
    },
}


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({}, (True, False, True)),
        ({"Egress": "per-az"}, (True, True, False)),
        ({"Egress": "per-az", "Redis": "redis://x"}, (False, False, True)),
    ],
)
def test_conditions_resolve_from_defaults_and_overrides(
    parameters: dict[str, str], expected: tuple[bool, bool, bool]
) -> None:
    conditions = Conditions(TEMPLATE, parameters)
    assert (
        conditions.holds("CreateRedis"),
        conditions.holds("TwoNat"),
        conditions.holds("NotTwo"),
    ) == expected


def test_idle_items_count_only_the_resources_the_conditions_create() -> None:
    template = {**TEMPLATE, "Conditions": {**TEMPLATE["Conditions"], "CreateDatabase": False}}
    template["Conditions"]["CreateDatabase"] = {"Fn::Equals": ["a", "b"]}
    one = {i.name: i.quantity for i in idle_items(template, {})}
    two = {i.name: i.quantity for i in idle_items(template, {"Egress": "per-az"})}
    assert (one["nat_gateway_hours"], two["nat_gateway_hours"]) == (730, 1460)
    assert one["kms_keys"] == 1
    none = {i.name for i in idle_items(template, {"Redis": "redis://x"})}
    assert "nat_gateway_hours" not in none


def test_a_nat_instance_is_priced_by_its_type_and_its_launch_template_volume() -> None:
    # Given a template whose egress is a NAT instance with an 8 GB root volume
    template = {
        "Parameters": {"NatType": {"Default": "t4g.nano"}},
        "Conditions": {"CreateDatabase": {"Fn::Equals": ["a", "b"]}},
        "Resources": {
            "Template": {
                "Type": "AWS::EC2::LaunchTemplate",
                "Properties": {
                    "LaunchTemplateData": {
                        "BlockDeviceMappings": [{"Ebs": {"VolumeSize": 8, "VolumeType": "gp3"}}]
                    }
                },
            },
            "Nat": {
                "Type": "AWS::EC2::Instance",
                "Properties": {
                    "InstanceType": {"Ref": "NatType"},
                    "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Template"}},
                },
            },
        },
    }

    # When its idle items are listed
    items = {item.name: item for item in idle_items(template, {})}

    # Then the instance hours use the type's price and the volume its GB
    assert (items["Nat_hours"].quantity, items["Nat_hours"].price_key) == (730, "ec2_t4g_nano_hour")
    assert (items["Nat_volume"].quantity, items["Nat_volume"].price_key) == (8, "ebs_gp3_gb_month")
    assert {"ec2_t4g_nano_hour", "ebs_gp3_gb_month"} <= set(load_prices())


def test_samconfig_overrides_are_read_per_environment(tmp_path: Path) -> None:
    config = tmp_path / "samconfig.toml"
    config.write_text('version = 0.1\n[dev.deploy.parameters]\nparameter_overrides = "A=1 B=x=y"\n')
    assert samconfig_parameters("dev", config) == {"A": "1", "B": "x=y"}


def test_every_committed_price_names_a_source_and_a_date() -> None:
    prices = load_prices()
    assert prices
    for key, price in prices.items():
        # A page, or the AWS Price List as quoted by a named kind of source.
        assert price.source.startswith("https://") or "AWS Price List" in price.source, key
        assert len(price.as_of) == 10, key
        if price.region != "ap-northeast-2":
            assert price.note, f"{key}: a non-Seoul price must say why"


def test_only_sqs_event_source_mappings_poll_billed_requests_when_idle() -> None:
    # Given a queue's mapping and a DynamoDB stream's mapping
    template = {
        "Parameters": {},
        "Conditions": {"CreateDatabase": {"Fn::Equals": ["a", "b"]}},
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
            "QueueMapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {"EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]}},
            },
            "StreamMapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {"EventSourceArn": {"Fn::GetAtt": ["Table", "StreamArn"]}},
            },
        },
    }

    # When the idle items are listed with the mappings' empty polls
    items = {i.name: i for i in idle_items(template, {}, esm_polls_per_month=1e6)}

    # Then only the queue's mapping polls (Lambda's stream reads are free)
    assert items["sqs_empty_receives"].quantity == 1
