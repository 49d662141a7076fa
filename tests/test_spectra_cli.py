"""`tensorml spectrum` end to end on i-PI files (written by i-PI's own writers) and arrays.

A 2-bead path-integral trajectory of 3 harmonic atoms with a nonlinear dipole M = sum_i q_i u_i +
kappa |u_0|^2 e_z (exact APTs) is written as i-PI per-bead extras (dipole, BEC (3N, 3) in e*bohr / e)
and per-bead velocity xyz files (atomic units).  The dipole route (bead-averaged dipole) and the APT
route (TRPMD estimator: bead average of sum_i P_i v_i) must give the same spectrum.
"""

import io
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
