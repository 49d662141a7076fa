"""Time per PIMD step of i-PI + tensorml-ipi, by beads, clients and batch size.

    python benchmarks/ipi/bench_pimd.py [--molecules 64] [--beads 1 4 8 16] [--steps 10] [--device cpu]

For a periodic water box (64 molecules = 192 atoms by default) and the reference model, runs short
path-integral NVT simulations (i-PI over a unix socket) with

* 1 client, one bead per message (batch_size 1),
* 1 client, all beads in one message (batch_size = beads: one batched forward pass per step),
* 2 clients (``mpirun -np 2 tensorml-ipi``), half of the beads each per message,

and prints a markdown table per step (milliseconds, after warm-up steps):

* ``step``: wall time per MD step, from the driver's time stamps (start of the first evaluation of
  a step to the start of the first evaluation of the next, all clients merged);
* ``model``: time in the model (neighbour lists, forward and backward passes incl. the APTs),
  summed over the evaluations of a step (with 2 clients they run in parallel);
* ``driver``: the driver's own work outside the model (unit conversions, BEC layout, JSON extras);
* ``rest``: step - (model + driver) / clients: i-PI (integration, normal modes, thermostat, parsing
  the extras, outputs) and the socket round trips;
* ``i-PI+dummy``: the step time of the same simulation served by i-PI's own ``i-pi-py_driver -m
  dummy`` (zero energy and forces): i-PI's own floor for this system and bead count.

Every step requests energy, forces, virial, dipole, BEC (APTs: three backward passes) and
polarizability (``--extras`` to change). Threads: one torch thread per client (``--threads``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ase.io import write

from tensorml.export import export_model
from tensorml.models.reference import ReferenceDipoleModel
from tensorml.structures import water_box

BIN = Path(sys.executable).parent
XML = """<simulation verbosity="{verbosity}">
  <output prefix="bench"><properties stride="{stride}" filename="out"> [ step, potential ] </properties></output>
  <total_steps>{steps}</total_steps>
  <prng><seed>1</seed></prng>
  <ffsocket name="ff" mode="unix" pbc="false">
    <address>{address}</address><latency>{latency}</latency><batch_size>{batch}</batch_size>
  </ffsocket>
  <system>
    <initialize nbeads="{beads}"><file mode="ase">init.extxyz</file>
      <velocities mode="thermal" units="kelvin">300</velocities></initialize>
    <forces><force forcefield="ff"/></forces>
    <ensemble><temperature units="kelvin">300</temperature></ensemble>
    <motion mode="dynamics"><dynamics mode="nvt"><timestep units="femtosecond">0.25</timestep>
      <thermostat mode="pile_l"><tau units="femtosecond">1000</tau></thermostat></dynamics></motion>
  </system>
</simulation>
"""


def run_sim(
    work: Path,
    beads: int,
    batch: int,
    steps: int,
    address: str,
    clients=(),
    ready=0,
    after=(),
    verbosity: str = "low",
    latency: float = 1e-4,
) -> str:
    """i-PI with ``clients`` started first (tensorml-ipi: i-PI starts once ``ready`` 'connecting to'
    lines show that all have loaded the model) and ``after`` started once i-PI listens."""
    (work / "input.xml").write_text(
        XML.format(
            beads=beads,
            batch=batch,
            steps=steps,
            address=address,
            verbosity=verbosity,
            stride=max(steps, 1),
            latency=latency,
        )
    )
    pythonpath = os.pathsep.join(os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}", OMP_NUM_THREADS="1", PYTHONPATH=pythonpath)
    procs, server = [], None

    def start(cmd):
        k = len(procs)
        with open(work / f"client{k}.err", "w") as err:
            procs.append(subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=err, env=env))

    def errors():
        return "".join((work / f"client{k}.err").read_text()[-2000:] for k in range(len(procs)))

    try:
        for cmd in clients:
            start(cmd)
        deadline = time.monotonic() + 300
        while errors().count("connecting to") < ready:
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                raise RuntimeError(f"a client did not start:\n{errors()}")
            time.sleep(0.05)
        server = subprocess.Popen(
            [str(BIN / "i-pi"), "input.xml"],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        while after and not Path(f"/tmp/ipi_{address}").exists():  # i-pi-py_driver does not wait for it
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("i-PI did not open its socket")
            time.sleep(0.05)
        for cmd in after:
            start(cmd)
        out, _ = server.communicate(timeout=1800)
        for p in procs:
            p.wait(timeout=60)
    finally:
        for p in ([server] if server else []) + procs:
            if p.poll() is None:
                p.kill()
        Path(f"/tmp/ipi_{address}").unlink(missing_ok=True)
    if server.returncode != 0 or any(p.returncode != 0 for p in procs):
        raise RuntimeError(f"run failed:\n{out[-3000:]}\n{errors()}")
    return out


def measure(
    work: Path,
    model: Path,
    beads: int,
    nclients: int,
    batch: int,
    steps: int,
    warmup: int,
    device: str,
    extras: str,
    threads: int,
    latency: float,
) -> dict:
    address = f"bench-{uuid.uuid4().hex[:8]}"
    for f in work.glob("timing_*.json"):
        f.unlink()
    cmd = [
        str(BIN / "tensorml-ipi"),
        "--model",
        str(model),
        "--template",
        "init.extxyz",
        "--unix",
        address,
        "--device",
        device,
        "--threads",
        str(threads),
        "--extras",
        extras,
        "--timing",
        "timing_{rank}.json",
    ]
    if nclients > 1:
        cmd = [str(BIN / "mpirun"), "-np", str(nclients)] + cmd
    run_sim(work, beads, batch, steps + warmup, address, clients=[cmd], ready=nclients, latency=latency)
    calls = []
    for f in sorted(work.glob("timing_*.json")):
        calls += json.loads(f.read_text())["per_call"]
    calls.sort(key=lambda c: c["start"])
    # step of each message: i-PI dispatches all beads of a step before the next step, but may split
    # them over several messages (its polling thread can wake while the beads are being queued)
    # and pads short batches with repeats; new position sums count the structures of each step
    # (at step 0 all beads sit on the initial structure)
    start = calls[0]["position_sums"][0]
    k = 0
    while all(x == start for x in calls[k]["position_sums"]):
        k += 1
    seen, step_of = set(), [0] * k
    for c in calls[k:]:
        step_of.append(1 + len(seen) // beads)
        seen.update(c["position_sums"])
    if len(seen) != beads * (steps + warmup):
        raise RuntimeError(f"{len(seen)} distinct structures after step 0, expected {beads * (steps + warmup)}")
    first = step_of.index(warmup)
    last = step_of.index(warmup + steps)
    window = calls[first:last]
    return {
        "step": 1e3 * (calls[last]["start"] - calls[first]["start"]) / steps,
        "model": 1e3 * sum(c["model_s"] for c in window) / steps,
        "driver": 1e3 * sum(c["driver_s"] for c in window) / steps,
        "messages": len(window) / steps,
        "evaluated": sum(c["evaluated"] for c in window) / steps,
    }


def dummy_floor(work: Path, beads: int, batch: int, latency: float) -> float:
    """ms per step of i-PI with its own zero-cost dummy driver (i-PI's timing over steps 101-200)."""
    address = f"bench-{uuid.uuid4().hex[:8]}"
    cmd = [str(BIN / "i-pi-py_driver"), "-m", "dummy", "-u", "-a", address]
    out = run_sim(work, beads, batch, 201, address, after=[cmd], verbosity="medium", latency=latency)
    times = re.findall(r"Average timings at MD step\s+(\d+)\. t/step:\s+([0-9.eE+-]+)", out)
    return 1e3 * float(times[-1][1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--molecules", type=int, default=64, help="water molecules (a cube number)")
    p.add_argument("--beads", type=int, nargs="+", default=[1, 4, 8, 16])
    p.add_argument("--steps", type=int, default=10, help="measured steps (after --warmup)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--extras", default="all")
    p.add_argument("--threads", type=int, default=1, help="torch threads per client")
    p.add_argument("--dtype", default="float64")
    p.add_argument("--latency", type=float, default=1e-4, help="i-PI <latency> of the <ffsocket> (s)")
    p.add_argument(
        "--configs",
        default="1x1,1xP,2xP/2",
        help="clients x batch per bead count: 1x1 (one bead per message), 1xP (all beads), 2xP/2",
    )
    p.add_argument("--no-dummy", action="store_true", help="skip the i-PI + dummy driver floor")
    args = p.parse_args()
    n = round(args.molecules ** (1 / 3))
    if n**3 != args.molecules:
        raise SystemExit("--molecules must be a cube number (8, 27, 64, 125, ...)")
    print(
        f"{args.molecules} water molecules ({3 * args.molecules} atoms), reference model ({args.dtype}), "
        f"device {args.device}, extras {args.extras}, {args.threads} torch thread(s) per client, "
        f"i-PI latency {args.latency:g} s; "
        f"ms per step over {args.steps} steps after {args.warmup}\n"
    )
    print("| beads | clients | batch | messages/step | evaluated/step | step | model | driver | rest | i-PI+dummy |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = work / "model.pt"
        export_model(ReferenceDipoleModel(), model, dtype=args.dtype)
        write(work / "init.extxyz", water_box(n, seed=0))
        for beads in args.beads:
            known = {"1x1": (1, 1), "1xP": (1, beads), "2xP/2": (2, beads // 2)}
            configs = []
            for name in args.configs.split(","):
                c = known[name.strip()]
                if c[1] >= 1 and c not in configs and (c[0] == 1 or beads >= 2):
                    configs.append(c)
            floor = {}
            for clients, batch in configs:
                m = measure(
                    work,
                    model,
                    beads,
                    clients,
                    batch,
                    args.steps,
                    args.warmup,
                    args.device,
                    args.extras,
                    args.threads,
                    args.latency,
                )
                if not args.no_dummy and batch not in floor:
                    floor[batch] = dummy_floor(work, beads, batch, args.latency)
                rest = m["step"] - (m["model"] + m["driver"]) / clients
                dummy = "" if args.no_dummy else f"{floor[batch]:.1f}"
                print(
                    f"| {beads} | {clients} | {batch} | {m['messages']:.2f} | {m['evaluated']:.1f} | {m['step']:.1f} | {m['model']:.1f} | {m['driver']:.1f} "  # noqa: E501
                    f"| {rest:.1f} | {dummy} |",
                    flush=True,
                )
                time.sleep(0.5)


if __name__ == "__main__":
    main()
