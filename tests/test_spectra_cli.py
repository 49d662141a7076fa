"""`tensorml spectrum` end to end on i-PI files (written by i-PI's own writers) and arrays.

A 2-bead path-integral trajectory of 3 harmonic atoms with a nonlinear dipole M = sum_i q_i u_i +
kappa |u_0|^2 e_z (exact APTs) is written as i-PI per-bead extras (dipole, BEC (3N, 3) in e*bohr / e)
and per-bead velocity xyz files (atomic units).  The dipole route (bead-averaged dipole) and the APT
route (TRPMD estimator: bead average of sum_i P_i v_i) must give the same spectrum.
"""

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tensorml.cli import main
from tensorml.spectra import analytic
from tensorml.spectra.spectrum import Spectrum
from tensorml.units import AU_TIME_FS, LENGTH_UNITS

BOHR = LENGTH_UNITS["bohr"]
P, NAT, NFR, DT = 2, 3, 6000, 0.5
Q = np.array([-0.6, 0.3, 0.3])
KAPPA = 3.0


def system(nfr=NFR):
    freqs = np.array([700.0, 1100.0, 1500.0, 1900.0, 2300.0, 2700.0, 3100.0, 3500.0, 900.0])
    freqs = np.concatenate([freqs, freqs + 37.0])  # bead 1 slightly off: beads differ
    u, v = analytic.harmonic_trajectory(freqs, np.repeat([16.0, 1.0, 1.0], 3).tolist() * P, 300.0, DT, nfr, 11)
    u, v = u.reshape(nfr, P, NAT, 3), v.reshape(nfr, P, NAT, 3)
    M = np.einsum("i,tbia->tba", Q, u)
    M[..., 2] += KAPPA * (u[:, :, 0] ** 2).sum(-1)
    apt = np.zeros((nfr, P, NAT, 3, 3))
    apt[:] = Q[:, None, None] * np.eye(3)
    apt[:, :, 0, 2, :] += 2 * KAPPA * u[:, :, 0, :]
    alpha = np.zeros((nfr, P, 3, 3))
    alpha[:] = 5.0 * np.eye(3)
    alpha += 0.3 * u[:, :, 1, 0, None, None] * np.eye(3) + 0.2 * u[:, :, 2, 1, None, None] * np.array(
        [[1, 0, 0], [0, -1, 0], [0, 0, 0]]
    )
    return M, apt, v, alpha


def write_ipi(d, stride=1, bec_stride=None, nfr=NFR):
    from ipi.engine.atoms import Atoms
    from ipi.engine.cell import Cell
    from ipi.engine.outputs import TrajectoryOutput
    from ipi.utils.io import print_file

    M, apt, v, alpha = system(nfr)
    bec = np.swapaxes(apt, -1, -2).reshape(nfr, P, 3 * NAT, 3)  # BEC[3i+a, b] = apt[i, b, a]
    for b in range(P):
        for name, key, data, st in [
            ("dipole", "dipole", M / BOHR, stride),
            ("BEC", "BEC", bec, bec_stride or stride),
            ("polarizability", "polarizability", alpha / BOHR**3, stride),
        ]:
            out = TrajectoryOutput("x", extra_type=key)
            s = io.StringIO()
            for t in range(0, nfr, st):
                out.system = SimpleNamespace(simul=SimpleNamespace(step=t - 1))
                out.write_traj({key: data[:, b][t : t + 1].tolist() * P}, "extras", s, b=0, flush=False)
            (d / f"w.{name}_{b}").write_text(s.getvalue())
        a = Atoms(NAT)
        a.names[:] = ["O", "H", "H"]
        c = Cell()
        c.h = np.eye(3) * 20.0
        s = io.StringIO()
        for t in range(0, nfr, stride):
            a.q[:] = (v[t, b] / (BOHR / AU_TIME_FS)).ravel()
            print_file(
                "xyz",
                a,
                c,
                s,
                title="Step:  %10d  Bead:   %5d " % (t, b),
                key="velocities",
                dimension="velocity",
                units="automatic",
                cell_units="automatic",
            )
        (d / f"w.vel_{b}.xyz").write_text(s.getvalue())
    (d / "input.xml").write_text(
        "<simulation><output prefix='w'/><system><initialize nbeads='2'/><ensemble><temperature units='kelvin'>"
        "300</temperature></ensemble><motion mode='dynamics'><dynamics mode='nvt'><timestep units='femtosecond'>"
        f"{DT}</timestep></dynamics></motion></system></simulation>"
    )
    return M, apt, v


def cli(*args):
    return main(["spectrum", *map(str, args)])


@pytest.fixture(scope="module")
def ipi_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ipi")
    write_ipi(d)
    return d


def test_ipi_dipole_and_apt_routes(ipi_dir, capsys):
    d = ipi_dir
    common = ["--ipi-input", d / "input.xml", "--unit", "km/mol", "--molecules", 1, "--corr-length", 600, "--blocks", 2]
    assert cli("ir", "--dipole", d / "w.dipole_{bead}", "-o", d / "dip.dat", *common) == 0
    assert (
        cli(
            "ir",
            "--apt",
            d / "w.BEC_{bead}",
            "--velocities",
            d / "w.vel_{bead}.xyz",
            "-o",
            d / "apt.dat",
            "--decompose",
            "element",
            "--auto-cross",
            "--freq-unit",
            "THz",
            *common,
        )
        == 0
    )
    capsys.readouterr()
    dip, apt = Spectrum.read(d / "dip.dat"), Spectrum.read(d / "apt.dat")
    np.testing.assert_allclose(apt.wavenumber, dip.wavenumber, rtol=1e-9)
    assert dip.meta["temperature"] == "300 K" and "trpmd" in dip.meta["beads"] and dip.meta["beads"].startswith("2")
    for lo, hi in [(600, 800), (1000, 1200), (1400, 1600), (3000, 3200), (3400, 3600)]:
        assert apt.integrate(lo, hi) == pytest.approx(dip.integrate(lo, hi), rel=0.01)
    assert np.all(np.isfinite(dip.errors["total"]))  # 2 blocks
    scale = apt.total.max()
    np.testing.assert_allclose(apt.columns["O"] + apt.columns["H"], apt.total, atol=1e-8 * scale)
    np.testing.assert_allclose(apt.columns["H_auto"] + apt.columns["H_cross"], apt.columns["H"], atol=1e-8 * scale)
    # the THz file carries densities per THz: read back, they are per cm^-1 again
    assert "km/mol/THz" in (d / "apt.dat").read_text().splitlines()[1]
    assert apt.unit == "km/mol/cm^-1"


def test_ipi_centroid_raman_vdos_and_plot(ipi_dir, capsys):
    d = ipi_dir
    ref = d / "ref.csv"
    ref.write_text(
        "wavenumber,absorbance\n" + "\n".join(f"{x},{np.exp(-(((x - 1500) / 50) ** 2))}" for x in range(0, 4000, 10))
    )
    assert (
        cli(
            "ir",
            "--apt",
            d / "w.BEC_{bead}",
            "--velocities",
            d / "w.vel_{bead}.xyz",
            "--ipi-input",
            d / "input.xml",
            "--estimator",
            "centroid",
            "--unit",
            "arb",
            "-o",
            d / "cen.dat",
            "--plot",
            d / "cen.png",
            "--compare",
            ref,
            "--xlim",
            0,
            4000,
            "--corr-length",
            500,
        )
        == 0
    )
    cen = Spectrum.read(d / "cen.dat")
    assert cen.total.max() == pytest.approx(1.0) and "centroid" in cen.meta["beads"]
    assert (d / "cen.png").stat().st_size > 10000
    assert (
        cli(
            "raman",
            "--polarizability",
            d / "w.polarizability_{bead}",
            "--ipi-input",
            d / "input.xml",
            "--laser",
            18797,
            "-o",
            d / "ram.dat",
            "--plot",
            d / "ram.png",
            "--corr-length",
            500,
        )
        == 0
    )
    ram = Spectrum.read(d / "ram.dat")
    assert list(ram.columns)[0] == "unpolarized" and ram.unit == "cm^2/sr/cm^-1"
    # isotropic band from atom 1 x (1900 / 1937 cm^-1 in the two beads), anisotropic from atom 2 y (3500 / 3537)
    iso, ani = np.argmin(abs(ram.wavenumber - 1918)), np.argmin(abs(ram.wavenumber - 3518))
    assert ram.columns["depolarization_ratio"][iso] < 0.01
    assert ram.columns["depolarization_ratio"][ani] == pytest.approx(0.75, abs=0.01)
    assert ram.integrate(1800, 2050, "isotropic") > 100 * abs(ram.integrate(1800, 2050, "anisotropic"))
    assert (
        cli(
            "vdos",
            "--velocities",
            d / "w.vel_{bead}.xyz",
            "--timestep",
            DT,
            "-o",
            d / "v.dat",
            "--decompose",
            "element",
            "--corr-length",
            500,
            "--max-freq",
            1e9,
        )
        == 0
    )
    vd = Spectrum.read(d / "v.dat")
    # centroid velocities of 3 atoms, no temperature given: 9 degrees of freedom at their kinetic temperature
    assert vd.integrate(0, np.inf) == pytest.approx(9.0, rel=1e-6)
    assert "kinetic temperature" in vd.meta["temperature"]
    np.testing.assert_allclose(vd.columns["O"] + vd.columns["H"], vd.total, atol=1e-10 * vd.total.max())
    out = capsys.readouterr().out
    assert out.count("wrote") >= 5


def test_ipi_errors(tmp_path, capsys):
    write_ipi(tmp_path, bec_stride=2, nfr=200)
    assert (
        cli(
            "ir",
            "--apt",
            tmp_path / "w.BEC_{bead}",
            "--velocities",
            tmp_path / "w.vel_{bead}.xyz",
            "--ipi-input",
            tmp_path / "input.xml",
            "-o",
            tmp_path / "x.dat",
        )
        == 1
    )
    assert "mismatched steps" in capsys.readouterr().err
    assert (
        cli(
            "ir",
            "--dipole",
            tmp_path / "w.dipole_{bead}",
            "--ipi-input",
            tmp_path / "input.xml",
            "--temperature",
            310,
            "-o",
            tmp_path / "x.dat",
        )
        == 1
    )
    assert "mismatched temperatures" in capsys.readouterr().err
    assert cli("ir", "--dipole", tmp_path / "w.dipole_{bead}", "-o", tmp_path / "x.dat") == 1
    assert "time step is unknown" in capsys.readouterr().err
    assert (
        cli(
            "ir",
            "--dipole",
            tmp_path / "w.dipole_{bead}",
            "--ipi-input",
            tmp_path / "input.xml",
            "--timestep",
            1.0,
            "-o",
            tmp_path / "x.dat",
        )
        == 1
    )
    assert "mismatched time steps" in capsys.readouterr().err


def test_arrays_cli(tmp_path, capsys):
    u, _ = analytic.harmonic_trajectory([1000.0, 1700.0, 2900.0], 1.0, 300.0, 1.0, 4000)
    np.savez(tmp_path / "m.npz", dipole=0.5 * u, dt_fs=1.0)
    assert (
        cli(
            "ir",
            "--dipole",
            tmp_path / "m.npz",
            "--temperature",
            300,
            "--unit",
            "km/mol",
            "--qcf",
            "standard",
            "--window",
            "gaussian",
            "--zero-pad",
            4,
            "--corr-length",
            800,
            "-o",
            tmp_path / "m.dat",
        )
        == 0
    )
    s = Spectrum.read(tmp_path / "m.dat")
    head = (tmp_path / "m.dat").read_text()
    assert "qcf: standard" in head and "window: gaussian" in head and "x4" in head
    for nu in (1000.0, 1700.0, 2900.0):
        assert s.peak(nu - 100, nu + 100) == pytest.approx(nu, abs=1.0)
    # a user time step that contradicts the file's dt_fs
    assert (
        cli(
            "ir",
            "--dipole",
            tmp_path / "m.npz",
            "--temperature",
            300,
            "--unit",
            "km/mol",
            "--timestep",
            2,
            "-o",
            tmp_path / "x.dat",
        )
        == 1
    )
    assert "mismatched time steps" in capsys.readouterr().err
    # no volume -> cm^-1 impossible
    assert (
        cli("ir", "--dipole", tmp_path / "m.npz", "--temperature", 300, "--unit", "cm-1", "-o", tmp_path / "x.dat") == 1
    )
    assert "volume" in capsys.readouterr().err


# ----------------------------------------------------------------------------- LAMMPS type map from the log
SPCFW_LOG = Path(__file__).resolve().parents[1] / "examples" / "lammps" / "in.water_spcfw"

LOG_HEAD = """LAMMPS (22 Jul 2025 - Update 4)
units           real
atom_style      full
"""
LOG_TAIL = """timestep        0.5                     # fs
run             100
"""


def _pair_lines_of_spcfw() -> str:
    """The pair_style/pair_coeff lines of examples/lammps/in.water_spcfw, echoed as LAMMPS logs them."""
    lines = []
    for line in SPCFW_LOG.read_text().splitlines():
        if line.startswith(("pair_style", "pair_coeff")):
            lines.append(line)
            if "${model}" in line:  # LAMMPS echoes a line with variables again after substitution
                lines.append(line.replace("${model}", "/models/water/model.pt"))
    assert any("hybrid/overlay" in ln for ln in lines) and any("tensorml O H" in ln for ln in lines)
    return "\n".join(lines) + "\n"


def write_water_dump(path, nfr=300, dt_steps=2):
    """A LAMMPS 'dump custom ... id type vx vy vz' of 2 harmonic water molecules (types 1 = O, 2 = H), real units."""
    freqs = np.linspace(400.0, 3800.0, 18)
    masses = np.repeat(np.tile([16.0, 1.0, 1.0], 2), 3)
    _, v = analytic.harmonic_trajectory(freqs, masses, 300.0, 0.5 * dt_steps, nfr, 5)
    v = v.reshape(nfr, 6, 3)
    types = [1, 2, 2, 1, 2, 2]
    out = []
    for t in range(nfr):
        out += ["ITEM: TIMESTEP", str(t * dt_steps), "ITEM: NUMBER OF ATOMS", "6"]
        out += ["ITEM: BOX BOUNDS pp pp pp", "0 20", "0 20", "0 20", "ITEM: ATOMS id type vx vy vz"]
        out += [f"{i + 1} {types[i]} {v[t, i, 0]:.10g} {v[t, i, 1]:.10g} {v[t, i, 2]:.10g}" for i in range(6)]
    Path(path).write_text("\n".join(out) + "\n")


@pytest.mark.parametrize(
    "pair_lines",
    [
        "pair_style      tensorml ${model}\npair_style      tensorml model.pt\n"
        "pair_coeff      * * O H                 # LAMMPS type 1 = O, type 2 = H\n",
        "pair_style      hybrid/overlay lj/cut 3.0 tensorml model.pt properties_only yes\n"
        "pair_coeff      * * lj/cut 0.01 0.8\npair_coeff      * * tensorml O H\n",
        "spcfw",
    ],
    ids=["plain", "hybrid-overlay", "in.water_spcfw"],
)
def test_vdos_type_map_from_the_lammps_log(tmp_path, capsys, pair_lines):
    """`tensorml spectrum vdos --velocities DUMP --lammps-log LOG` without --type-map: the elements of the
    tensorml pair_coeff line, and the output says so."""
    from tensorml.spectra.readers.lammps import read_log

    if pair_lines == "spcfw":
        pair_lines = _pair_lines_of_spcfw()
    (tmp_path / "log.lammps").write_text(LOG_HEAD + pair_lines + LOG_TAIL)
    write_water_dump(tmp_path / "v.dump")
    common = ["--velocities", tmp_path / "v.dump", "--lammps-log", tmp_path / "log.lammps", "--corr-length", 100]
    assert cli("vdos", *common, "--decompose", "element", "-o", tmp_path / "v.dat") == 0
    io_ = capsys.readouterr()
    assert "type map" in io_.out and "1=O,2=H" in io_.out and "log.lammps" in io_.out, io_.out
    vd = Spectrum.read(tmp_path / "v.dat")
    assert set(vd.columns) == {"total", "O", "H"}
    assert "pair_coeff" in vd.meta["type map"] and "log.lammps" in vd.meta["type map"]
    # the same spectrum as with the map given by hand
    assert cli("vdos", *common, "--decompose", "element", "--type-map", "1=O,2=H", "-o", tmp_path / "w.dat") == 0
    np.testing.assert_allclose(Spectrum.read(tmp_path / "w.dat").columns["O"], vd.columns["O"], rtol=1e-12)
    assert "warning" not in capsys.readouterr().err
    assert read_log(tmp_path / "log.lammps").type_map == {"1": "O", "2": "H"}


def test_lammps_log_type_map_forms(tmp_path):
    """Which pair_coeff lines give the type map: only those of pair_style tensorml (plain or hybrid substyle);
    NULL types are left out; lines with unsubstituted variables are skipped; conflicting maps are an error."""
    from tensorml.spectra.readers.lammps import read_log

    def parse(text):
        (tmp_path / "log").write_text(LOG_HEAD + text)
        return read_log(tmp_path / "log")

    assert parse("pair_style lj/cut 2.5\npair_coeff * * 0.01 0.8\n").type_map is None
    assert parse("pair_style tensorml m.pt\npair_coeff * * O NULL H\n").type_map == {"1": "O", "3": "H"}
    assert parse(
        "pair_style hybrid lj/cut 2.5 tensorml m.pt\npair_coeff * * tensorml ${a} H\n"
        "pair_coeff * * tensorml C H\npair_coeff 1 1 lj/cut 0.1 1.0\n"
    ).type_map == {"1": "C", "2": "H"}
    assert parse(
        "pair_style hybrid/scaled 0.5 tensorml m.pt 0.5 lj/cut 2.5\npair_coeff * * lj/cut 0.1 1.0\n"
        "pair_coeff * * tensorml O H\n"
    ).type_map == {"1": "O", "2": "H"}
    log = parse("pair_style tensorml m.pt\npair_coeff * * O H\nclear\npair_style tensorml m.pt\npair_coeff * * H O\n")
    with pytest.raises(ValueError, match="type maps"):
        _ = log.type_map


def test_vdos_type_map_missing_or_contradicted(tmp_path, capsys):
    write_water_dump(tmp_path / "v.dump")
    (tmp_path / "log.lammps").write_text(LOG_HEAD + "pair_style lj/cut 2.5\npair_coeff * * 0.01 0.8\n" + LOG_TAIL)
    common = ["--velocities", tmp_path / "v.dump", "--lammps-log", tmp_path / "log.lammps", "--corr-length", 100]
    assert cli("vdos", *common, "-o", tmp_path / "v.dat") == 1
    err = capsys.readouterr().err
    assert "--type-map" in err and "pair_coeff" in err and "log.lammps" in err, err
    # an explicit map that disagrees with the log: the explicit one is used, with a warning
    (tmp_path / "log.lammps").write_text(LOG_HEAD + "pair_style tensorml m.pt\npair_coeff * * O H\n" + LOG_TAIL)
    assert cli("vdos", *common, "--decompose", "element", "--type-map", "1=N,2=H", "-o", tmp_path / "v.dat") == 0
    io_ = capsys.readouterr()
    assert "warning" in io_.err and "1=N,2=H" in io_.err and "1=O,2=H" in io_.err, io_.err
    assert set(Spectrum.read(tmp_path / "v.dat").columns) == {"total", "N", "H"}


# ----------------------------------------------------------------------------- trajectories too short for a spectrum
def _short_warning(err: str) -> str:
    lines = [ln for ln in err.splitlines() if "too short" in ln and "warning" in ln]
    return lines[0] if lines else ""


def test_short_trajectories_warn_and_single_frames_fail(tmp_path, capsys):
    """A smoke-test-length run (21 frames, as the i-PI example writes) still gives a spectrum, with a warning
    naming the frames, the time step and the resolution; a run long enough gives none; 1 frame is an error."""
    from tensorml.spectra.blocks import default_max_lag
    from tensorml.spectra.windows import resolution_cm1

    nfr = 21
    write_ipi(tmp_path, nfr=nfr)
    ipi = ["--ipi-input", tmp_path / "input.xml"]
    runs = {
        "ir-dipole": ["ir", "--dipole", tmp_path / "w.dipole_{bead}", *ipi, "--unit", "km/mol"],
        "ir-apt": ["ir", "--apt", tmp_path / "w.BEC_{bead}", "--velocities", tmp_path / "w.vel_{bead}.xyz", *ipi],
        "ir-arb-1-point": ["ir", "--dipole", tmp_path / "w.dipole_{bead}", *ipi, "--unit", "arb", "--max-freq", 3000],
        "raman": ["raman", "--polarizability", tmp_path / "w.polarizability_{bead}", *ipi],
        "vdos": ["vdos", "--velocities", tmp_path / "w.vel_{bead}.xyz", *ipi],
    }
    lag = default_max_lag(nfr, DT, None)
    resolution = f"{resolution_cm1('hann', lag, DT):.3g} cm^-1"
    for name, args in runs.items():
        assert cli(*args, "-o", tmp_path / f"{name}.dat") == 0, name
        warning = _short_warning(capsys.readouterr().err)
        assert f"{nfr} frames" in warning and f"every {DT:g} fs" in warning and resolution in warning, (name, warning)
        points = len(Spectrum.read(tmp_path / f"{name}.dat").wavenumber)
        assert f"{points} frequency point" in warning, (name, warning)
    # positions differentiated: two frames fewer
    x = np.random.default_rng(0).normal(size=(nfr, 3, 3))
    np.savez(tmp_path / "x.npz", positions=x, dt_fs=DT, symbols=np.array(["O", "H", "H"]))
    assert cli("vdos", "--positions", tmp_path / "x.npz", "-o", tmp_path / "x.dat") == 0
    assert f"{nfr - 2} frames" in _short_warning(capsys.readouterr().err)
    # long enough: no warning
    u, _ = analytic.harmonic_trajectory([1000.0, 1700.0, 2900.0], 1.0, 300.0, 1.0, 4000)
    np.savez(tmp_path / "long.npz", dipole=0.5 * u, dt_fs=1.0)
    assert cli("ir", "--dipole", tmp_path / "long.npz", "--temperature", 300, "-o", tmp_path / "long.dat") == 0
    assert not _short_warning(capsys.readouterr().err)
    # a single frame (or a series too short to correlate at all): an error, exit 1, naming the frames
    np.savez(tmp_path / "one.npz", dipole=u[:1], dt_fs=1.0)
    np.savez(tmp_path / "three.npz", positions=x[:3], dt_fs=1.0, symbols=np.array(["O", "H", "H"]))
    for args, frames in [
        (["ir", "--dipole", tmp_path / "one.npz", "--temperature", 300], "1 frame"),
        (["vdos", "--positions", tmp_path / "three.npz"], "1 frame"),
    ]:
        assert cli(*args, "-o", tmp_path / "bad.dat") == 1
        err = capsys.readouterr().err
        assert "error" in err and frames in err, err


@pytest.mark.lammps
def test_spcfw_example_vdos_reads_the_type_map_from_its_log(tmp_path, capsys):
    """The README case: `tensorml spectrum vdos --velocities apt_spcfw.dump --lammps-log log.lammps` after a
    (short) run of examples/lammps/in.water_spcfw, no --type-map: the elements come from its log, and the
    smoke-test length is warned about."""
    import os
    import shutil
    import subprocess

    from engines import BIN, tool

    work = tmp_path / "lammps"
    shutil.copytree(SPCFW_LOG.parent, work)
    model = SPCFW_LOG.parents[2] / "models" / "water" / "model.pt"
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}", OMP_NUM_THREADS="1")
    cmd = [tool("lmp"), "-in", "in.water_spcfw", "-var", "nsteps", "20", "-var", "model", str(model)]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = work / "vdos.dat"
    assert cli("vdos", "--velocities", work / "apt_spcfw.dump", "--lammps-log", work / "log.lammps", "-o", out) == 0
    io_ = capsys.readouterr()
    assert "type map: 1=O,2=H (from" in io_.out and "pair_coeff * * tensorml O H" in io_.out, io_.out
    from tensorml.spectra.readers.lammps import iter_dump

    n_frames = sum(1 for _ in iter_dump(work / "apt_spcfw.dump"))
    assert f"{n_frames} frames every" in _short_warning(io_.err), io_.err
    assert "pair_coeff * * tensorml O H" in Spectrum.read(out).meta["type map"]
