"""A model file with damaged contents is refused by every loader (payload checksum, archive.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from engines import SINGLE_POINT, format_1_copy, run_lammps, write_data
from tensorml import archive
from tensorml.cli import main
from tensorml.runtime import ExportedModel


def flipped(source, target, nbytes=4000):
    """A copy of ``source`` with ``nbytes`` XOR-flipped inside its largest stored record (zip directory intact)."""
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as z:
        info = max(
            (i for i in z.infolist() if i.compress_type == zipfile.ZIP_STORED and "/data/" in i.filename),
            key=lambda i: i.file_size,
        )
        # the local header: 30 bytes + name + extra field, then the record's bytes
        off = info.header_offset
        name_len = int.from_bytes(data[off + 26 : off + 28], "little")
        extra_len = int.from_bytes(data[off + 28 : off + 30], "little")
        start = off + 30 + name_len + extra_len
    n = min(nbytes, info.file_size)
    for k in range(start, start + n):
        data[k] ^= 0x5A
    target.write_bytes(bytes(data))
    return target


def test_export_records_a_checksum_that_loading_verifies(model_path):
    meta = ExportedModel.load(model_path).metadata
    assert meta[archive.DIGEST_KEY] == archive.payload_digest(model_path)


def test_flipped_bytes_are_refused_in_python(tmp_path, model_path):
    bad = flipped(model_path, tmp_path / "bad.pt")
    with pytest.raises(archive.CorruptModelError, match="bad.pt"):
        ExportedModel.load(bad)


def test_tensorml_info_refuses_a_flipped_file(tmp_path, model_path, capsys):
    bad = flipped(model_path, tmp_path / "bad.pt")
    assert main(["info", str(bad)]) == 1
    assert "bad.pt: the model file is corrupt" in capsys.readouterr().err


def test_the_digest_sees_a_flip_that_zip_crcs_would_not_be_asked_about(tmp_path, model_path):
    """The digest itself differs (not only Python's CRC check): the C++ loader relies on it."""
    import hashlib

    bad = flipped(model_path, tmp_path / "bad.pt")
    with zipfile.ZipFile(model_path) as good_zip, zipfile.ZipFile(bad) as bad_zip:
        info = max(
            (i for i in good_zip.infolist() if i.compress_type == zipfile.ZIP_STORED and "/data/" in i.filename),
            key=lambda i: i.file_size,
        )
        good_bytes = good_zip.read(info)
        with bad_zip.open(info.filename) as f:
            f._expected_crc = None  # read past the CRC, as PyTorch's reader does
            bad_bytes = f.read()
    assert hashlib.sha256(good_bytes).digest() != hashlib.sha256(bad_bytes).digest()


@pytest.mark.lammps
def test_flipped_bytes_are_refused_by_lammps(tmp_path, model_path):
    from tensorml.structures import water_box

    bad = flipped(model_path, tmp_path / "bad.pt")
    write_data(water_box(2, seed=3), tmp_path / "data.lmp")
    proc = run_lammps(tmp_path, SINGLE_POINT.format(units="metal", model=bad, apt=""), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "bad.pt: the model file is corrupt" in out, out[-3000:]


@pytest.mark.lammps
def test_an_unstamped_file_loads_with_a_warning_and_export_stamps_it(tmp_path, model_path):
    import json

    import torch

    from tensorml.structures import water_box

    extra = {"metadata.json": ""}
    module = torch.jit.load(str(model_path), _extra_files=extra)
    meta = json.loads(extra["metadata.json"])
    meta.pop(archive.DIGEST_KEY)
    old = tmp_path / "old.pt"
    torch.jit.save(module, str(old), _extra_files={"metadata.json": json.dumps(meta)})
    with pytest.warns(UserWarning, match="no payload checksum"):
        ExportedModel.load(old)
    write_data(water_box(2, seed=3), tmp_path / "data.lmp")
    proc = run_lammps(tmp_path, SINGLE_POINT.format(units="metal", model=old, apt=""))
    assert "records no payload checksum" in proc.stdout
    assert main(["export", str(old), "-o", str(tmp_path / "new.pt")]) == 0
    new = ExportedModel.load(tmp_path / "new.pt")
    assert new.metadata[archive.DIGEST_KEY] == archive.payload_digest(tmp_path / "new.pt")
    assert np.array_equal(next(iter(new.module.state_dict().values())), next(iter(module.state_dict().values())))


def test_format_1_file_is_upgraded_by_export_and_named_by_info(tmp_path, capsys):
    """`tensorml info` says a format-1 file is read as format 2 (dM/dt in e*angstrom/fs); export rewrites it."""
    import json

    old = tmp_path / "old.pt"
    meta = format_1_copy(Path(__file__).parents[1] / "models" / "water" / "model.pt", old)
    assert meta["format_version"] == 1
    assert main(["info", str(old)]) == 0
    out = capsys.readouterr().out
    assert "format version 1, read as 2" in out and "dmdt             global   3      [e*angstrom/fs]" in out
    new = tmp_path / "new.pt"
    assert main(["export", str(old), "-o", str(new)]) == 0
    with zipfile.ZipFile(new) as z:
        written = json.loads(z.read(next(n for n in z.namelist() if n.endswith("extra/metadata.json"))))
    assert written["format_version"] == 2 and "read_from_format_version" not in written
    assert written["outputs"]["dmdt"]["dimension"] == [1, 0, 1, -1] and written["units"]["time"] == "fs"
