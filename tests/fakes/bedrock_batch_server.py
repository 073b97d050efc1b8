"""Bedrock batch inference on the fake AWS server with moto's S3, in their own process (for
the benchmark: they share no interpreter lock with what is measured). Prints the fake's URL
and moto's, then serves until killed.

python -m tests.fakes.bedrock_batch_server JOB_SECONDS [NOVA_JOB_SECONDS]

Jobs last JOB_SECONDS; those of Amazon Nova models NOVA_JOB_SECONDS (default 1: for a
warm-up run).
"""

from __future__ import annotations

import sys
import threading

from moto.server import ThreadedMotoServer

from tests.fakes.aws_server import FakeAws
from tests.fakes.bedrock_batch import BatchScript


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    fake = FakeAws()
    fake.batch.s3_endpoint = f"http://{host}:{port}"
    fake.batch.default = BatchScript(duration_s=seconds)
    nova = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    fake.batch.scripts["amazon.nova-micro-v1:0"] = BatchScript(duration_s=nova)
    fake.start()
    print(fake.url, fake.batch.s3_endpoint, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
