"""A tensorml model as an i-PI potential-energy surface (PES) class.

Used three ways, all through i-PI's own driver machinery (see ``docs/ipi.md``):

* ``tensorml-ipi --model model.pt --template init.xyz --unix NAME`` (the common case),
* ``i-pi-py_driver -m custom -P <this file> -o template=init.xyz,model=model.pt,device=cpu``
  (``tensorml-ipi --pes-path`` prints the path of this file),
* in-process ``<ffdirect pes="custom" pes_path="<this file>">`` with
  ``<parameters>{template: init.xyz, model: model.pt, device: cpu}</parameters>``.

Everything on the wire is in i-PI's atomic units (bohr, hartree); values are
converted from the model's units (its metadata) with :mod:`tensorml.units`.
The extras JSON string of each structure holds (:data:`EXTRAS`)

* ``dipole``: [3], e*bohr (the key i-PI's dipole property and driven dynamics read),
* ``BEC``: [3N][3], e, row 3i+a = dM/dR_ia, columns = dipole x, y, z, i.e.
  ``BEC[3i+a, b] = apt[i, b, a]`` (the layout of i-PI's ``<bec mode="driver">``),
* ``polarizability``: [3][3], bohr^3 (polarizability volume), if the model has it,
* ``charges``: [N], e, if the model has them,
* ``electron_pairs`` ([M][3], bohr), ``relax_iterations`` and ``max_pair_force`` (hartree/bohr)
  for explicit-electron (eMLP) models, whose pairs are relaxed for every structure, warm-started
  from the stored configuration with the closest cores (per bead; see ``docs/ipi.md``),

and never the key ``raw`` (i-PI reserves it).  Batches of structures (i-PI
``batch_size``, ``<ffdirect>`` batches) are evaluated in one forward pass.

A structure the model cannot evaluate (non-finite positions from i-PI, non-finite
model outputs, a wrong atom count) raises :class:`DriverError` naming the
evaluation, the structure in the batch and the atoms: it is never answered.

This file is also loaded by i-PI as a stand-alone module (``-P``/``pes_path``), so it
uses absolute imports only.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from ipi.pes.dummy import Dummy_driver

__DRIVER_NAME__ = "tensorml"
__DRIVER_CLASS__ = "TensorMLDriver"

#: extras key -> (model output, unit); the order in which they are written
EXTRAS = {
    "dipole": ("dipole", "e*bohr"),
    "BEC": ("apt", "e"),
    "polarizability": ("polarizability", "bohr^3"),
    "charges": ("charges", "e"),
    "atomic_dipoles": ("atomic_dipoles", "e*bohr"),
    # explicit-electron (eMLP) models, relaxed at every call: the relaxed electron-pair
    # positions [M][3], the relaxation's iteration count and its final largest pair force
    "electron_pairs": ("electron_pairs", "bohr"),
    "relax_iterations": ("relax_iterations", "1"),
    "max_pair_force": ("max_pair_force", "hartree/bohr"),
}
#: extras written when nothing is asked for (those the model has)
DEFAULT_EXTRAS = ("dipole", "BEC", "polarizability", "charges", "electron_pairs", "relax_iterations", "max_pair_force")
#: environment variables holding the node-local rank of a process started by mpirun/srun/torchrun
LOCAL_RANK_VARIABLES = (
    "MPI_LOCALRANKID",
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "MV2_COMM_WORLD_LOCAL_RANK",
    "SLURM_LOCALID",
    "LOCAL_RANK",
)


class DriverError(Exception):
    """A structure or configuration the model cannot handle; reported, never answered."""


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


def local_rank() -> int | None:
    """Node-local rank of this process under mpirun/srun/torchrun, if any."""
    for name in LOCAL_RANK_VARIABLES:
        value = os.environ.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    return None


def resolve_device(device: str) -> str:
    """``auto`` -> cuda if available, else cpu; a bare ``cuda`` on a node with several GPUs ->
    ``cuda:<local rank mod GPUs>`` so K clients started by mpirun spread over the GPUs."""
    import torch

    device = str(device).strip().lower()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} asked for, but torch sees no CUDA device "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda})"
            )
        count = torch.cuda.device_count()
        if device == "cuda":
            rank = local_rank()
            device = f"cuda:{(rank or 0) % count}"
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        if index >= count:
            raise ValueError(f"device {device!r} asked for, but torch sees {count} CUDA device(s)")
    elif device != "cpu":
        raise ValueError(f"unknown device {device!r}: use cpu, cuda, cuda:N or auto")
    return device


def parse_extras(extras) -> tuple[str, ...] | None:
    """'all' (None: the defaults the model has), 'none', or names separated by ',', '+' or spaces."""
    if extras is None:
        return None
    if isinstance(extras, (list, tuple)):
        names = [str(e) for e in extras]
    else:
        text = str(extras).strip()
        if text.lower() in ("", "all", "default"):
            return None
        if text.lower() == "none":
            return ()
        names = text.replace("+", ",").replace(" ", ",").split(",")
    names = [n.strip() for n in names if n.strip()]
    aliases = {"apt": "BEC", "bec": "BEC", "alpha": "polarizability"}
    out = []
    for n in names:
        n = aliases.get(n.lower(), n)
        if n not in EXTRAS:
            raise ValueError(f"unknown extras key {n!r}; known: {', '.join(EXTRAS)} (or all, none)")
        if n not in out:
            out.append(n)
    return tuple(out)


class TensorMLDriver(Dummy_driver):
    """i-PI PES evaluating a tensorml model file.

    :param template: ASE-readable structure giving the elements (in i-PI's atom order) and
        the periodicity (a template without a cell is treated as a molecule/cluster)
    :param model: tensorml model file (TorchScript contract)
    :param device: torch device: auto (default: cuda if available, else cpu), cpu, cuda, cuda:N; a
        bare cuda picks the GPU from the node-local MPI rank when there are several
    :param properties_only: if true, return zero energy/forces/virial and only the extras, so
        the model adds tensors along dynamics driven by another force field
    :param extras: extras keys to write ('all' = those of dipole, BEC, polarizability, charges
        the model has; 'none'; or a list separated by ',' or '+'); fewer keys = less work
        (BEC needs three backward passes)
    :param threads: torch intra-op threads (0: torch's default)
    :param timing: keep per-call timings in ``self.timings`` (benchmarks)
    """

    def __init__(
        self,
        template,
        model,
        device="auto",
        properties_only=False,
        extras="all",
        threads=0,
        timing=False,
        verbose=False,
        *args,
        **kwargs,
    ):
        # <ffdirect> adds 'verbosity'; anything else is a typo that would otherwise pass silently
        unknown = sorted(k for k in kwargs if k != "verbosity")
        if unknown or args:
            raise ValueError(
                f"tensorml driver: unknown parameter(s) {unknown or list(args)}; known: template, model, "
                "device, properties_only, extras, threads, timing"
            )
        self.template = str(template)
        self.model_path = str(model)
        self.device_requested = str(device).strip().lower()
        self.device = resolve_device(device)
        self.properties_only = _as_bool(properties_only)
        self.extras_wanted = parse_extras(extras)
        self.threads = int(threads)
        self.keep_timings = _as_bool(timing)
        self.calls = 0  # compute() calls (one per POSDATA of i-PI: a structure or a batch)
        self.structures = 0  # structures received
        self.evaluated = 0  # structures evaluated (identical ones in a batch once)
        self.time_model = 0.0  # seconds in the model (neighbour lists, forward and backward passes)
        self.time_driver = 0.0  # seconds in this class outside the model (conversions, JSON)
        # per call: (start, structures, evaluated, model s, driver s, sum of the positions of each structure)
        self.timings: list[tuple[float, int, int, float, float, list[float]]] = []
        super().__init__(verbose)

    # ------------------------------------------------------------------ setup
    def check_parameters(self):
        from ase.io import read

        from tensorml import units as U
        from tensorml.runtime import has_explicit_electrons, load_model, read_file_metadata

        if self.threads > 0:
            import torch

            torch.set_num_threads(self.threads)
        from tensorml.allocator import keep_freed_memory

        keep_freed_memory()  # no page faults for torch's large buffers on every call (tensorml/allocator.py)
        if not os.path.isfile(self.template):
            raise FileNotFoundError(f"template structure not found: {self.template}")
        atoms = read(self.template)
        options = {}
        if has_explicit_electrons(read_file_metadata(self.model_path)):
            # total charge for the Lewis guess of the first structure; one stored electron
            # configuration per bead (and then some) for the warm starts
            # (the relaxation runs on the model's device, batched over the beads of a call)
            options = {"charge": int(atoms.info.get("charge", 0)), "memory": 256}
        self.model = load_model(self.model_path, device=self.device, **options)
        self.numbers = np.asarray(atoms.numbers, dtype=np.int64)
        self.model.check_species(self.numbers)
        self.pbc = np.asarray(atoms.pbc, dtype=bool)
        if self.pbc.any() and abs(np.linalg.det(atoms.cell.array)) < 1e-12:
            raise ValueError(f"{self.template} is periodic but has no valid cell")
        outputs = self.model.outputs
        requested = []
        if not self.properties_only:
            if "forces" not in outputs:
                raise ValueError(
                    f"{self.model_path} has no energy/forces: run it with properties_only=true "
                    "next to another force field"
                )
            # the virial only matters for periodic systems (and only i-PI's NPT uses it); a model
            # without one sends zeros, which describe() says
            requested += ["energy", "forces"] + (["virial"] if self.pbc.any() and "virial" in outputs else [])
        if self.extras_wanted is None:
            keys = [k for k in DEFAULT_EXTRAS if EXTRAS[k][0] in outputs]
        else:
            missing = [k for k in self.extras_wanted if EXTRAS[k][0] not in outputs]
            if missing:
                raise ValueError(
                    f"{self.model_path} cannot give the extras {missing} (its outputs: {', '.join(outputs)})"
                )
            keys = list(self.extras_wanted)
        self.extras_keys = keys
        requested += [EXTRAS[k][0] for k in keys]
        if not requested:
            raise ValueError(f"{self.model_path}: nothing to compute (properties only and no extras)")
        self.requested = requested
        units = self.model.units
        self.to_model_length = U.factor(U.LENGTH, U.ATOMIC, units)
        self.to_au = {
            name: U.factor(U.Dimension.from_list(spec["dimension"]), units, U.ATOMIC)
            for name, spec in self.model.metadata["outputs"].items()
        }

    def describe(self) -> str:
        """One line for logs: model, device, what is computed and sent."""
        if self.properties_only:
            what = "zero energy/forces (properties only)"
        elif "virial" in self.requested:
            what = "energy, forces, virial"
        else:
            what = "energy, forces" + (", zero virial (the model has none: no NPT)" if self.pbc.any() else "")
        extras = ", ".join(self.extras_keys) or "none"
        return (
            f"{self.model_path} on {self.device}, {len(self.numbers)} atoms from {self.template}; "
            f"sends {what}; extras: {extras}"
        )

    # ------------------------------------------------------------------ evaluation
    def _system(self, cell, pos, k, nbatch):
        from tensorml.runtime import System

        pos = np.asarray(pos, dtype=np.float64).reshape(-1, 3)
        if len(pos) != len(self.numbers):
            raise DriverError(
                f"{self._where(k, nbatch)}: i-PI sent {len(pos)} atoms but the template "
                f"{self.template} has {len(self.numbers)}"
            )
        if not np.all(np.isfinite(pos)):
            bad = np.unique(np.nonzero(~np.isfinite(pos))[0])
            raise DriverError(
                f"{self._where(k, nbatch)}: i-PI sent non-finite positions of atom(s) "
                f"{self._atoms(bad)} (the dynamics diverged?)"
            )
        # i-PI's cell matrix h has the lattice vectors as columns
        cell = np.asarray(cell, dtype=np.float64).reshape(3, 3).T
        return System(self.numbers, pos * self.to_model_length, cell * self.to_model_length, self.pbc)

    def _where(self, k, nbatch) -> str:
        where = f"evaluation {self.calls} of this driver"
        if nbatch > 1:
            where += f", structure {k + 1} of the batch of {nbatch}"
        return where

    def _atoms(self, indices, limit=8) -> str:
        from ase.data import chemical_symbols

        shown = ", ".join(f"{i} ({chemical_symbols[self.numbers[i]]})" for i in indices[:limit])
        return shown + (f" and {len(indices) - limit} more" if len(indices) > limit else "")

    def _diagnose(self, systems, origin, nbatch) -> str:
        """Which structure and atoms gave non-finite outputs (only called after a failure)."""
        import torch

        for k, s in zip(origin, systems):
            try:
                with torch.enable_grad():
                    out = self.model.module(self.model.inputs([s]), list(self.requested))
            except Exception as err:  # noqa: BLE001 - diagnostics must not hide the original error
                return f"{self._where(k, nbatch)}: the model failed ({err})"
            names, atoms = [], None
            for name in self.requested:
                value = out[name].detach().to("cpu", torch.float64).numpy()
                if np.all(np.isfinite(value)):
                    continue
                names.append(name)
                if atoms is None and self.model.metadata["outputs"][name]["per_atom"]:
                    atoms = np.nonzero(~np.isfinite(value.reshape(len(value), -1)).all(axis=1))[0]
            if not names:
                continue
            msg = f"{self._where(k, nbatch)}: the model returned non-finite {', '.join(names)}"
            if atoms is not None:
                msg += f" (atom(s) {self._atoms(atoms)})"
            pos = s.positions
            d = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(len(pos)) * 1e300
            i, j = np.unravel_index(np.argmin(d), d.shape)
            return msg + (
                f"; shortest interatomic distance {d[i, j] / self.to_model_length:.3g} bohr "
                f"(atoms {i}, {j}; periodic images not searched)"
            )
        return f"{self._where(0, nbatch)}: the model returned non-finite values"

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
        for key in self.extras_keys:
            name = EXTRAS[key][0]
            value = np.asarray(result[name], dtype=np.float64) * c[name]
            extras[key] = (bec_from_apt(value) if key == "BEC" else value).tolist()
        return (
            pot,
            np.ascontiguousarray(force, dtype=np.float64),
            np.ascontiguousarray(vir, np.float64),
            json.dumps(extras),
        )

    def compute_structure(self, cell, pos):
        return self.compute([cell], [pos])[0]

    def compute(self, cell, pos):
        """One structure, or lists of structures (i-PI batch mode) in one batched forward pass.

        Identical structures in a batch are evaluated once: i-PI pads a short batch with copies of
        its last structure (and at step 0 all beads coincide), which would otherwise cost full
        model evaluations."""
        if not isinstance(cell, list):
            return self.compute_structure(cell, pos)
        if not isinstance(pos, list) or len(cell) != len(pos):
            raise ValueError("batched mode needs lists of cells and positions of equal length")
        t0 = time.perf_counter()
        self.calls += 1
        n = len(cell)
        first: dict[tuple[bytes, bytes], int] = {}
        slot, origin = [], []  # structure -> unique structure; unique structure -> its first structure
        for k, (h, q) in enumerate(zip(cell, pos)):
            key = (np.ascontiguousarray(q, np.float64).tobytes(), np.ascontiguousarray(h, np.float64).tobytes())
            if key not in first:
                first[key] = len(origin)
                origin.append(k)
            slot.append(first[key])
        systems = [self._system(cell[k], pos[k], k, n) for k in origin]
        t1 = time.perf_counter()
        try:
            results = self.model.evaluate(systems, self.requested)
        except FloatingPointError as err:
            if not hasattr(self.model, "inputs"):  # not a contract model: its message says where
                raise DriverError(f"{self._where(0, n)}: {err}") from None
            raise DriverError(self._diagnose(systems, origin, n)) from None
        except Exception as err:  # noqa: BLE001 - e.g. out of GPU memory: say where, never answer
            raise DriverError(
                f"{self._where(0, 1)}: the model failed on a batch of {len(systems)} "
                f"structure(s): {type(err).__name__}: {err}"
            ) from err
        t2 = time.perf_counter()
        unique = [self._reply(r) for r in results]
        replies = [
            unique[j] if origin[j] == k else (unique[j][0], unique[j][1].copy(), unique[j][2].copy(), unique[j][3])
            for k, j in enumerate(slot)
        ]
        t3 = time.perf_counter()
        self.structures += n
        self.evaluated += len(systems)
        self.time_model += t2 - t1
        self.time_driver += (t1 - t0) + (t3 - t2)
        if self.keep_timings:  # the sums of the positions tell steps and i-PI's padding repeats apart
            self.timings.append((t0, n, len(systems), t2 - t1, (t1 - t0) + (t3 - t2), [float(np.sum(p)) for p in pos]))
        return replies
