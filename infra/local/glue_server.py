"""The local stack's Glue Schema Registry: moto's Glue backend, alone, served on a loopback port.

MiniStack has no Glue. moto's Glue implements the Schema Registry API (registries, schemas, versions,
GetSchemaByDefinition) faithfully enough for the producer and the handler, but not compatibility checks
(infra/schema_registry.py does those). Only the Glue app is created: a request for another service is not
answered as if it were served here, and start-up loads no other backend (~1 s). Run as
`python -m infra.local.glue_server --port N`; state lives in memory, so it goes with the process.
"""

from __future__ import annotations

import argparse

from infra.local.emulator import LOOPBACK


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="loopback port to serve Glue on")
    args = parser.parse_args(argv)
    from moto.moto_server.werkzeug_app import create_backend_app
    from werkzeug.serving import run_simple

    run_simple(LOOPBACK, args.port, create_backend_app("glue"), threaded=True)


if __name__ == "__main__":
    main()
