"""The system on one machine: the local runtime (MiniStack, redis-server, MariaDB), its demo and
`make invoke`, and the in-process stand-ins (moto stack, in-memory adapters) tests and benchmarks
share."""
