"""Velocities from positions (central differences) for the APT route of the IR spectrum and the VDOS.

Analytic: for r = A cos(w t + phi) the central difference [r(t+dt) - r(t-dt)]/(2 dt) is exactly
v(t) sin(w dt)/(w dt).  End to end, a LAMMPS dump with only xu yu zu and i-PI position trajectories
(per bead, written by i-PI's own writer) give the spectra of the same runs read with velocities,
band by band times sinc^2 (and the header says how the velocities were made).
"""

import io
from types import SimpleNamespace

import numpy as np
import pytest

from tensorml.cli import main
from tensorml.spectra import analytic
from tensorml.spectra import finite_difference as fd
from tensorml.spectra.spectrum import Spectrum
from tensorml.units import AU_TIME_FS, LENGTH_UNITS

BOHR = LENGTH_UNITS["bohr"]
T = 300.0


def cli(*args):
    return main(["spectrum", *map(str, args)])


def test_central_difference_of_harmonic_trajectory():
    dt = 0.5
    freqs = np.array([500.0, 1600.0, 3700.0])
    u, v = analytic.harmonic_trajectory(freqs, [12.0, 1.0, 1.0], T, dt, 400, seed=3)
    got = fd.central_difference(u, dt)
    sinc = fd.attenuation(freqs, dt)
    np.testing.assert_allclose(got, v[1:-1] * sinc, rtol=1e-9, atol=1e-12 * np.abs(v).max())
    # the attenuation is 1 - (w dt)^2/6 + ...: 5 % at 3700 cm^-1 for 0.5 fs, and the header's 10 % point
    w_dt = freqs * 2 * np.pi * 2.99792458e-5 * dt
    np.testing.assert_allclose(1 - sinc, w_dt**2 / 6 - w_dt**4 / 120, rtol=1e-2)
    assert fd.attenuation(fd.wavenumber_at(0.9, dt), dt) == pytest.approx(0.9, rel=1e-9)
    assert "central differences" in fd.describe(dt, "x") and f"{fd.wavenumber_at(0.9, dt):.0f}" in fd.describe(dt, "x")
    with pytest.raises(ValueError, match="at least 3"):
        fd.central_difference(u[:2], dt)


def test_wrapped_positions_are_errors():
    r = np.zeros((5, 2, 3))
    r[:, 0, 0] = [9.5, 9.7, 9.9, 0.1, 0.3]  # crosses the boundary of a 10 angstrom box
    with pytest.raises(ValueError, match="wrapped positions"):
        fd.check_unwrapped(r, 10.0, "traj", [0, 1, 2, 3, 4])
    r[3:, 0, 0] += 10.0
    fd.check_unwrapped(r, 10.0, "traj")
    assert fd.cell_widths([10.0, 10.0, 10.0, 90.0, 90.0, 60.0]).min() == pytest.approx(10 * np.sqrt(3) / 2)


# ----------------------------------------------------------------------------- LAMMPS dumps
Q = np.array([-0.8, 0.4, 0.4])
FREQS = np.array([[700.0, 1100.0, 1500.0], [1900.0, 2300.0, 2700.0], [3100.0, 3500.0, 900.0]])
MASSES = np.array([16.0, 1.0, 1.0])


def write_dump(path, steps, cols, values, box=20.0, units="real"):
    """A text dump custom file (ITEM: UNITS as with dump_modify units yes); values (T, N, C)."""
    out = []
    for s, frame in zip(steps, values):
        out.append(
            f"ITEM: UNITS\n{units}\nITEM: TIMESTEP\n{s}\nITEM: NUMBER OF ATOMS\n{len(frame)}\n"
            f"ITEM: BOX BOUNDS pp pp pp\n0 {box}\n0 {box}\n0 {box}\nITEM: ATOMS id type {' '.join(cols)}\n"
        )
        out += [f"{i + 1} {1 + (i > 0)} " + " ".join(f"{x:.14g}" for x in row) + "\n" for i, row in enumerate(frame)]
    path.write_text("".join(out))


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    d = tmp_path_factory.mktemp("dumps")
    nfr, dt = 4001, 0.5
    u, v = analytic.harmonic_trajectory(FREQS.ravel(), np.repeat(MASSES, 3), T, dt, nfr, seed=5)
    r = u.reshape(nfr, 3, 3) + np.array([[5.0, 5.0, 5.0], [5.9, 5.0, 5.0], [5.0, 5.9, 5.0]])
    r[:, 1, 0] += 0.01 * np.arange(nfr)  # atom 2 drifts out of the 20 angstrom box: unwrapped coordinates
    v = v.reshape(nfr, 3, 3)
    v[:, 1, 0] += 0.01 / dt
    apt = np.broadcast_to(Q[None, :, None] * np.eye(3).ravel()[None, None], (nfr, 3, 9))
    steps = np.arange(nfr)
    aptc = [f"c_p[{k}]" for k in range(1, 10)]
    write_dump(d / "vel.dump", steps, ["vx", "vy", "vz"] + aptc, np.concatenate([v, apt], axis=2))
    write_dump(d / "pos.dump", steps, ["xu", "yu", "zu"] + aptc, np.concatenate([r, apt], axis=2))
    write_dump(
        d / "wrapped.dump", steps[:50], ["x", "y", "z"] + aptc, np.concatenate([(r + 14.0) % 20.0, apt], axis=2)[:50]
    )  # atom 2 crosses x = 20 at frame 10
    return d


def test_lammps_positions_match_velocities(dumps, capsys):
    d = dumps
    common = ["--timestep", 0.5, "--temperature", T, "--unit", "km/mol", "--corr-length", 500, "--type-map", "1=O,2=H"]
    assert cli("ir", "--apt", d / "vel.dump", "-o", d / "v.dat", *common) == 0
    assert cli("ir", "--apt", d / "pos.dump", "--decompose", "element", "-o", d / "p.dat", *common) == 0
    vel, pos = Spectrum.read(d / "v.dat"), Spectrum.read(d / "p.dat")
    assert "central differences" in pos.meta["velocities"] and "xu yu zu" in pos.meta["velocities"]
    assert "velocities" not in vel.meta
    for nu in FREQS.ravel():
        band = (nu - 100, nu + 100)
        assert pos.peak(*band) == pytest.approx(vel.peak(*band), abs=1.0)
        assert pos.integrate(*band) == pytest.approx(vel.integrate(*band) * fd.attenuation(nu, 0.5) ** 2, rel=0.01)
    np.testing.assert_allclose(pos.columns["O"] + pos.columns["H"], pos.total, atol=1e-9 * pos.total.max())
    # the VDOS from positions (--positions forces them even where velocities exist)
    vd = ["--timestep", 0.5, "--type-map", "1=O,2=H", "--corr-length", 500, "--max-freq", 5000]
    assert cli("vdos", "--velocities", d / "vel.dump", "-o", d / "vv.dat", *vd) == 0
    assert cli("vdos", "--positions", d / "pos.dump", "-o", d / "vp.dat", *vd) == 0
    vv, vp = Spectrum.read(d / "vv.dat"), Spectrum.read(d / "vp.dat")
    for nu in (700.0, 3500.0):
        assert vp.integrate(nu - 100, nu + 100) == pytest.approx(
            vv.integrate(nu - 100, nu + 100) * fd.attenuation(nu, 0.5) ** 2, rel=0.02
        )
    # wrapped coordinates only: a clear error
    assert cli("ir", "--apt", d / "wrapped.dump", "-o", d / "x.dat", *common) == 1
    assert "xu yu zu" in capsys.readouterr().err
    assert cli("ir", "--apt", d / "wrapped.dump", "--columns", "positions=x,y,z", "-o", d / "x.dat", *common) == 1
    assert "wrapped positions" in capsys.readouterr().err


# ----------------------------------------------------------------------------- i-PI trajectories
def write_ipi_run(d, nfr=3000, dt=0.5, P=2):
    """Per-bead BEC extras, velocities and positions (i-PI's writers; atomic units) of 2 harmonic atoms."""
    from ipi.engine.atoms import Atoms
    from ipi.engine.cell import Cell
    from ipi.engine.outputs import TrajectoryOutput
    from ipi.utils.io import print_file

    q = np.array([-0.5, 0.5])
    freqs = np.array([[800.0, 1300.0, 1700.0, 2100.0, 2900.0, 3300.0], [850.0, 1350.0, 1750.0, 2150.0, 2950.0, 3350.0]])
    bec = np.repeat(q, 3)[:, None] * np.tile(np.eye(3), (2, 1))  # BEC[3i+a, b] = q_i delta_ab
    for b in range(P):
        u, v = analytic.harmonic_trajectory(freqs[b], np.repeat([16.0, 1.0], 3), T, dt, nfr, seed=7 + b)
        # (positions near the origin: i-PI's xyz writer keeps 6 significant digits)
        x, v = (u.reshape(nfr, 2, 3) + [[0.1, 0.0, 0.0], [-0.1, 0.0, 0.0]]) / BOHR, v.reshape(nfr, 2, 3)
        out, s = TrajectoryOutput("x", extra_type="BEC"), io.StringIO()
        for t in range(nfr):
            out.system = SimpleNamespace(simul=SimpleNamespace(step=t - 1))
            out.write_traj({"BEC": [bec.tolist()] * P}, "extras", s, b=0, flush=False)
        (d / f"w.BEC_{b}").write_text(s.getvalue())
        for name, key, dim, data in [
            ("vel", "velocities", "velocity", v / (BOHR / AU_TIME_FS)),
            ("pos", "positions", "length", x),
        ]:
            a, c, s = Atoms(2), Cell(), io.StringIO()
            a.names[:] = ["O", "H"]
            c.h = np.eye(3) * 20.0
            for t in range(nfr):
                a.q[:] = data[t].ravel()
                print_file(
                    "xyz",
                    a,
                    c,
                    s,
                    title="Step:  %10d  Bead:   %5d " % (t, b),
                    key=key,
                    dimension=dim,
                    units="automatic",
                    cell_units="automatic",
                )
            (d / f"w.{name}_{b}.xyz").write_text(s.getvalue())
    (d / "input.xml").write_text(
        f"<simulation><system><initialize nbeads='{P}'/><ensemble><temperature units='kelvin'>{T}</temperature>"
        f"</ensemble><motion mode='dynamics'><dynamics mode='nvt'><timestep units='femtosecond'>{dt}</timestep>"
        "</dynamics></motion></system></simulation>"
    )
    return freqs


def test_ipi_positions_per_bead(tmp_path, capsys):
    freqs = write_ipi_run(tmp_path)
    d = tmp_path
    common = ["--apt", d / "w.BEC_{bead}", "--ipi-input", d / "input.xml", "--unit", "km/mol", "--corr-length", 500]
    assert cli("ir", *common, "--velocities", d / "w.vel_{bead}.xyz", "-o", d / "v.dat") == 0
    assert cli("ir", *common, "--positions", d / "w.pos_{bead}.xyz", "-o", d / "p.dat") == 0
    vel, pos = Spectrum.read(d / "v.dat"), Spectrum.read(d / "p.dat")
    assert "central differences" in pos.meta["velocities"] and pos.meta["beads"].startswith("2")
    for nu in freqs.mean(axis=0):
        band = (nu - 120, nu + 120)
        assert pos.integrate(*band) == pytest.approx(vel.integrate(*band) * fd.attenuation(nu, 0.5) ** 2, rel=0.02)
    # velocities given as positions (and the reverse) are named in the error
    assert cli("ir", *common, "--positions", d / "w.vel_{bead}.xyz", "-o", d / "x.dat") == 1
    assert "give it to --velocities" in capsys.readouterr().err
    assert cli("vdos", "--velocities", d / "w.pos_{bead}.xyz", "--ipi-input", d / "input.xml", "-o", d / "x.dat") == 1
    assert "give it to --positions" in capsys.readouterr().err


def test_npz_positions(tmp_path):
    dt, nfr = 1.0, 3000
    u, _ = analytic.harmonic_trajectory([1000.0, 2000.0, 3000.0], [1.0, 2.0, 3.0], T, dt, nfr)
    np.savez(tmp_path / "r.npz", positions=u.reshape(nfr, 1, 3), masses=[1.0], dt_fs=dt)
    assert cli("vdos", "--velocities", tmp_path / "r.npz", "-o", tmp_path / "r.dat", "--corr-length", 600) == 0
    s = Spectrum.read(tmp_path / "r.dat")
    assert "central differences" in s.meta["velocities"]
    for nu in (1000.0, 2000.0, 3000.0):
        assert s.peak(nu - 100, nu + 100) == pytest.approx(nu, abs=1.0)
