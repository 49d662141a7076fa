"""Level of theory of a PySCF labelling run, and how it is recorded in extxyz headers.

The level of theory is written into every labelled frame (keys ``method``,
``basis``, ``density_fit``, ``program``, ``field_step_au``) so that a dataset
file documents itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

#: Default functional and basis for labelling: a hybrid with diffuse functions, the cheapest
#: combination that gives usable static polarizabilities (without diffuse functions alpha of
#: water is ~30% too small).
DEFAULT_METHOD = "B3LYP"
DEFAULT_BASIS = "aug-cc-pVDZ"

#: Finite-field step in atomic units (hartree/(e*bohr) = 51.42 V/angstrom).  See
#: :mod:`tensorml.data.labels` for why 1e-3 a.u.
DEFAULT_FIELD_STEP_AU = 1.0e-3


@dataclass(frozen=True)
class LevelOfTheory:
    """How PySCF computes one frame.

    ``method``: 'HF' or any PySCF/libxc functional name (restricted, closed shell).
    ``basis``: any basis name PySCF knows.  ``density_fit``: RI-J/K with PySCF's default
    auxiliary basis for ``basis`` (or ``auxbasis``).  ``conv_tol`` (hartree) and
    ``field_grid_level``: grid of the six finite-field SCFs (None: ``grid_level``).  Grid errors
    cancel in the central differences: level 1 instead of 3 changes alpha and the APTs of a water
    dimer by 2e-3 a.u. (0.01 %) and < 1e-4 e, and makes those SCFs 1.9x faster.
    ``conv_tol_grad`` (orbital gradient, a.u.) are tight because polarizability and APT are
    finite differences of dipoles and forces (an error dM gives d(alpha) = dM / field_step);
    on a water trimer (B3LYP/aug-cc-pVDZ) 1e-9/1e-6 changes alpha by 1.4e-4 a.u. and the APTs by
    3e-5 e compared with 1e-10/1e-7, and saves a tenth of the SCF cycles.
    ``grid_level``: PySCF DFT grid level (0-9).  Level 2 (PySCF's default is 3) is 1.7x faster
    and changes B3LYP/aug-cc-pVDZ polarizabilities and APTs of a water dimer by < 1e-3 a.u. and
    forces by ~1e-5 hartree/bohr (4e-4 eV/angstrom), far below the learning errors.
    """

    method: str = DEFAULT_METHOD
    basis: str = DEFAULT_BASIS
    density_fit: bool = True
    auxbasis: str | None = None
    grid_level: int = 2
    field_grid_level: int | None = 1
    conv_tol: float = 1e-9
    conv_tol_grad: float = 1e-6
    max_cycle: int = 100
    charge: int = 0
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def is_hf(self) -> bool:
        return self.method.upper() in ("HF", "RHF")

    @property
    def field_grid_level_or_default(self) -> int:
        return self.grid_level if self.field_grid_level is None else int(self.field_grid_level)

    def header(self) -> dict:
        """extxyz header entries recording this level of theory."""
        import pyscf

        head = {
            "program": f"pyscf-{pyscf.__version__}",
            "method": self.method,
            "basis": self.basis,
            "density_fit": bool(self.density_fit),
        }
        if not self.is_hf:
            head["dft_grid_level"] = int(self.grid_level)
            head["field_dft_grid_level"] = int(self.field_grid_level_or_default)
        return head

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return d
