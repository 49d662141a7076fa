"""Readers: round trips on small files in the exact formats LAMMPS and i-PI write, arrays, bad inputs.

i-PI files are written with i-PI's own writers (TrajectoryOutput.write_traj, utils.io.print_file).
"""

import io
from types import SimpleNamespace

import numpy as np
import pytest

from tensorml.spectra import assemble, peratom, reducers
from tensorml.spectra.readers import arrays, check_steps, expand_beads, ipi, lammps
from tensorml.units import AU_TIME_FS, LENGTH_UNITS

BOHR = LENGTH_UNITS["bohr"]

# ----------------------------------------------------------------------------- LAMMPS

AVE = """# Time-averaged data for fix props
# TimeStep c_p[1] c_p[2] c_p[3] c_p[4] c_p[5] c_p[6] c_p[7] c_p[8] c_p[9] c_p[10] c_p[11] c_p[12]
"""


def write_ave(path, steps, data):
    rows = [" ".join([str(s)] + [f"{x:.12g}" for x in row]) for s, row in zip(steps, data)]
    path.write_text(AVE + "\n".join(rows) + "\n")


def test_ave_time_scalar(tmp_path):
    data = np.random.default_rng(0).normal(size=(20, 12))
    write_ave(tmp_path / "p.dat", np.arange(0, 40, 2), data)
    ave = lammps.read_ave_time(tmp_path / "p.dat")
    assert ave.names[0] == "c_p[1]" and len(ave.names) == 12
    np.testing.assert_array_equal(ave.steps, np.arange(0, 40, 2))
    np.testing.assert_allclose(ave.data, data, rtol=1e-11)
    cols = lammps.resolve_columns(ave.names, "dipole", "global")
    assert cols == ["c_p[1]", "c_p[2]", "c_p[3]"]
    assert lammps.resolve_columns(ave.names, "polarizability", "global")[-1] == "c_p[12]"
    assert lammps.resolve_columns(ave.names, "dipole", "global", "c_p[4:6]") == ["c_p[4]", "c_p[5]", "c_p[6]"]
    assert lammps.resolve_columns(ave.names, "dipole", "global", "7:9") == ["c_p[7]", "c_p[8]", "c_p[9]"]
    with pytest.raises(ValueError, match="dmdt"):
        lammps.resolve_columns(ave.names, "dmdt", "global")  # the layout has no dM/dt columns yet
    with pytest.raises(ValueError, match="not in the file"):
        lammps.resolve_columns(ave.names, "dipole", "global", "c_q[1:3]")


def test_ave_time_vector_mode_and_restart_overlap(tmp_path):
    text = (
        "# Time-averaged data for fix avv\n# TimeStep Number-of-rows\n# Row c_c\n"
        "0 3\n1 3.75\n2 3.5\n3 1\n2 3\n1 4\n2 5\n3 6\n2 3\n1 4\n2 5\n3 6\n4 3\n1 7\n2 8\n3 9\n"
    )
    (tmp_path / "v.dat").write_text(text)
    ave = lammps.read_ave_time(tmp_path / "v.dat")
    assert ave.names == ["c_c[1]", "c_c[2]", "c_c[3]"]
    np.testing.assert_array_equal(ave.steps, [0, 2, 4])  # the repeated step 2 (identical) is dropped
    np.testing.assert_allclose(ave.data[1], [4, 5, 6])
    assert ave.dropped == 1
    (tmp_path / "w.dat").write_text(text.replace("2 3\n1 4\n2 5\n3 6\n4 3", "2 3\n1 4\n2 5\n3 7\n4 3"))
    with pytest.raises(ValueError, match="appears twice with different data"):
        lammps.read_ave_time(tmp_path / "w.dat")


def test_ave_time_bad(tmp_path):
    (tmp_path / "t.dat").write_text(AVE + "0 " + "1 " * 12 + "\n1 1 2\n")
    with pytest.raises(ValueError, match="truncated"):
        lammps.read_ave_time(tmp_path / "t.dat")
    (tmp_path / "n.dat").write_text("0 1 2 3\n")
    with pytest.raises(ValueError, match="TimeStep"):
        lammps.read_ave_time(tmp_path / "n.dat")


LOG = """LAMMPS (22 Jul 2025 - Update 4)
units           real
Reading data file ...
  orthogonal box = (0 0 0) to (9.3 9.3 10)
variable        dt index 0.5
timestep        ${dt}
timestep        0.5
compute tensorml/props props columns:
  global vector: [1] polarizability_xx [2] polarizability_xy [3] polarizability_xz [4] polarizability_yx [5] polarizability_yy [6] polarizability_yz [7] polarizability_zx [8] polarizability_zy [9] polarizability_zz [10] dipole_x [11] dipole_y [12] dipole_z [13] dmdt_x (group) [14] dmdt_y (group) [15] dmdt_z (group)
  per-atom array: [1] charges [2] apt_xx [3] apt_xy [4] apt_xz [5] apt_yx [6] apt_yy [7] apt_yz [8] apt_zx [9] apt_zy [10] apt_zz [11] apt_velocity_x [12] apt_velocity_y [13] apt_velocity_z
"""


def test_log_layout_overrides_default(tmp_path):
    (tmp_path / "log.lammps").write_text(LOG)
    log = lammps.read_log(tmp_path / "log.lammps")
    assert log.units == "real" and log.timestep == 0.5 and log.volume == pytest.approx(9.3 * 9.3 * 10)
    names = [f"c_props[{k}]" for k in range(1, 16)]
    assert lammps.resolve_columns(names, "dipole", "global", log=log) == ["c_props[10]", "c_props[11]", "c_props[12]"]
    assert lammps.resolve_columns(names, "dmdt", "global", log=log)[0] == "c_props[13]"
    atom_names = ["id", "type", "vx", "vy", "vz"] + [f"c_props[{k}]" for k in range(1, 14)]
    assert lammps.resolve_columns(atom_names, "apt", "peratom", log=log)[0] == "c_props[2]"
    assert lammps.resolve_columns(atom_names, "apt_velocity", "peratom", log=log) == [
        "c_props[11]",
        "c_props[12]",
        "c_props[13]",
    ]
    # without the log: the documented default layout (apt = [1-9])
    assert lammps.resolve_columns(atom_names, "apt", "peratom")[0] == "c_props[1]"
    with pytest.raises(ValueError, match="computes"):
        lammps.resolve_columns(names + ["c_q[1]"], "dipole", "global")


DUMP = """ITEM: UNITS
metal
ITEM: TIME
{time}
ITEM: TIMESTEP
{step}
ITEM: NUMBER OF ATOMS
3
ITEM: BOX BOUNDS xy xz yz pp pp pp
0.0 10.5 1.0
0.0 10.0 0.5
0.0 10.0 0.0
ITEM: ATOMS id type element vx vy vz c_p[1] c_p[2] c_p[3] c_p[4] c_p[5] c_p[6] c_p[7] c_p[8] c_p[9]
"""


def test_dump_custom(tmp_path):
    rng = np.random.default_rng(1)
    text, frames = "", []
    for k in range(4):
        vals = rng.normal(size=(3, 12))
        frames.append(vals)
        text += DUMP.format(time=k * 0.002, step=4 * k)
        for i in [2, 0, 1]:  # unsorted ids
            text += f"{i + 1} {1 + (i > 0)} {'O' if i == 0 else 'H'} " + " ".join(f"{x:.12g}" for x in vals[i]) + "\n"
    (tmp_path / "d.dump").write_text(text)
    out = list(lammps.iter_dump(tmp_path / "d.dump"))
    assert [f.step for f in out] == [0, 4, 8, 12]
    f = out[2]
    assert f.units == "metal" and f.time == pytest.approx(0.004)
    np.testing.assert_allclose(f.columns(["vx", "vy", "vz"]), frames[2][:, :3], rtol=1e-11)
    np.testing.assert_allclose(f.columns([f"c_p[{k}]" for k in range(1, 10)]), frames[2][:, 3:], rtol=1e-11)
    assert list(f.strings["element"]) == ["O", "H", "H"]
    # restricted triclinic: the bounds include the tilts, lx = 10.5 - max(0, xy, xz, xy + xz) = 9,
    # ly = 10 - max(0, yz) = 10, lz = 10: volume 900
    assert f.volume == pytest.approx(900.0)
    (tmp_path / "t.dump").write_text(text[: text.rfind("\n", 0, -2)] + "\n")
    with pytest.raises(ValueError, match="truncated"):
        list(lammps.iter_dump(tmp_path / "t.dump"))


def test_dump_through_assemble(tmp_path):
    """Units from ITEM: UNITS (metal: angstrom/ps), time step from ITEM: TIME, elements from the column."""
    rng = np.random.default_rng(2)
    text = ""
    apt = rng.normal(size=(10, 3, 3, 3))
    v = rng.normal(size=(10, 3, 3))
    for k in range(10):
        text += DUMP.format(time=k * 0.002, step=4 * k)
        for i in range(3):
            text += (
                f"{i + 1} {1 + (i > 0)} {'OHH'[i]} "
                + " ".join(f"{x:.15g}" for x in np.concatenate([v[k, i] * 1000, apt[k, i].ravel()]))
                + "\n"
            )
    (tmp_path / "d.dump").write_text(text)
    ctx = assemble.Context(assemble.InputOptions())
    names: dict = {}
    run = peratom.load_atoms(
        str(tmp_path / "d.dump"), None, ctx, reducers.apt_reducer_factory(ctx, "element", names_out=names)
    )
    assert names["parts"] == ["O", "H"]
    assert run.dt_fs == pytest.approx(4 * 0.5)  # 0.002 ps per 4 steps
    expected = np.einsum("tiab,tib->tia", apt, v)
    np.testing.assert_allclose(run.data["series"][:, 0], expected[:, 0], rtol=1e-12)
    np.testing.assert_allclose(run.data["series"][:, 1], expected[:, 1:].sum(axis=1), rtol=1e-12)
    assert ctx.volume() == pytest.approx(900.0)
    # a user time step that contradicts ITEM: TIME
    ctx2 = assemble.Context(assemble.InputOptions(timestep_fs=1.0))
    with pytest.raises(ValueError, match="mismatched time steps"):
        peratom.load_atoms(str(tmp_path / "d.dump"), None, ctx2, reducers.apt_reducer_factory(ctx2))


# ----------------------------------------------------------------------------- i-PI
def ipi_write_extras(path, blocks, extra_type, key="extras", bead=0):
    """Write extras blocks [(step, data dict)] with i-PI's TrajectoryOutput.write_traj."""
    from ipi.engine.outputs import TrajectoryOutput

    out = TrajectoryOutput("x", extra_type=extra_type)
    s = io.StringIO()
    for step, data in blocks:
        out.system = SimpleNamespace(simul=SimpleNamespace(step=step - 1))
        out.write_traj(data, key, s, b=bead, flush=False)
    path.write_text(s.getvalue())


def ipi_write_xyz(path, names, frames, steps, what, units="automatic", cell=10.0, bead=0):
    from ipi.engine.atoms import Atoms
    from ipi.engine.cell import Cell
    from ipi.utils.io import print_file

    s = io.StringIO()
    for step, x in zip(steps, frames):
        a = Atoms(len(names))
        a.names[:] = names
        a.q[:] = np.asarray(x).ravel()
        c = Cell()
        c.h = np.eye(3) * cell
        print_file(
            "xyz",
            a,
            c,
            s,
            title="Step:  %10d  Bead:   %5d " % (step, bead),
            key=what,
            dimension="velocity" if what.startswith("v") else "length",
            units=units,
            cell_units="automatic",
        )
    path.write_text(s.getvalue())


def test_ipi_extras_raw_numeric_and_component(tmp_path):
    rng = np.random.default_rng(3)
    P, N = 2, 2
    dip = rng.normal(size=(5, P, 3))
    bec = rng.normal(size=(5, P, 3 * N, 3))
    pol = rng.normal(size=(5, P, 3, 3))
    raw = [
        (
            s,
            {
                "dipole": dip[s].tolist(),
                "BEC": bec[s].tolist(),
                "polarizability": pol[s].tolist(),
                "raw": ['{"dipole": 0}'] * P,
            },
        )
        for s in range(5)
    ]
    ipi_write_extras(tmp_path / "x.extras_0", raw, "raw")
    for key, ref in [("dipole", dip), ("BEC", bec), ("polarizability", pol)]:
        ex = ipi.read_extras(tmp_path / "x.extras_0", key)
        assert ex.all_beads and ex.extra_type == "raw"
        np.testing.assert_array_equal(ex.steps, np.arange(5))
        np.testing.assert_allclose(ex.values, ref)
    # one field per file, per bead (extra_type="BEC"): bead 1's (3N, 3) block
    ipi_write_extras(tmp_path / "x.BEC_1", [(s, {"BEC": bec[s]}) for s in range(5)], "BEC", bead=1)
    ex = ipi.read_extras(tmp_path / "x.BEC_1", "BEC")
    assert not ex.all_beads
    np.testing.assert_allclose(ex.values, bec[:, 1], rtol=1e-8)
    ipi_write_extras(tmp_path / "x.pol_0", [(s, {"polarizability": pol[s]}) for s in range(5)], "polarizability")
    np.testing.assert_allclose(ipi.read_extras(tmp_path / "x.pol_0", "polarizability").values, pol[:, 0], rtol=1e-8)
    # extras_component_raw: one file, every block holds all beads
    ipi_write_extras(
        tmp_path / "x.comp", [(s, {"dipole": dip[s]}) for s in range(5)], "dipole", key="extras_component_raw"
    )
    ex = ipi.read_extras(tmp_path / "x.comp", "dipole")
    assert ex.all_beads
    np.testing.assert_allclose(ex.values, dip, rtol=1e-8)
    # one block per bead under the same step (Bead: 0, 1)
    text = "".join(
        f" #EXTRAS_COMPONENT_RAW(BEC)# Step:  {s:10d}  Bead:  {b:5d}  \n"
        + "\n".join(" ".join(f"{x:16.8e}" for x in row) for row in bec[s, b])
        + "\n"
        for s in range(5)
        for b in range(P)
    )
    (tmp_path / "x.comp_beads").write_text(text)
    ex = ipi.read_extras(tmp_path / "x.comp_beads", "BEC")
    assert ex.all_beads and ex.values.shape == (5, P, 3 * N, 3)
    np.testing.assert_allclose(ex.values, bec, rtol=1e-7)
    with pytest.raises(ValueError, match="not 'dipole'"):
        ipi.read_extras(tmp_path / "x.BEC_1", "dipole")
    with pytest.raises(ValueError, match="no 'charges'"):
        ipi.read_extras(tmp_path / "x.extras_0", "charges")


def test_ipi_xyz_and_input(tmp_path):
    rng = np.random.default_rng(4)
    v = rng.normal(size=(4, 2, 3)) * 1e-3
    ipi_write_xyz(tmp_path / "x.vel_0.xyz", ["O", "H"], v, [1, 3, 5, 7], "velocities")
    tr = ipi.read_xyz(tmp_path / "x.vel_0.xyz")
    assert tr.what == "velocities" and tr.unit == "atomic_unit" and tr.names == ["O", "H"]
    np.testing.assert_array_equal(tr.steps, [1, 3, 5, 7])
    np.testing.assert_allclose(tr.converted(), v * BOHR / AU_TIME_FS, rtol=1e-5)  # %12.5e precision
    assert tr.volumes() == pytest.approx(np.full(4, (10 * BOHR) ** 3))
    assert BOHR / AU_TIME_FS == pytest.approx(21.876912, rel=1e-6)  # 1 a.u. of velocity in angstrom/fs
    ipi_write_xyz(tmp_path / "x.pos_0.xyz", ["O", "H"], v, [1, 3, 5, 7], "positions", units="angstrom")
    # (i-PI converts its internal bohr to the requested angstrom when writing)
    np.testing.assert_allclose(ipi.read_xyz(tmp_path / "x.pos_0.xyz").converted(), v * BOHR, rtol=1e-5)
    (tmp_path / "input.xml").write_text(
        "<simulation><output prefix='sim'><trajectory filename='dip' stride='2' extra_type='dipole'> extras "
        "</trajectory></output><system><initialize nbeads='4'/><ensemble><temperature units='kelvin'>300"
        "</temperature></ensemble><motion mode='dynamics'><dynamics mode='nvt'><timestep units='femtosecond'>"
        "0.25</timestep></dynamics></motion></system></simulation>"
    )
    inp = ipi.read_input(tmp_path / "input.xml")
    assert inp.timestep_fs == 0.25 and inp.temperature == 300.0 and inp.nbeads == 4 and inp.prefix == "sim"
    assert inp.trajectories[0]["stride"] == 2 and inp.trajectories[0]["extra_type"] == "dipole"
    assert ipi.unit_factor("time", "atomic_unit") == AU_TIME_FS
    assert ipi.unit_factor("time", "picosecond") == pytest.approx(1000.0)
    assert ipi.unit_factor("length", "nanometer") == pytest.approx(10.0)
    with pytest.raises(ValueError, match="unknown i-PI"):
        ipi.unit_factor("time", "fortnight")


# ----------------------------------------------------------------------------- arrays and checks
def test_arrays(tmp_path):
    x = np.random.default_rng(5).normal(size=(30, 3))
    np.save(tmp_path / "a.npy", x)
    np.testing.assert_array_equal(arrays.read_array(tmp_path / "a.npy").values, x)
    np.savez(tmp_path / "a.npz", dipole=x, dt_fs=0.5, units="internal")
    a = arrays.read_array(tmp_path / "a.npz", "dipole")
    assert a.dt_fs == 0.5 and a.unit == "internal"
    with pytest.raises(ValueError, match="no array 'dmdt'"):
        arrays.read_array(tmp_path / "a.npz", "dmdt")
    t = np.arange(30) * 0.002
    np.savetxt(tmp_path / "a.csv", np.column_stack([t, x]), delimiter=",", header="time_ps,mu_x,mu_y,mu_z")
    a = arrays.read_array(tmp_path / "a.csv")
    assert a.dt_fs == pytest.approx(2.0)
    np.testing.assert_allclose(a.values, x)
    t[10:] += 0.002
    np.savetxt(tmp_path / "g.csv", np.column_stack([t, x]), delimiter=",", header="time_ps,mu_x,mu_y,mu_z")
    with pytest.raises(ValueError, match="gap or uneven"):
        arrays.read_array(tmp_path / "g.csv")


def test_step_checks_and_beads(tmp_path):
    assert check_steps([0, 5, 10, 15], "x") == 5
    with pytest.raises(ValueError, match="gap or uneven"):
        check_steps([0, 5, 10, 20, 25], "x")
    with pytest.raises(ValueError, match="do not increase"):
        check_steps([0, 5, 5, 10], "x")
    for b in (0, 1, 2, 10):
        (tmp_path / f"p.dat.{b}").write_text("")
    with pytest.raises(ValueError, match="not contiguous"):
        expand_beads(str(tmp_path / "p.dat.{bead}"))
    (tmp_path / "p.dat.10").unlink()
    assert [f[-1] for f in expand_beads(str(tmp_path / "p.dat.{bead}"))] == ["0", "1", "2"]
    with pytest.raises(FileNotFoundError):
        expand_beads(str(tmp_path / "q_{bead}"))


def test_global_series_beads_and_consistency(tmp_path):
    """Per-bead fix ave/time files (multi-partition PIMD) are bead-averaged; mismatched strides are errors."""
    rng = np.random.default_rng(6)
    data = rng.normal(size=(2, 40, 12))
    for b in range(2):
        write_ave(tmp_path / f"props.dat.{b}", np.arange(40) * 2, data[b])
    ctx = assemble.Context(assemble.InputOptions(lammps_units="real", timestep_fs=0.5))
    s = assemble.load_global(str(tmp_path / "props.dat.{bead}"), "dipole", ctx)
    np.testing.assert_allclose(s.values, data[:, :, :3].mean(axis=0), atol=1e-11)
    assert s.dt_fs == 1.0 and "beads" in ctx.notes
    write_ave(tmp_path / "other.dat", np.arange(40) * 3, data[0])
    with pytest.raises(ValueError, match="mismatched time steps"):
        assemble.load_global(str(tmp_path / "other.dat"), "dipole", ctx)
    write_ave(tmp_path / "props.dat.1", np.arange(40) * 2 + 2, data[1])
    with pytest.raises(ValueError, match="different step numbers"):
        assemble.load_global(
            str(tmp_path / "props.dat.{bead}"),
            "dipole",
            assemble.Context(assemble.InputOptions(lammps_units="real", timestep_fs=0.5)),
        )


def test_spectrum_file_round_trip(tmp_path):
    """Data files in cm^-1, THz and meV read back identically; densities are rescaled, ratios are not."""
    from tensorml.spectra.spectrum import Spectrum
    from tensorml.units import CM1_TO_THZ

    wn = np.linspace(0, 4000, 41)
    s = Spectrum(
        "raman",
        wn,
        {"unpolarized": wn**2, "depolarization_ratio": np.full(41, 0.5)},
        {"unpolarized": wn, "depolarization_ratio": np.full(41, 0.01)},
        "angstrom^6/cm^-1",
        density=True,
        meta={"qcf": "harmonic: Q(x) = x/(1-exp(-x))"},
        ratios=("depolarization_ratio",),
    )
    for unit in ("cm-1", "THz", "meV"):
        s.write(tmp_path / f"s_{unit}.dat", unit)
        r = Spectrum.read(tmp_path / f"s_{unit}.dat")
        np.testing.assert_allclose(r.wavenumber, wn, atol=1e-6)
        np.testing.assert_allclose(r.columns["unpolarized"], wn**2, rtol=1e-9)
        np.testing.assert_allclose(r.columns["depolarization_ratio"], 0.5)
        np.testing.assert_allclose(r.errors["unpolarized"], wn, rtol=1e-9)
        assert r.unit == "angstrom^6/cm^-1" and r.meta["qcf"].startswith("harmonic") and r.kind == "raman"
    raw = np.loadtxt(tmp_path / "s_THz.dat")
    np.testing.assert_allclose(raw[:, 0], wn * CM1_TO_THZ)
    np.testing.assert_allclose(raw[1:, 1], wn[1:] ** 2 / CM1_TO_THZ)  # per THz
    assert "intensity unit: angstrom^6/THz" in (tmp_path / "s_THz.dat").read_text()
    (tmp_path / "bad.dat").write_text("# hello\n1 2\n")
    with pytest.raises(ValueError, match="not a tensorml spectrum"):
        Spectrum.read(tmp_path / "bad.dat")
