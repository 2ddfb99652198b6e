"""Run the local ESM runtime as a process until SIGTERM: `python -m infra.local.esm --config esm.json`."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from pathlib import Path

from infra.local.esm.config import EsmConfig
from infra.local.esm.runtime import EsmRuntime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="JSON written by EsmConfig.to_dict()")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = EsmConfig.from_dict(json.loads(args.config.read_text()))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    runtime = EsmRuntime(config)
    runtime.start()
    logging.info("ESM runtime started on %s (%s)", config.stream_name, config.handler)
    stopping.wait()
    runtime.stop()
    logging.info("ESM runtime stopped; checkpoints saved to %s", config.checkpoint_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
