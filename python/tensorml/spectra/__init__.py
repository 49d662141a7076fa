"""Spectra from what the tensorml pair style / compute (LAMMPS) and driver (i-PI) write.

IR absorption (APTNN seed eq. 1 from the dipole autocorrelation, eqs. 2-5 from APT-weighted
velocities), Raman (isotropic / anisotropic / polarised, depolarisation ratio) and the
vibrational density of states, with quantum correction factors, windows, block error bars,
APT decompositions and path-integral estimators.  One module per job:

=========================  ================================================================
:mod:`.correlate`          FFT correlation functions (unbiased, mean removed) and their transform
:mod:`.windows`            lag windows (hann, gaussian, none) and the resolution they give
:mod:`.qcf`                quantum correction factors (none, harmonic, standard, schofield)
:mod:`.blocks`             blocks of runs, mean and standard error
:mod:`.settings`           :class:`SpectralSettings` (time step, window, correlation length, ...)
:mod:`.ir`                 IR intensities (cm^-1, km/mol, TRAVIS K*km/mol, arb), APT . v, BEC layout
:mod:`.raman`              Raman components and intensities (line shape, reduced, cross section)
:mod:`.vdos`               mass-weighted velocity spectrum
:mod:`.decompose`          atom partitions (element, type, molecule, groups)
:mod:`.pimd`               bead estimators (trpmd, centroid)
:mod:`.spectrum`           the :class:`Spectrum` result and its data file
:mod:`.plot`               PNG plots
:mod:`.readers`            LAMMPS (fix ave/time, dump custom, log), i-PI (extras, xyz, input), arrays; gzip
:mod:`.assemble`           files -> global series: units, time steps, temperature, beads, consistency checks
:mod:`.peratom`            files -> per-atom runs (APTs, velocities or differentiated positions)
:mod:`.reducers`           per frame: APT . v summed per part (element, type, molecule, group), velocities
:mod:`.finite_difference`  velocities from unwrapped positions (central differences) and their attenuation
:mod:`.analytic`           model systems with closed-form spectra (harmonic oscillators, rotors)
:mod:`.cli`                what ``tensorml spectrum ir|raman|vdos`` runs
=========================  ================================================================

Internal units: time fs, wavenumber cm^-1, length angstrom, charge e, dipole e*angstrom,
polarizability angstrom^3 (alpha / 4 pi eps0), velocity angstrom/fs, temperature K.

Python use::

    from tensorml.spectra import SpectralSettings, ir_spectrum
    s = ir_spectrum([{"series": dipole}], SpectralSettings(dt_fs=0.5, temperature=300.0),
                    route="dipole", unit="cm-1", volume=box_volume)
    s.write("ir.dat")
"""

from .ir import dipole_derivative, ir_spectrum
from .raman import raman_spectrum
from .settings import SpectralSettings
from .spectrum import Spectrum
from .vdos import vdos_spectrum

__all__ = ["SpectralSettings", "Spectrum", "dipole_derivative", "ir_spectrum", "raman_spectrum", "vdos_spectrum"]
