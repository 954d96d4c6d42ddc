"""The daily statistics batch: plan the days, aggregate each day-shard, merge and publish.

Module layout (the domain never sees Lambda events and never imports boto3):

- `errors`: the two error types the state machine tells apart by name.
- `contract`: the step inputs and outputs (pydantic), exactly what the state machine passes.
- `planning`: which days a run covers and the shard lists the Map states iterate.
- `tallies`: the mergeable partial aggregates (SMS and chat) and the fold over pages of records.
- `report`: the merged numbers, the JSON and CSV reports, the DailyStats item, the summary line.
- `steps`: the aggregate and publish steps over ports (pager, object store, stats table).
- `adapters`: DynamoDB and S3 implementations of the ports (the only boto3 users here).
- `wiring`: builds the steps from settings, once per execution environment.
"""
