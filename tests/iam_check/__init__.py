"""IAM proven by the tests: every AWS call a handler makes, checked against its function's role.

`recorder` sees each botocore call and attributes it to the handler being run; `roles` expands
each function's role with the SAM translator (in `.tools/sam`, whose pydantic pin clashes with
the app's) and resolves its intrinsics; `policy` decides whether a role allows a call.
"""
