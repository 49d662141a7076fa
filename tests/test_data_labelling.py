"""The labelling run: resumption, torn files, non-converging frames, the `tensorml label` command."""

import json

import numpy as np
import pytest
from ase import Atoms
from ase.io import write

from tensorml.data import read_dataset
from tensorml.data import runner as runner_mod
from tensorml.data.extxyz import append_frames, complete_frames, truncate_torn_tail
from tensorml.data.labels import LabelRequest
from tensorml.data.runner import failed_log_path, label_structures
from tensorml.data.theory import LevelOfTheory

FAST = LevelOfTheory(method="HF", basis="sto-3g", density_fit=False)
CHEAP = LabelRequest(properties=("energy", "dipole"))


def _waters(n):
    out = []
    for k in range(n):
        a = Atoms("OHH", positions=[[0, 0, 0], [0.96 + 0.02 * k, 0, 0], [-0.24, 0.93, 0]])
        a.info["system_id"] = f"w{k}"
        out.append(a)
    return out


@pytest.fixture
def counting(monkeypatch):
    """Count the frames actually sent to PySCF."""
    calls = []
    real = runner_mod.label_frame

    def fake(atoms, level, request):
        calls.append(atoms.positions[1, 0])
        return real(atoms, level, request)

    monkeypatch.setattr(runner_mod, "label_frame", fake)
    return calls


def test_resume_skips_finished_frames(tmp_path, counting):
    frames = _waters(4)
    out = tmp_path / "out.extxyz"
    s1 = label_structures(frames[:2], out, FAST, CHEAP, workers=1, progress=False)
    assert s1.labelled == 2 and len(counting) == 2
    first = out.read_text()
    s2 = label_structures(frames, out, FAST, CHEAP, workers=1, progress=False)
    assert s2.skipped_done == 2 and s2.labelled == 2
    assert len(counting) == 4  # only frames 2 and 3 were computed the second time
    assert out.read_text().startswith(first)  # finished frames untouched
    data = read_dataset(out)
    assert [a.info["frame_index"] for a in data] == [0, 1, 2, 3]
    assert [a.info["system_id"] for a in data] == ["w0", "w1", "w2", "w3"]
    assert all(a.info["method"] == "HF" and a.info["basis"] == "sto-3g" for a in data)
    # a third run does nothing at all
    s3 = label_structures(frames, out, FAST, CHEAP, workers=1, progress=False)
    assert s3.labelled == 0 and len(counting) == 4


def test_torn_last_frame_is_dropped_and_redone(tmp_path, counting):
    frames = _waters(3)
    out = tmp_path / "out.extxyz"
    label_structures(frames[:2], out, FAST, CHEAP, workers=1, progress=False)
    text = out.read_text()
    cut = text.rfind("\n", 0, len(text) - 40)  # kill in the middle of writing frame 1
    out.write_text(text[:cut])
    assert complete_frames(out)[0] == 1
    label_structures(frames, out, FAST, CHEAP, workers=1, progress=False)
    assert len(counting) == 2 + 2  # frame 1 (torn) and frame 2 computed again, frame 0 not
    data = read_dataset(out)
    assert [a.info["frame_index"] for a in data] == [0, 1, 2]


def test_truncate_torn_tail(tmp_path):
    path = tmp_path / "x.extxyz"
    a = _waters(1)[0]
    a.info["energy"] = -1.0
    append_frames(path, [a, a])
    whole = path.read_text()
    path.write_text(whole + "3\nProperties=species:S:1:pos:R:3 energy=1\nO 0 0 0\n")
    assert truncate_torn_tail(path) == 2
    assert path.read_text() == whole


def test_non_converging_frame_is_reported_and_skipped(tmp_path):
    level = LevelOfTheory(method="B3LYP", basis="sto-3g", density_fit=False, max_cycle=25)
    good = _waters(1)[0]
    bad = Atoms("OHH", positions=[[0, 0, 0], [3.0, 0, 0], [0, 3.0, 0]])  # symmetric dissociation
    bad.info["system_id"] = "broken"
    # precondition, checked independently: this SCF really does not converge
    from tensorml.data import finite_field as ff

    mol = ff.build_molecule(bad.get_chemical_symbols(), bad.positions, level)
    mf = ff.make_scf(mol, level)
    mf.kernel()
    assert not mf.converged

    out = tmp_path / "out.extxyz"
    summary = label_structures([good, bad, good.copy()], out, level, CHEAP, workers=1, progress=False)
    assert summary.labelled == 2
    assert [i for i, _ in summary.failed] == [1]
    assert "did not converge" in summary.failed[0][1]
    log = [json.loads(x) for x in failed_log_path(out).read_text().splitlines()]
    assert log[0]["frame_index"] == 1
    data = read_dataset(out)
    assert [a.info["frame_index"] for a in data] == [0, 2]  # nothing written for the bad frame
    # resuming does not retry the known failure
    again = label_structures([good, bad, good.copy()], out, level, CHEAP, workers=1, progress=False)
    assert again.labelled == 0 and again.failed == []


def test_odd_electron_frame_is_skipped(tmp_path):
    oh = Atoms("OH", positions=[[0, 0, 0], [0.97, 0, 0]])
    out = tmp_path / "out.extxyz"
    summary = label_structures(_waters(1) + [oh], out, FAST, CHEAP, workers=1, progress=False)
    assert summary.labelled == 1 and summary.failed[0][0] == 1
    assert "odd number of electrons" in summary.failed[0][1]


def test_parallel_run_with_field_frames(tmp_path):
    frames = _waters(3)
    out, fields = tmp_path / "out.extxyz", tmp_path / "fields.extxyz"
    summary = label_structures(
        frames, out, FAST, LabelRequest(field_frames=True), workers=2, field_output=fields, progress=False
    )
    assert summary.labelled == 3
    data = read_dataset(out)
    assert [a.info["frame_index"] for a in data] == [0, 1, 2]
    for a in data:
        assert a.arrays["apt"].shape == (3, 3, 3)
        assert a.info["polarizability"].shape == (3, 3)
        assert a.info["electron_pairs"].shape == (4, 3)
        assert a.arrays["forces"].shape == (3, 3)
        assert a.info["field_step_au"] == pytest.approx(1e-3)
    ff = read_dataset(fields)
    assert len(ff) == 18
    assert sorted({a.info["parent_frame_index"] for a in ff}) == [0, 1, 2]
    assert all(np.abs(a.info["efield"]).max() > 0 for a in ff)
    assert all("apt" not in a.arrays and "polarizability" not in a.info for a in ff)


def test_cli_label(tmp_path, capsys):
    from tensorml.cli import main

    src = tmp_path / "in.xyz"
    write(src, _waters(2), format="xyz")  # plain xyz: no labels, no ids
    out = tmp_path / "labelled.extxyz"
    rc = main(
        [
            "label",
            str(src),
            "-o",
            str(out),
            "--method",
            "HF",
            "--basis",
            "sto-3g",
            "--no-density-fit",
            "--properties",
            "energy,forces,dipole,polarizability,apt",
            "-j",
            "1",
            "--no-progress",
        ]
    )
    assert rc == 0
    assert "2 frame(s) labelled" in capsys.readouterr().out
    data = read_dataset(out)
    assert len(data) == 2 and data[0].arrays["apt"].shape == (3, 3, 3)
    assert data[0].info["system_id"] == "H2O"  # no identity key: the formula
    assert main(["label", str(src), "-o", str(out), "--properties", "energy,bogus"]) == 1


def test_cli_label_fails_when_every_frame_fails(tmp_path, capsys):
    from tensorml.cli import main

    src = tmp_path / "odd.extxyz"
    write(src, [Atoms("OH", positions=[[0, 0, 0], [0.97, 0, 0]])])  # odd electron count: cannot be labelled
    out = tmp_path / "labelled.extxyz"
    rc = main(["label", str(src), "-o", str(out), "--method", "HF", "--basis", "sto-3g", "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 1 and "0 frame(s) labelled" in captured.out and "1 failed now" in captured.out
    assert "no frame was labelled" in captured.err
