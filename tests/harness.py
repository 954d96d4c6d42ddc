"""Test harness shared by every suite: paths, event files, moto tables from template.yaml.

The pieces the benchmarks share live in local/ (bench/ never imports tests/) and are re-exported.
"""

from __future__ import annotations

# One private redis-server for the tests, the benchmarks and the local runtime.
from local.moto_stack import ACCOUNT as ACCOUNT
from local.moto_stack import REGION as REGION
from local.moto_stack import SMS_QUEUES as SMS_QUEUES
from local.moto_stack import FakeLambdaContext as FakeLambdaContext
from local.moto_stack import SmsStack as SmsStack
from local.moto_stack import create_table_from_template as create_table_from_template
from local.moto_stack import sms_moto_stack as sms_moto_stack
from local.redis_server import free_port as free_port
from local.redis_server import redis_server as redis_server
from local.template import EVENTS as EVENTS
from local.template import load_event as load_event
from local.template import template as template
from local.template import template_resource as template_resource
from local.template import template_resources as template_resources
from local.toolchain import ROOT as ROOT
