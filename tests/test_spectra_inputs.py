"""Inputs: gzip-compressed files, the temperature from a LAMMPS log or the i-PI input, the log's time step.

gzip: every reader gives the same numbers for a file and its .gz (LAMMPS fix ave/time and dumps, i-PI
extras, xyz and input, arrays).  Temperature: without --temperature the mean thermo Temp of the MD run
(not of a minimization) over the analysed steps is used and stated in the header; with none available,
a spectrum that needs it is a clear error.
"""

import gzip
import shutil

import numpy as np
import pytest

from tensorml.cli import main
from tensorml.spectra import analytic, assemble, peratom, reducers
from tensorml.spectra.readers import ipi, lammps
from tensorml.spectra.spectrum import Spectrum
from test_spectra_readers import ipi_write_extras, ipi_write_xyz, write_ave  # noqa: I001  (sibling test module)
from test_spectra_positions import write_dump


def cli(*args):
    return main(["spectrum", *map(str, args)])


def gz(path):
    out = path.with_name(path.name + ".gz")
    with open(path, "rb") as src, gzip.open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


def test_gzip_inputs_read_like_plain_ones(tmp_path):
    rng = np.random.default_rng(8)
    write_ave(tmp_path / "props.dat", np.arange(30) * 2, rng.normal(size=(30, 12)))
    ctx = lambda: assemble.Context(assemble.InputOptions(lammps_units="real", timestep_fs=0.5))  # noqa: E731
    a = assemble.load_global(str(tmp_path / "props.dat"), "polarizability", ctx())
    b = assemble.load_global(str(gz(tmp_path / "props.dat")), "polarizability", ctx())
    np.testing.assert_array_equal(a.values, b.values)
    assert b.dt_fs == 1.0
    # a dump (velocities + APT) and a gzip-compressed one under a name without .gz
    vals = rng.normal(size=(20, 3, 12))
    write_dump(tmp_path / "a.dump", np.arange(20), ["vx", "vy", "vz"] + [f"c_p[{k}]" for k in range(1, 10)], vals)
    (tmp_path / "b.dump").write_bytes(gz(tmp_path / "a.dump").read_bytes())
    runs = [
        peratom.load_atoms(str(tmp_path / n), None, ctx(), reducers.apt_reducer_factory(ctx()))
        for n in ("a.dump", "a.dump.gz", "b.dump")
    ]
    for r in runs[1:]:
        np.testing.assert_array_equal(r.data["series"], runs[0].data["series"])
    # i-PI extras, xyz and input
    dip = rng.normal(size=(6, 3))
    ipi_write_extras(tmp_path / "x.dipole_0", [(s, {"dipole": dip[s][None]}) for s in range(6)], "dipole")
    np.testing.assert_allclose(ipi.read_extras(gz(tmp_path / "x.dipole_0"), "dipole").values, dip, rtol=1e-8)
    ipi_write_xyz(tmp_path / "x.vel_0.xyz", ["O", "H"], rng.normal(size=(4, 2, 3)), [0, 1, 2, 3], "velocities")
    np.testing.assert_array_equal(
        ipi.read_xyz(gz(tmp_path / "x.vel_0.xyz")).values, ipi.read_xyz(tmp_path / "x.vel_0.xyz").values
    )
    assert assemble.detect_format(str(tmp_path / "x.vel_0.xyz.gz")) == "ipi-xyz"
    assert assemble.detect_format(str(tmp_path / "b.dump")) == "lammps-dump"
    # arrays: .npz.gz and .csv.gz
    np.savez(tmp_path / "m.npz", dipole=dip, dt_fs=0.5)
    from tensorml.spectra.readers import arrays

    np.testing.assert_array_equal(arrays.read_array(gz(tmp_path / "m.npz"), "dipole").values, dip)
    np.savetxt(tmp_path / "m.csv", dip, delimiter=",")
    np.testing.assert_array_equal(arrays.read_array(gz(tmp_path / "m.csv")).values, dip)


LOG = """LAMMPS (29 Aug 2024 - Update 1)
units           real
timestep        0.5
   Step          Temp          E_pair
         0   0             -37.5
       200   0             -380.5
Loop time of 1.6 on 1 procs for 200 steps with 81 atoms

Minimization stats:
  Stopping criterion = max iterations
reset_timestep  0
   Step          Temp          PotEng         TotEng
{rows}
Loop time of 24.5 on 1 procs for 400 steps with 81 atoms
"""


@pytest.fixture()
def lammps_run(tmp_path):
    """A fix ave/time dipole file of harmonic modes (steps 0..399) and a log whose thermo Temp varies."""
    u, _ = analytic.harmonic_trajectory([1000.0, 1700.0, 2900.0], 1.0, 300.0, 0.5, 400)
    write_ave(tmp_path / "props.dat", np.arange(400), np.column_stack([0.5 * u, np.zeros((400, 9))]))
    temps = 250.0 + 100.0 * np.arange(400) / 399  # mean 300 K over 0..399
    rows = [f"{s:10d}   {t:.6f}   -300.0   -280.0" for s, t in enumerate(temps)]
    rows.insert(100, "WARNING: a warning inside the thermo output (src/x.cpp:1)")
    (tmp_path / "log.lammps").write_text(LOG.format(rows="\n".join(rows)))
    return tmp_path, temps


def test_temperature_from_lammps_log(lammps_run, capsys):
    d, temps = lammps_run
    log = lammps.read_log(d / "log.lammps")
    assert [b.minimize for b in log.thermo] == [True, False]
    assert log.temperature()[0] == pytest.approx(temps.mean())
    assert log.temperature(100, 199)[0] == pytest.approx(temps[100:200].mean())
    with pytest.raises(ValueError, match="no thermo rows"):
        log.temperature(1000, 2000)
    assert (
        cli(
            "ir",
            "--dipole",
            d / "props.dat",
            "--lammps-log",
            d / "log.lammps",
            "--unit",
            "km/mol",
            "--corr-length",
            50,
            "-o",
            d / "ir.dat",
        )
        == 0
    )
    s = Spectrum.read(d / "ir.dat")
    assert s.meta["temperature"] == f"{temps.mean():g} K"
    assert "mean thermo Temp" in s.meta["temperature source"] and "steps 0..399" in s.meta["temperature source"]
    # a given temperature wins; one far from the log's mean is worth a warning
    assert (
        cli(
            "ir",
            "--dipole",
            d / "props.dat",
            "--lammps-log",
            d / "log.lammps",
            "--unit",
            "km/mol",
            "--corr-length",
            50,
            "--temperature",
            400,
            "-o",
            d / "ir.dat",
        )
        == 0
    )
    assert "warning: temperature" in capsys.readouterr().err
    assert Spectrum.read(d / "ir.dat").meta["temperature"] == "400 K"


def test_temperature_unknown_is_a_clear_error(lammps_run, capsys):
    d, _ = lammps_run
    (d / "notemp.log").write_text("units real\ntimestep 0.5\n")
    assert (
        cli("ir", "--dipole", d / "props.dat", "--lammps-log", d / "notemp.log", "--unit", "km/mol", "-o", d / "x.dat")
        == 1
    )
    err = capsys.readouterr().err
    assert "temperature is unknown" in err and "--temperature" in err and "--lammps-log" in err
    # K*km/mol with the harmonic QCF needs no temperature
    assert (
        cli(
            "ir",
            "--dipole",
            d / "props.dat",
            "--lammps-log",
            d / "notemp.log",
            "--unit",
            "K*km/mol",
            "--corr-length",
            50,
            "-o",
            d / "x.dat",
        )
        == 0
    )
    assert Spectrum.read(d / "x.dat").meta["temperature"] == "not given"
    assert cli("raman", "--polarizability", d / "props.dat", "--lammps-log", d / "notemp.log", "-o", d / "x.dat") == 1
    assert "temperature is unknown" in capsys.readouterr().err


def test_log_timestep_checked_for_any_input(lammps_run, capsys):
    """The log's timestep (0.5 fs in real units) contradicts an array's dt_fs: an error even for array inputs."""
    d, _ = lammps_run
    u, _ = analytic.harmonic_trajectory([1000.0], 1.0, 300.0, 1.0, 400)
    np.savez(d / "m.npz", dipole=np.column_stack([u, u, u]), dt_fs=1.0)
    assert (
        cli(
            "ir",
            "--dipole",
            d / "m.npz",
            "--lammps-log",
            d / "log.lammps",
            "--unit",
            "km/mol",
            "--temperature",
            300,
            "-o",
            d / "x.dat",
        )
        == 1
    )
    assert "mismatched time steps" in capsys.readouterr().err
    assert (
        cli(
            "ir",
            "--dipole",
            d / "props.dat",
            "--lammps-log",
            d / "log.lammps",
            "--timestep",
            0.25,
            "--temperature",
            300,
            "-o",
            d / "x.dat",
        )
        == 1
    )
    assert "mismatched time steps" in capsys.readouterr().err
