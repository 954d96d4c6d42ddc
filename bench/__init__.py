"""On-demand benchmarks (`make bench`); each module prints one `bench <name>: ...` summary line."""
