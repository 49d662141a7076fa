"""IR spectrum of three harmonic atoms two ways (dipole autocorrelation and APT-weighted velocities).

Runs as written (from the repository: PYTHONPATH=python python examples/spectra/harmonic_ir.py):

1. builds an analytic trajectory: every Cartesian coordinate of 3 atoms is a harmonic oscillator of its
   own frequency with energy k_B T; the dipole is M = sum_i q_i u_i + kappa u_0z u_1x e_y (a combination
   band) and the APTs are its exact derivatives;
2. writes it as arrays (a temporary harmonic.npz: dipole, apt, velocities, dt_fs, symbols);
3. runs ``tensorml spectrum ir`` on the dipole (APTNN seed eq. 1) and on the APTs (eqs. 2-4, split by
   element), with block error bars;
4. prints the band intensities next to the closed form N_A |dM/dQ|^2 / (12 eps0 c^2) (km/mol).

Writes ir_dipole.dat and ir_apt.dat (and with --plot ir_dipole.png, ir_apt.png) to --out (default: here).
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from tensorml.cli import main
from tensorml.spectra import analytic
from tensorml.spectra.spectrum import Spectrum

FREQS = np.array([[400.0, 700.0, 1000.0], [1300.0, 1600.0, 1900.0], [2500.0, 3000.0, 3600.0]])  # cm^-1
MASSES = np.array([16.0, 1.0, 2.0])  # amu
CHARGES = np.array([-0.8, 0.5, 0.3])  # e
KAPPA, T, DT, NFRAMES = 20.0, 300.0, 0.5, 20000


def build(out: Path) -> Path:
    u, v = analytic.harmonic_trajectory(FREQS.ravel(), np.repeat(MASSES, 3), T, DT, NFRAMES)
    u, v = u.reshape(-1, 3, 3), v.reshape(-1, 3, 3)
    dipole = (CHARGES[None, :, None] * u).sum(axis=1)
    dipole[:, 1] += KAPPA * u[:, 0, 2] * u[:, 1, 0]
    apt = np.zeros(u.shape[:2] + (3, 3))
    apt[:] = CHARGES[None, :, None, None] * np.eye(3)
    apt[:, 0, 1, 2] += KAPPA * u[:, 1, 0]  # dM_y/du_0z
    apt[:, 1, 1, 0] += KAPPA * u[:, 0, 2]  # dM_y/du_1x
    path = out / "harmonic.npz"
    np.savez(path, dipole=dipole, apt=apt, velocities=v, dt_fs=DT, symbols=np.array(["O", "H", "H"]))
    return path


def run(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent))
    ap.add_argument("--plot", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.TemporaryDirectory()
    npz = build(Path(tmp.name))
    common = ["--temperature", str(T), "--unit", "km/mol", "--corr-length", "1000", "--blocks", "4"]
    plot = lambda name: ["--plot", str(out / name)] if args.plot else []  # noqa: E731
    assert (
        main(
            ["spectrum", "ir", "--dipole", str(npz), "-o", str(out / "ir_dipole.dat"), *common, *plot("ir_dipole.png")]
        )
        == 0
    )
    assert (
        main(
            [
                "spectrum",
                "ir",
                "--apt",
                str(npz),
                "-o",
                str(out / "ir_apt.dat"),
                "--decompose",
                "element",
                *common,
                *plot("ir_apt.png"),
            ]
        )
        == 0
    )
    tmp.cleanup()
    dip, apt = Spectrum.read(out / "ir_dipole.dat"), Spectrum.read(out / "ir_apt.dat")
    print(
        "\nband integrals in km/mol (the 400 cm^-1 window also holds the 1300 - 1000 difference band;"
        " error columns of the .dat files come from the 4 blocks)"
    )
    print(f"{'band (cm^-1)':>14} {'analytic':>10} {'dipole ACF':>11} {'APT . v':>10} {'H part':>10}")
    for i in range(3):
        for a in range(3):
            nu = FREQS[i, a]
            lo, hi = nu - 120, nu + 120
            ref = analytic.harmonic_band_intensity(CHARGES[i] / np.sqrt(MASSES[i]))
            print(
                f"{nu:14.0f} {ref:10.3f} {dip.integrate(lo, hi):11.3f} {apt.integrate(lo, hi):10.3f}"
                f" {apt.integrate(lo, hi, 'H'):10.3f}"
            )
    print(
        f"{'2300 (comb.)':>14} {'':>10} {dip.integrate(2200, 2400):11.3f} {apt.integrate(2200, 2400):10.3f}"
        f" {apt.integrate(2200, 2400, 'H'):10.3f}"
    )


if __name__ == "__main__":
    run()
