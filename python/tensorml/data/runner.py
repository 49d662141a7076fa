"""Label many frames: in parallel, with a progress bar, resumable, skipping failed frames.

Output files (``OUT`` is the extxyz to write):

* ``OUT``: one labelled frame per input frame that succeeded, in completion order (sorted
  by ``frame_index`` once every frame is done).  Each frame records ``frame_index`` (its
  position in the input selection), the level of theory and ``label_seconds``.
* ``OUT.failed.jsonl``: one JSON line per skipped frame (``frame_index``, ``reason``).
* ``FIELD_OUT`` (optional): the six +/-h finite-field frames of every labelled frame, with
  ``parent_frame_index`` and ``efield`` (eMLP field-perturbed training data).

Resuming: frames whose ``frame_index`` is already in ``OUT`` or in the failure log are not
recomputed (``retry_failed=True`` retries the failures).  Frames are appended one by one
with a single write + fsync, and a torn last block (the run killed mid-write) is cut off
on restart, so an interrupted run loses no finished frame.

Parallelism: ``workers`` processes (default: the usable cores), each with
``threads = cores // workers`` OpenMP/BLAS threads, so both cores of a 2-core machine are
busy without oversubscription.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from .extxyz import append_frames, frame_to_extxyz, truncate_torn_tail
from .labels import FrameFailure, LabelRequest, label_frame
from .theory import LevelOfTheory

#: info keys of the input frame that are replaced by labels (never copied through).
_LABEL_INFO = {"energy", "dipole", "polarizability", "free_energy", "stress", "n_electron_pairs"}
_LABEL_ARRAYS = {"forces", "apt", "born_charges"}


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass
class LabelSummary:
    total: int = 0
    skipped_done: int = 0
    labelled: int = 0
    failed: list = field(default_factory=list)
    seconds: float = 0.0


def failed_log_path(output: str | Path) -> Path:
    return Path(str(output) + ".failed.jsonl")


def _done_indices(output: Path) -> set[int]:
    from ase.io import iread

    done = set()
    if output.exists() and output.stat().st_size:
        for atoms in iread(output, format="extxyz"):
            if "frame_index" in atoms.info:
                done.add(int(atoms.info["frame_index"]))
    return done


def _failed_indices(path: Path) -> set[int]:
    out = set()
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                out.add(int(json.loads(line)["frame_index"]))
    return out


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _init_worker(threads: int) -> None:
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    from pyscf import lib

    lib.num_threads(threads)


def _work(index, atoms, level, request):
    t0 = time.perf_counter()
    try:
        result = label_frame(atoms, level, request)
    except FrameFailure as err:
        return index, None, str(err), time.perf_counter() - t0
    except Exception as err:  # noqa: BLE001 - any crash of one frame must not stop the run
        return index, None, f"{type(err).__name__}: {err}", time.perf_counter() - t0
    return index, result, None, time.perf_counter() - t0


def _labelled_frame(atoms: Atoms, index: int, labels: dict, header: dict, seconds: float) -> Atoms:
    out = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions)
    for key, value in atoms.info.items():
        if key not in _LABEL_INFO and key != "electron_pairs":
            out.info[key] = value
    for key, value in atoms.arrays.items():
        if key not in ("numbers", "positions") and key not in _LABEL_ARRAYS and np.asarray(value).ndim <= 2:
            out.arrays[key] = value
    out.info.update(header)
    out.info["frame_index"] = int(index)
    for key in ("energy", "dipole", "polarizability", "efield", "charge", "electron_pairs"):
        if key in labels:
            out.info[key] = labels[key]
    for key in ("forces", "apt"):
        if key in labels:
            out.arrays[key] = np.asarray(labels[key])
    out.info["label_seconds"] = round(float(seconds), 2)
    return out


def _field_frames(atoms: Atoms, index: int, frames: list[dict], header: dict) -> list[Atoms]:
    out = []
    for k, ff in enumerate(frames):
        a = _labelled_frame(atoms, index, ff, header, 0.0)
        del a.info["frame_index"], a.info["label_seconds"]
        if "field_dft_grid_level" in header:  # the field SCFs ran on their own grid
            a.info["dft_grid_level"] = header["field_dft_grid_level"]
        a.info["parent_frame_index"] = int(index)
        a.info["field_frame"] = k
        out.append(a)
    return out


def sort_output(path: str | Path, key: str = "frame_index") -> None:
    """Rewrite an output file with its frames sorted by ``key`` (atomic replace)."""
    from ase.io import iread

    path = Path(path)
    if not path.exists():
        return
    blocks = []
    for atoms in iread(path, format="extxyz"):
        blocks.append(atoms)
    # re-read as raw text blocks to keep the exact bytes ASE wrote
    texts = extxyz_blocks(path)
    if len(texts) != len(blocks):  # pragma: no cover - defensive
        return
    order = sorted(
        range(len(blocks)), key=lambda i: (int(blocks[i].info.get(key, -1)), int(blocks[i].info.get("field_frame", 0)))
    )
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(texts[i] for i in order))
    os.replace(tmp, path)


def _drop_orphan_field_frames(path: Path, done: set[int]) -> None:
    from ase.io import iread

    if not path.exists() or not path.stat().st_size:
        return
    parents = [int(a.info.get("parent_frame_index", -1)) for a in iread(path, format="extxyz")]
    if all(p in done for p in parents):
        return
    texts = extxyz_blocks(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(t for t, p in zip(texts, parents) if p in done))
    os.replace(tmp, path)


def extxyz_blocks(path: Path) -> list[str]:
    """The text of each frame of an extxyz file (count line, comment line, atom lines)."""
    lines = path.read_text().splitlines(keepends=True)
    blocks, i = [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        n = int(lines[i].split()[0])
        blocks.append("".join(lines[i : i + n + 2]))
        i += n + 2
    return blocks


def label_structures(
    frames: list[Atoms],
    output: str | Path,
    level: LevelOfTheory = LevelOfTheory(),
    request: LabelRequest = LabelRequest(),
    workers: int | None = None,
    field_output: str | Path | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    sort: bool = True,
    log=None,
) -> LabelSummary:
    """Label ``frames`` into ``output`` (see the module docstring).  Returns a summary."""
    from tqdm import tqdm

    log = log or (lambda msg: tqdm.write(msg, file=sys.stderr))
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fail_path = failed_log_path(output)
    if request.field_frames and field_output is None:
        raise ValueError("field frames requested but no field output file given")
    if field_output is not None:
        field_output = Path(field_output)
        truncate_torn_tail(field_output)
    truncate_torn_tail(output)
    done = _done_indices(output)
    if field_output is not None:
        # field frames are written before their frame: drop those of a frame that never made it
        _drop_orphan_field_frames(field_output, done)
    failed_before = set() if retry_failed else _failed_indices(fail_path)
    if retry_failed and fail_path.exists():
        fail_path.unlink()
    pending = [i for i in range(len(frames)) if i not in done and i not in failed_before]
    summary = LabelSummary(total=len(frames), skipped_done=len(frames) - len(pending))
    if summary.skipped_done:
        log(
            f"resuming: {len(done)} frame(s) already in {output}, {len(failed_before & set(range(len(frames))))} "
            f"known failure(s) skipped, {len(pending)} to do"
        )
    if not pending:
        if sort:
            sort_output(output)
        return summary

    cores = usable_cores()
    workers = max(1, min(workers or cores, len(pending)))
    threads = max(1, cores // workers)
    header = dict(level.header())
    if request.needs_field_scfs:
        header["field_step_au"] = float(request.field_step_au)
    t_start = time.perf_counter()

    def handle(index, result, error, seconds, bar):
        if error is not None:
            summary.failed.append((index, error))
            with open(fail_path, "a", encoding="utf-8") as fh:
                fh.write(
                    json.dumps(
                        {
                            "frame_index": int(index),
                            "reason": error,
                            "n_atoms": len(frames[index]),
                            "seconds": round(seconds, 2),
                        }
                    )
                    + "\n"
                )
            log(f"frame {index}: skipped: {error}")
        else:
            if field_output is not None and result["field_frames"]:
                append_frames(field_output, _field_frames(frames[index], index, result["field_frames"], header))
            append_frames(output, [_labelled_frame(frames[index], index, result["labels"], header, seconds)])
            summary.labelled += 1
        bar.update(1)

    bar = tqdm(total=len(pending), desc="labelling", unit="frame", disable=not progress, file=sys.stderr)
    try:
        if workers == 1:
            _init_worker(threads)
            for i in pending:
                handle(*_work(i, frames[i], level, request), bar)
        else:
            import multiprocessing as mp

            order = pending  # input order: an interrupted run has labelled a prefix of the input
            ctx = mp.get_context("spawn")
            # the thread counts must be in the environment when a worker starts: numpy's BLAS
            # reads them once, when the worker unpickles its first task and imports numpy
            saved = {var: os.environ.get(var) for var in _THREAD_VARS}
            os.environ.update({var: str(threads) for var in _THREAD_VARS})
            try:
                with ProcessPoolExecutor(
                    workers, mp_context=ctx, initializer=_init_worker, initargs=(threads,)
                ) as pool:
                    futures = [pool.submit(_work, i, frames[i], level, request) for i in order]
                    for fut in as_completed(futures):
                        handle(*fut.result(), bar)
            finally:
                for var, value in saved.items():
                    if value is None:
                        os.environ.pop(var, None)
                    else:
                        os.environ[var] = value
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - t_start
    if sort:
        sort_output(output)
        if field_output is not None:
            sort_output(field_output, key="parent_frame_index")
    return summary


__all__ = ["label_structures", "LabelSummary", "sort_output", "failed_log_path", "frame_to_extxyz", "extxyz_blocks"]
