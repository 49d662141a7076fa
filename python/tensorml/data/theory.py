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
    ``conv_tol_grad`` (orbital gradient, a.u.) are tight because polarizability and APT are
    finite differences of dipoles and forces (an error dM gives d(alpha) = dM / field_step).
    ``grid_level``: PySCF DFT grid level (0-9).
    """

    method: str = DEFAULT_METHOD
    basis: str = DEFAULT_BASIS
    density_fit: bool = True
    auxbasis: str | None = None
    grid_level: int = 3
    conv_tol: float = 1e-10
    conv_tol_grad: float = 1e-7
    max_cycle: int = 100
    charge: int = 0
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def is_hf(self) -> bool:
        return self.method.upper() in ("HF", "RHF")

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
        return head

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return d
