"""Learning curves: test error vs training-set size, for one or more training configurations.

    python examples/training/learning_curve.py examples/training/water_eann.yaml \
        examples/training/water_equivariant.yaml --sizes 25 50 100 200 400 -o out/learning_curve

For every configuration and size N, trains with ``data.max_train = N`` (the test set is the same
for all N: the split is made before the training set is subsampled), then evaluates the
exported model on the test set.  Runs are resumable: a size whose report exists is skipped,
an interrupted one continues from its checkpoint.  Writes ``learning_curve.png`` (log-log test
RMSE vs N, one panel per target), ``learning_curve.json`` and ``learning_curve.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TARGETS = ("dipole", "polarizability", "apt", "energy_per_atom", "forces")


def run(configs, sizes, out: Path, epochs=None, max_minutes=None, device=None) -> dict:
    from tensorml.train import load_config
    from tensorml.train.loop import Trainer

    results: dict = {}
    for config in configs:
        name = Path(config).stem
        results[name] = {}
        for n in sizes:
            run_dir = out / name / f"n{n}"
            report_path = run_dir / "report.json"
            if not report_path.is_file():
                overrides: dict = {"data": {"max_train": n}, "training": {}}
                if epochs:
                    overrides["training"]["epochs"] = epochs
                if max_minutes:
                    overrides["training"]["max_minutes"] = max_minutes
                if device:
                    overrides["device"] = device
                cfg = load_config(config, overrides)
                cfg["output"]["dir"] = str(run_dir)
                cfg["output"]["plots"] = False
                trainer = Trainer(
                    cfg,
                    resume=(run_dir / "checkpoint.pt").is_file(),
                    progress=False,
                    log=lambda msg, name=name, n=n: print(f"[{name} n={n}] {msg}", flush=True),
                )
                trainer.setup()
                summary = trainer.train()
                if trainer.interrupted:
                    raise KeyboardInterrupt
                trainer.finish(summary)
            report = json.loads(report_path.read_text())
            test = report["metrics"].get("test", {})
            results[name][n] = {
                "train_frames": report["data"]["train"],
                "minutes": report["minutes"],
                **{t: test[t]["rmse"] for t in TARGETS if t in test},
            }
    return results


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    units = {
        "dipole": "e angstrom",
        "polarizability": "angstrom^3",
        "apt": "e",
        "energy_per_atom": "eV/atom",
        "forces": "eV/angstrom",
    }
    targets = [t for t in TARGETS if any(t in r for res in results.values() for r in res.values())]
    fig, axes = plt.subplots(1, len(targets), figsize=(3.6 * len(targets), 3.4), dpi=110, squeeze=False)
    for ax, target in zip(axes[0], targets):
        for name, res in results.items():
            pts = sorted((r["train_frames"], r[target]) for r in res.values() if target in r)
            if pts:
                ax.loglog(*zip(*pts), "o-", label=name)
        sizes = sorted({r["train_frames"] for res in results.values() for r in res.values()})
        ax.set_xticks(sizes, [str(n) for n in sizes])  # label the sizes trained, not log-scale minor ticks
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("training frames")
        ax.set_ylabel(f"test RMSE ({units[target]})")
        ax.set_title(target)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("configs", nargs="+")
    p.add_argument("--sizes", nargs="+", type=int, required=True)
    p.add_argument("-o", "--output", default="out/learning_curve")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-minutes", type=float)
    p.add_argument("--device")
    args = p.parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    results = run(args.configs, args.sizes, out, args.epochs, args.max_minutes, args.device)
    (out / "learning_curve.json").write_text(json.dumps(results, indent=1))
    lines = [
        "| model | training frames | " + " | ".join(f"test RMSE {t}" for t in TARGETS) + " | minutes |",
        "|---" * (len(TARGETS) + 3) + "|",
    ]
    for name, res in results.items():
        for _n, r in res.items():
            vals = " | ".join(f"{r[t]:.4g}" if t in r else "" for t in TARGETS)
            lines.append(f"| {name} | {r['train_frames']} | {vals} | {r['minutes']:.1f} |")
    (out / "learning_curve.md").write_text("\n".join(lines) + "\n")
    plot(results, out / "learning_curve.png")
    print("\n".join(lines))
    print(f"wrote {out / 'learning_curve.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
