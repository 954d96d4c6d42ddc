"""The built template handed to `sam deploy` as JSON: the same document the SAM CLI would parse."""

from __future__ import annotations

import json
import os
from pathlib import Path

from local.deploy import built_template_as_json

BUILT = """\
AWSTemplateFormatVersion: '2010-09-09'
Conditions:
  Local: !Equals [!Ref Env, local]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Condition: Local
    Properties:
      CodeUri: Fn
      Layers: [!Ref CourierLayer]
      Environment:
        Variables:
          TABLE: !GetAtt Table.Arn
          STREAM: !GetAtt [Table, StreamArn]
          URL: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com"
          DAY: 2026-12-04
          MODE: !If [Local, !Join ["", [a, !Ref Env]], !Ref AWS::NoValue]
"""


def test_short_tags_become_the_long_form_the_sam_cli_makes(tmp_path: Path) -> None:
    # Given a built template with short intrinsic tags
    built = tmp_path / "template.yaml"
    built.write_text(BUILT)

    # When it is turned into JSON
    document = json.loads(built_template_as_json(built).read_text())

    # Then each tag is its long form, the GetAtt shorthand is split once, a date stays text
    assert document["Conditions"]["Local"] == {"Fn::Equals": [{"Ref": "Env"}, "local"]}
    function = document["Resources"]["Fn"]
    assert function["Condition"] == "Local"
    assert function["Properties"]["CodeUri"] == "Fn"
    assert function["Properties"]["Layers"] == [{"Ref": "CourierLayer"}]
    assert function["Properties"]["Environment"]["Variables"] == {
        "TABLE": {"Fn::GetAtt": ["Table", "Arn"]},
        "STREAM": {"Fn::GetAtt": ["Table", "StreamArn"]},
        "URL": {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.amazonaws.com"},
        "DAY": "2026-12-04",
        "MODE": {
            "Fn::If": ["Local", {"Fn::Join": ["", ["a", {"Ref": "Env"}]]}, {"Ref": "AWS::NoValue"}]
        },
    }
    assert document["AWSTemplateFormatVersion"] == "2010-09-09"


def test_it_is_made_once_per_build_and_again_after_a_new_one(tmp_path: Path) -> None:
    # Given the JSON made from a build
    built = tmp_path / "template.yaml"
    built.write_text(BUILT)
    first = built_template_as_json(built)
    os.utime(first, ns=(1, built.stat().st_mtime_ns + 1))
    made = first.stat().st_mtime_ns

    # When it is asked for again with the build unchanged, Then the file is reused
    assert built_template_as_json(built).stat().st_mtime_ns == made

    # When a new build writes the template, Then the JSON follows it
    built.write_text(BUILT.replace("CodeUri: Fn", "CodeUri: Other"))
    os.utime(built, ns=(made + 10, made + 10))
    again = json.loads(built_template_as_json(built).read_text())
    assert again["Resources"]["Fn"]["Properties"]["CodeUri"] == "Other"
