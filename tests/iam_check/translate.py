"""Run by `.tools/sam/bin/python`: template.yaml (argv[1]) through the SAM translator, as JSON.

Parameter values come as a JSON object on stdin. No AWS call: managed policies are named by ARN
in the template (the translator only looks names up), so the managed policy map stays empty.
"""

import json
import sys

from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse


def main() -> None:
    with open(sys.argv[1]) as handle:
        template = yaml_parse(handle.read())
    parameters = json.load(sys.stdin)
    # Local paths become S3 locations, as `sam package` would make them (`sam validate` too).
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "DefinitionUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = "s3://iam-check/" + props[key]
    translator = Translator(managed_policy_map=None, sam_parser=Parser())
    output = translator.translate(
        sam_template=template,
        parameter_values=parameters,
        get_managed_policy_map=lambda: {},
    )
    json.dump(output, sys.stdout)


if __name__ == "__main__":
    main()
