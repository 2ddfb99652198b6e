"""The local Lambda event-source-mapping runtime for Kinesis: pollers, batching, lanes, retries, workers.

`python -m infra.local.esm --config <state_dir>/esm.json` runs it as a process; `EsmRuntime` in-process.
"""
