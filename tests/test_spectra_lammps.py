"""End to end with real LAMMPS output files (fix ave/time, dump custom, log) in metal, real and electron units.

The system needs no tensorml plugin: atoms with charges +-0.4 e tethered by ``fix spring/self`` (no pair
forces) are harmonic oscillators of frequency w = sqrt(K/m); a ``compute reduce`` builds a 12-element global
vector laid out like ``compute tensorml/props`` ([1-3] dipole M = sum_i q_i r_i, [4-12] a polarizability-like
tensor), ``compute property/atom`` a 9-column per-atom array laid out like the APT (q_i times the identity), and
atom variables q_i v_i the per-atom APT_i v_i (``apt_velocity``).

Since all atoms of a type share one frequency, dM/dt of that type is coherent: dM_type/dt(t) = dM_type/dt(0)
cos(w t), so <|dM/dt|^2> = |dM_type/dt(0)|^2 / 2 and the band integral is N_A beta <|dM/dt|^2>/(12 eps0 c^2)
(km/mol), i.e. analytic.harmonic_band_intensity(sqrt(<|dM/dt|^2>/(k_B T))).  Velocity Verlet shifts the
frequency to (2/dt) arcsin(w dt/2).
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tensorml.cli import main
from tensorml.spectra import assemble
from tensorml.spectra.analytic import harmonic_band_intensity, kT_amu_A2_fs2
from tensorml.spectra.readers.lammps import iter_dump
from tensorml.spectra.spectrum import Spectrum
from tensorml.spectra.windows import resolution_cm1
from tensorml.units import (
    CM1_TO_RAD_PER_FS,
    ENERGY_UNITS,
    LAMMPS_UNIT_SYSTEMS,
    LAMMPS_VELOCITY_TIME_UNIT_FS,
    LENGTH_UNITS,
)

LMP = Path(sys.executable).parent / "lmp"
LMP = str(LMP) if LMP.exists() else shutil.which("lmp")
pytestmark = pytest.mark.skipif(LMP is None, reason="no lmp executable")

K_EV_A2 = 5.0  # spring constant, eV/angstrom^2
MASSES = {1: 1.0, 2: 3.0}
T = 300.0
STYLE = {  # timestep (style time unit) giving 0.5 fs, spring constant in the style's units
    "metal": 0.0005,
    "real": 0.5,
    "electron": 0.5,
}

SCRIPT = """
units           {units}
atom_style      full
boundary        f f f
lattice         sc {a}
region          box block -1 4 -1 4 -1 4
region          atoms block 0 2 0 2 0 2
create_box      2 box
create_atoms    1 region atoms
set             type 1 type/fraction 2 0.5 4321
set             type 1 charge 0.4
set             type 2 charge -0.4
set             type 1 mol 1
set             type 2 mol 2
mass            1 {m1}
mass            2 {m2}
pair_style      zero 4.0
pair_coeff      * *
fix             zp all property/atom d_zero
set             atom * d_zero 0.0
variable        mux atom q*x
variable        muy atom q*y
variable        muz atom q*z
variable        pxx atom x*x
variable        zero atom 0.0
compute         p all reduce sum v_mux v_muy v_muz v_pxx v_zero v_zero v_zero v_pxx v_zero v_zero v_zero v_pxx
compute         pa all property/atom q d_zero d_zero d_zero q d_zero d_zero d_zero q
variable        pvx atom q*vx
variable        pvy atom q*vy
variable        pvz atom q*vz
velocity        all create {T} 4928459 dist gaussian
fix             tether all spring/self {K}
fix             nve all nve
fix             props all ave/time 1 1 1 c_p[*] file props.dat format " %.12g"
dump            apt all custom 2 apt.dump id type mol vx vy vz c_pa[1] c_pa[2] c_pa[3] c_pa[4] c_pa[5] &
                c_pa[6] c_pa[7] c_pa[8] c_pa[9] v_pvx v_pvy v_pvz
dump_modify     apt format float %.12g units yes time yes
timestep        {dt}
run             3000
"""


def run_lammps(tmp: Path, units: str) -> Path:
    sysu = LAMMPS_UNIT_SYSTEMS[units]
    length, energy = LENGTH_UNITS[sysu.length], ENERGY_UNITS[sysu.energy]
    script = SCRIPT.format(
        units=units, a=3.0 / length, m1=MASSES[1], m2=MASSES[2], T=T, K=K_EV_A2 / energy * length**2, dt=STYLE[units]
    )
    (tmp / "in.test").write_text(script)
    proc = subprocess.run(
        [LMP, "-in", "in.test", "-log", "log.lammps", "-screen", "none"],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return tmp


def cli(*args) -> int:
    return main(["spectrum", *map(str, args)])


@pytest.mark.parametrize("units", ["metal", "real", "electron"])
def test_lammps_dipole_and_apt_routes(tmp_path, units, capsys):
    d = run_lammps(tmp_path, units)
    common = ["--lammps-log", d / "log.lammps", "--temperature", T, "--unit", "km/mol", "--corr-length", 600]
    assert cli("ir", "--dipole", d / "props.dat", "-o", d / "dip.dat", "--plot", d / "dip.png", *common) == 0
    assert cli("ir", "--apt", d / "apt.dump", "-o", d / "apt.dat", "--decompose", "type", "--intra-inter", *common) == 0
    # the per-atom APT_i v_i columns (compute tensorml/props 'apt_velocity') instead of APTs and velocities
    assert (
        cli("ir", "--apt", d / "apt.dump", "-o", d / "pv.dat", "--columns", "apt_velocity=v_pvx,v_pvy,v_pvz", *common)
        == 0
    )
    out = capsys.readouterr().out
    assert "wrote" in out and (d / "dip.png").stat().st_size > 10000
    dip, apt, pv = Spectrum.read(d / "dip.dat"), Spectrum.read(d / "apt.dat"), Spectrum.read(d / "pv.dat")
    np.testing.assert_allclose(pv.total, apt.total, rtol=1e-6, atol=1e-9 * apt.total.max())
    assert "v_pvx" in pv.meta["per-atom dM/dt"]
    assert dip.meta["LAMMPS units"] == units and "harmonic" in dip.meta["qcf"]
    assert apt.meta["time step"].startswith("1 fs") and dip.meta["time step"].startswith("0.5 fs")
    # analytic: Verlet frequency and coherent band intensity from the first frame's velocities
    f0 = next(iter_dump(d / "apt.dump"))
    vfac = LENGTH_UNITS[LAMMPS_UNIT_SYSTEMS[units].length] / LAMMPS_VELOCITY_TIME_UNIT_FS[units]
    v = f0.columns(["vx", "vy", "vz"]) * vfac
    q, types = f0.columns(["c_pa[1]"])[:, 0], f0.columns(["type"])[:, 0]
    fwhm = resolution_cm1("hann", 600, 1.0)  # 40 cm^-1 for t_max = 600 fs
    for t, m in MASSES.items():
        w = np.sqrt(K_EV_A2 / m / 103.6427)  # rad/fs (1 eV/(angstrom^2 amu) = 1/103.6427 fs^-2)
        nu = 2.0 / 0.5 * np.arcsin(w * 0.5 / 2.0) / CM1_TO_RAD_PER_FS
        mdot0 = (q[types == t, None] * v[types == t]).sum(axis=0)
        expected = harmonic_band_intensity(np.sqrt((mdot0**2).sum() / 2.0 / kT_amu_A2_fs2(T)))
        band = (nu - 150, nu + 150)
        for s, col in [(dip, None), (apt, None), (apt, f"type{t}")]:
            assert s.peak(*band, col) == pytest.approx(nu, abs=0.06 * fwhm)
            assert s.integrate(*band, col) == pytest.approx(expected, rel=0.03)
    # box volumes in angstrom^3 whatever the style: the box is 5 lattice units of 3 angstrom
    assert apt.meta["volume source"].endswith("apt.dump")
    for opts in [
        dict(lammps_log=str(d / "log.lammps")),
        dict(lammps_units=units, box_from=str(d / "apt.dump")),
        dict(box_from=str(d / "log.lammps")),
    ]:
        assert assemble.Context(assemble.InputOptions(**opts)).volume() == pytest.approx(15.0**3)
    np.testing.assert_allclose(apt.columns["type1"] + apt.columns["type2"], apt.total, atol=1e-9 * apt.total.max())
    np.testing.assert_allclose(apt.columns["intra"] + apt.columns["inter"], apt.total, atol=1e-9 * apt.total.max())


def test_lammps_bad_inputs(tmp_path, capsys):
    d = run_lammps(tmp_path, "metal")
    # a time step that contradicts the log
    assert (
        cli(
            "ir",
            "--dipole",
            d / "props.dat",
            "--lammps-log",
            d / "log.lammps",
            "--timestep",
            1.0,
            "--temperature",
            T,
            "--unit",
            "km/mol",
            "-o",
            d / "x.dat",
        )
        == 1
    )
    assert "mismatched time steps" in capsys.readouterr().err
    # units unknown without the log
    assert cli("ir", "--dipole", d / "props.dat", "--timestep", 0.5, "--temperature", T, "-o", d / "x.dat") == 1
    assert "LAMMPS units unknown" in capsys.readouterr().err
    # a gap (a missing line) and a NaN row
    lines = (d / "props.dat").read_text().splitlines()
    (d / "gap.dat").write_text("\n".join(lines[:100] + lines[101:]) + "\n")
    assert (
        cli(
            "ir",
            "--dipole",
            d / "gap.dat",
            "--lammps-log",
            d / "log.lammps",
            "--temperature",
            T,
            "--unit",
            "km/mol",
            "-o",
            d / "x.dat",
        )
        == 1
    )
    assert "gap or uneven spacing" in capsys.readouterr().err
    bad = lines[:]
    bad[50] = bad[50].split()[0] + " nan" + " 0" * 11
    (d / "nan.dat").write_text("\n".join(bad) + "\n")
    assert (
        cli(
            "ir",
            "--dipole",
            d / "nan.dat",
            "--lammps-log",
            d / "log.lammps",
            "--temperature",
            T,
            "--unit",
            "km/mol",
            "-o",
            d / "x.dat",
        )
        == 1
    )
    assert "NaN" in capsys.readouterr().err
    # too short for the correlation length
    (d / "short.dat").write_text("\n".join(lines[:40]) + "\n")
    assert (
        cli(
            "ir",
            "--dipole",
            d / "short.dat",
            "--lammps-log",
            d / "log.lammps",
            "--temperature",
            T,
            "--unit",
            "km/mol",
            "--corr-length",
            100,
            "-o",
            d / "x.dat",
        )
        == 1
    )
    assert "too short" in capsys.readouterr().err
