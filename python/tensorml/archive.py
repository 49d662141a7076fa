"""Model archives with a checksum of their payload.

A model file is a TorchScript zip archive with ``extra/metadata.json`` inside. PyTorch's reader
does not check the zip CRCs, so a file with flipped bytes in its weights loads without a word
and returns nonsense. At export the metadata record ``payload_sha256``: the SHA-256 of every
record of the archive except ``extra/metadata.json`` (which holds the digest) and
``.data/serialization_id`` (random per save), taken in sorted name order, each as

    name (without the archive's top folder) + NUL + 8-byte little-endian size + contents

Every loader (Python here, C++ in ``pair_tensorml/tensorml_model.cpp``) recomputes it; a
mismatch is a :class:`CorruptModelError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
import zlib
from pathlib import Path

#: Metadata key holding the payload digest.
DIGEST_KEY = "payload_sha256"
#: Records left out of the digest (names below the archive's top folder).
UNHASHED = ("extra/metadata.json", ".data/serialization_id")


class CorruptModelError(ValueError):
    """A model file whose payload does not match the checksum recorded at export."""


def _records(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    out = {}
    for info in archive.infolist():
        name = info.filename.split("/", 1)[1] if "/" in info.filename else info.filename
        if name and not name.endswith("/"):
            out[name] = info
    return out


def payload_digest(path: str | Path) -> str:
    """The SHA-256 (hex) of the archive's payload, as defined in the module docstring."""
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(path) as archive:
            records = _records(archive)
            for name in sorted(records):
                if name in UNHASHED:
                    continue
                data = archive.read(records[name])
                digest.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    except (zipfile.BadZipFile, zlib.error) as err:
        raise CorruptModelError(f"{path}: the model file is corrupt: its archive is damaged ({err})") from None
    return digest.hexdigest()


def save_scripted(scripted, path: str | Path, metadata: dict) -> dict:
    """``torch.jit.save`` ``scripted`` to ``path`` with ``metadata`` plus its payload digest.

    TorchScript writes the same payload for the same module, so the digest of a first save is
    that of the final one; the final file is checked all the same. Returns the metadata written.
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: v for k, v in metadata.items() if k != DIGEST_KEY}
    tmp = path.with_name(path.name + ".tmp")
    torch.jit.save(scripted, str(tmp), _extra_files={"metadata.json": json.dumps(meta, indent=1)})
    meta[DIGEST_KEY] = payload_digest(tmp)
    torch.jit.save(scripted, str(tmp), _extra_files={"metadata.json": json.dumps(meta, indent=1)})
    if payload_digest(tmp) != meta[DIGEST_KEY]:
        tmp.unlink()
        raise RuntimeError(f"{path}: TorchScript wrote a different payload on a second save; not written")
    tmp.replace(path)
    return meta


def verify(path: str | Path, metadata: dict) -> None:
    """Raise :class:`CorruptModelError` if the payload of ``path`` does not match its metadata's digest.

    Files exported before checksums existed (no ``payload_sha256``) load with a warning.
    """
    expected = metadata.get(DIGEST_KEY)
    if expected is None:
        warnings.warn(
            f"{path}: the model file records no payload checksum (exported by an older tensorml); "
            f"it cannot be checked for damage: export it again",
            stacklevel=2,
        )
        return
    actual = payload_digest(path)
    if actual != expected:
        raise CorruptModelError(
            f"{path}: the model file is corrupt: the checksum of its contents ({actual[:16]}...) differs from "
            f"the one recorded at export ({str(expected)[:16]}...); copy or export the file again"
        )


def is_model_file(path: str | Path) -> bool:
    """Whether ``path`` is a model archive (a zip with ``extra/metadata.json``), not a checkpoint."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "extra/metadata.json" in _records(archive)
    except (zipfile.BadZipFile, OSError):
        return False


def read_metadata(path: str | Path) -> dict:
    """The raw ``metadata.json`` of a model archive (any format), read from the zip."""
    with zipfile.ZipFile(path) as archive:
        records = _records(archive)
        return json.loads(archive.read(records["extra/metadata.json"]))


def restamp(source: str | Path, output: str | Path) -> dict:
    """Write the model file ``source`` again as ``output`` with a payload checksum; returns the metadata.

    For files exported before checksums existed: the module is kept as it is, and the metadata of
    an older contract format is brought to today's (:func:`tensorml.contract.upgrade_metadata`).
    A file that already records a checksum must match it.
    """
    import torch

    from .contract import upgrade_metadata

    extra = {"metadata.json": ""}
    module = torch.jit.load(str(source), map_location="cpu", _extra_files=extra)
    metadata = json.loads(extra["metadata.json"])
    if DIGEST_KEY in metadata:
        verify(source, metadata)
    upgraded = upgrade_metadata(metadata)
    upgraded.pop("read_from_format_version", None)
    return save_scripted(module, output, upgraded)
