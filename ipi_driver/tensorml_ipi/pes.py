"""A tensorml model as an i-PI potential-energy surface (PES) class.

Used three ways, all through i-PI's own driver machinery:

* ``tensorml-ipi --model model.pt --template init.xyz --unix NAME`` (the common case),
* ``i-pi-py_driver -m custom -P <this file> -o template=init.xyz,model=model.pt``,
* in-process ``<ffdirect pes="custom" pes_path="<this file>">`` with
  ``<parameters>{template: init.xyz, model: model.pt}</parameters>``.

Everything on the wire is in i-PI's atomic units (bohr, hartree); values are
converted from the model's units (its metadata) with :mod:`tensorml.units`.
The extras JSON string of each structure holds

* ``dipole``: [3], e*bohr (the key i-PI's dipole property and driven dynamics read),
* ``BEC``: [3N][3], e, row 3i+a = dM/dR_ia, columns = dipole x, y, z, i.e.
  ``BEC[3i+a, b] = apt[i, b, a]`` (the layout of i-PI's ``<bec mode="driver">``),
* ``polarizability``: [3][3], bohr^3 (polarizability volume), if the model has it,
* ``charges``: [N], e, if the model has them.
"""

from __future__ import annotations

import json

import numpy as np
from ipi.pes.dummy import Dummy_driver

__DRIVER_NAME__ = "tensorml"
__DRIVER_CLASS__ = "TensorMLDriver"


def _as_bool(value) -> bool:
    if isinstance(value, str):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"not a boolean: {value!r}")
    return bool(value)


def bec_from_apt(apt: np.ndarray) -> np.ndarray:
    """i-PI's BEC layout (3N, 3) from APTs [N, a, b] = dM_a/dr_ib: BEC[3i+b, a] = apt[i, a, b]."""
    apt = np.asarray(apt)
    return apt.transpose(0, 2, 1).reshape(-1, 3)


class TensorMLDriver(Dummy_driver):
    """i-PI PES evaluating a tensorml model file.

    :param template: ASE-readable structure giving the elements (in i-PI's atom order) and
        the periodicity (a template without a cell is treated as a molecule/cluster)
    :param model: tensorml model file (TorchScript contract)
    :param device: torch device, "cpu" or "cuda[:N]"
    :param properties_only: if true, return zero energy/forces/virial and only the extras, so
        the model adds tensors along dynamics driven by another force field
    """

    def __init__(self, template, model, device="cpu", properties_only=False, verbose=False, *args, **kwargs):
        self.template = template
        self.model_path = model
        self.device = str(device)
        self.properties_only = _as_bool(properties_only)
        super().__init__(verbose, *args, **kwargs)

    def check_parameters(self):
        from ase.io import read

        from tensorml import units as U
        from tensorml.runtime import ExportedModel

        self.model = ExportedModel.load(self.model_path, device=self.device)
        atoms = read(self.template)
        self.numbers = np.asarray(atoms.numbers, dtype=np.int64)
        self.model.check_species(self.numbers)
        self.pbc = np.asarray(atoms.pbc, dtype=bool)
        outputs = self.model.outputs
        requested = []
        if not self.properties_only:
            if "forces" not in outputs:
                raise ValueError(
                    f"{self.model_path} has no energy/forces: run it with properties_only=true "
                    "next to another force field"
                )
            requested += ["energy", "forces"] + (["virial"] if self.pbc.any() else [])
        requested += [o for o in ("dipole", "apt", "polarizability", "charges") if o in outputs]
        if not requested:
            raise ValueError(f"{self.model_path} provides nothing i-PI can use ({outputs})")
        self.requested = requested
        units = self.model.units
        self.to_model_length = U.factor(U.LENGTH, U.ATOMIC, units)
        self.to_au = {name: U.factor(U.Dimension.from_list(spec["dimension"]), units, U.ATOMIC)
                      for name, spec in self.model.metadata["outputs"].items()}

    def _system(self, cell, pos):
        from tensorml.runtime import System

        pos = np.asarray(pos, dtype=np.float64).reshape(-1, 3)
        if len(pos) != len(self.numbers):
            raise ValueError(
                f"i-PI sent {len(pos)} atoms but the template {self.template} has {len(self.numbers)}"
            )
        # i-PI's cell matrix h has the lattice vectors as columns
        cell = np.asarray(cell, dtype=np.float64).reshape(3, 3).T
        return System(self.numbers, pos * self.to_model_length, cell * self.to_model_length, self.pbc)

    def _reply(self, result):
        n = len(self.numbers)
        c = self.to_au
        if self.properties_only:
            pot, force, vir = 0.0, np.zeros((n, 3)), np.zeros((3, 3))
        else:
            pot = float(result["energy"]) * c["energy"]
            force = np.asarray(result["forces"], dtype=np.float64) * c["forces"]
            vir = (np.asarray(result["virial"]).T * c["virial"]) if "virial" in result else np.zeros((3, 3))
        extras = {}
        if "dipole" in result:
            extras["dipole"] = (result["dipole"] * c["dipole"]).tolist()
        if "apt" in result:
            extras["BEC"] = (bec_from_apt(result["apt"]) * c["apt"]).tolist()
        if "polarizability" in result:
            extras["polarizability"] = (result["polarizability"] * c["polarizability"]).tolist()
        if "charges" in result:
            extras["charges"] = (result["charges"] * c["charges"]).tolist()
        return pot, np.ascontiguousarray(force, dtype=np.float64), np.ascontiguousarray(vir, np.float64), \
            json.dumps(extras)

    def compute_structure(self, cell, pos):
        return self.compute([cell], [pos])[0]

    def compute(self, cell, pos):
        """One structure, or lists of structures (i-PI batch mode) in one batched forward pass."""
        if not isinstance(cell, list):
            return self.compute_structure(cell, pos)
        if not isinstance(pos, list) or len(cell) != len(pos):
            raise ValueError("batched mode needs lists of cells and positions of equal length")
        systems = [self._system(h, q) for h, q in zip(cell, pos)]
        results = self.model.evaluate(systems, self.requested)
        return [self._reply(r) for r in results]
