"""The training loop of ``tensorml train``.

One straight path: read labelled frames (:func:`tensorml.data.read_dataset`), split whole
molecules/clusters into train/validation/test, build the model, initialize its baselines
from the training data, and minimize the weighted, normalized loss of :mod:`.losses` with
Adam.  Every step runs the contract module that gets exported (forces and APTs are autograd
derivatives kept differentiable with ``create_graph``), so what is trained is what LAMMPS,
i-PI and ASE evaluate.

* Progress: a bar per epoch with the running loss, one line per epoch (validation RMSE per
  target in model units, learning rate, time).
* Checkpoints: ``checkpoint.pt`` after every epoch and on interrupt (Ctrl-C / SIGTERM; the
  position inside the epoch is kept), ``best.pt`` at every validation improvement (EMA
  weights when enabled).  Both are model checkpoints (``tensorml export best.pt``) that also
  carry the training state; ``tensorml train config.yaml --resume`` continues exactly (the
  order of frames in epoch e is a function of (seed, e) only).
* Learning rate: Adam, decayed on a validation plateau or exponentially per epoch; early
  stopping on the validation loss; optional exponential moving average of the weights.
* End: the best weights are exported (``output.model``) and evaluated *through the exported
  file* on the train/validation/test splits: ``report.json``, ``report.md`` and parity plots
  (test split) next to the model, plus ``training_curve.png``.

Deterministic for a given seed on a given device and torch build.
"""

from __future__ import annotations

import copy
import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import checkpoint
from ..contract_module import ContractModule
from ..models import build_model
from . import data as D
from .config import DEFAULT_WEIGHTS
from .losses import NEEDS, loss_terms, target_scales

DTYPES = {"float32": torch.float32, "float64": torch.float64}


class EMA:
    """Exponential moving average of the trainable parameters (decay warmed up over the first steps)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = float(decay)
        self.shadow = {k: p.detach().clone() for k, p in model.named_parameters() if p.requires_grad}
        self.updates = 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        for k, p in model.named_parameters():
            if k in self.shadow:
                self.shadow[k].mul_(d).add_(p.detach(), alpha=1.0 - d)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.decay = state["decay"]
        self.updates = state["updates"]
        self.shadow = {k: v.clone() for k, v in state["shadow"].items()}

    def swapped(self, model: torch.nn.Module):
        ema = self

        class _Swap:
            def __enter__(self_inner):
                self_inner.saved = {}
                with torch.no_grad():
                    for k, p in model.named_parameters():
                        if k in ema.shadow:
                            self_inner.saved[k] = p.detach().clone()
                            p.copy_(ema.shadow[k])

            def __exit__(self_inner, *exc):
                with torch.no_grad():
                    for k, p in model.named_parameters():
                        if k in self_inner.saved:
                            p.copy_(self_inner.saved[k])
                return False

        return _Swap()


class Trainer:
    def __init__(
        self,
        config: dict[str, Any],
        resume: str | Path | bool | None = None,
        progress: bool | None = None,
        log: Callable[[str], None] | None = None,
    ):
        self.cfg = config
        self.out_dir = Path(config["output"]["dir"])
        self.ckpt_dir = Path(config["output"].get("checkpoint_dir") or self.out_dir)
        self.resume = resume
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.log = log or (lambda msg: print(msg, flush=True))
        self.device = torch.device(config["device"])
        self.dtype = DTYPES[config["dtype"]]
        self.interrupted = False

    # -- setup -----------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        seed = int(cfg["seed"])
        torch.manual_seed(seed)
        ckpt = None
        if self.resume:
            path = self.ckpt_dir / "checkpoint.pt" if self.resume is True else Path(self.resume)
            if not path.is_file():
                raise FileNotFoundError(f"no checkpoint to resume from at {path}")
            ckpt = checkpoint.load(path)
            self.log(f"resuming from {path} (epoch {ckpt['epoch']}, batch {ckpt['batch_in_epoch']})")

        t0 = time.time()
        frames = self._read(cfg["data"]["train"])
        test_frames = self._read(cfg["data"]["test"]) if cfg["data"]["test"] else []
        species = cfg["model"].get("species")
        if not species:
            species = sorted({int(z) for a in frames + test_frames for z in a.numbers})
        model_cfg = {k: v for k, v in cfg["model"].items() if k != "type"}
        model_cfg["species"] = species
        model_cfg.setdefault("seed", seed)
        model_type = cfg["model"].get("type", "tensorial")
        if ckpt is not None:
            self.model = build_model(ckpt["model_type"], ckpt["config"])
        else:
            self.model = build_model(model_type, model_cfg)
        self.model.to(device=self.device, dtype=self.dtype)
        cutoff = self.model.cutoff
        split_key = cfg["data"].get("split_key")
        samples = D.make_samples(frames, cutoff, split_key)
        test_samples = D.make_samples(test_frames, cutoff, None)
        if ckpt is not None:
            split = ckpt["split"]
            if split.get("n_frames", len(samples)) != len(samples):
                raise ValueError(
                    f"the checkpoint was trained on {split['n_frames']} frames, the data now have "
                    f"{len(samples)}: start a new run (without --resume) for new data"
                )
            train_idx, val_idx, test_idx, how = split["train"], split["val"], split["test"], split["how"]
        else:
            train_idx, val_idx, test_idx, how = D.training_split(samples, cfg["data"], seed, bool(test_frames))
        self.split = {
            "train": list(train_idx),
            "val": list(val_idx),
            "test": list(test_idx),
            "how": how,
            "n_frames": len(samples),
        }
        self.frames = {
            "train": [frames[k] for k in train_idx],
            "val": [frames[k] for k in val_idx],
            "test": [frames[k] for k in test_idx] + test_frames,
        }
        self.samples = {
            "train": [samples[k] for k in train_idx],
            "val": [samples[k] for k in val_idx],
            "test": [samples[k] for k in test_idx] + test_samples,
        }
        if not self.samples["train"]:
            raise ValueError("no training frames")
        if not self.samples["val"]:
            self.log("warning: no validation frames; the training loss decides (set data.val_fraction)")

        available = D.available_targets(self.samples["train"])
        provided = set(self.model.contract_outputs())
        weights = cfg["loss"]["weights"]
        if weights is None:
            weights = {k: v for k, v in DEFAULT_WEIGHTS.items() if k in available and NEEDS[k] in provided}
        for name, w in list(weights.items()):
            if name not in NEEDS:
                raise ValueError(f"unknown loss term {name!r}; known: {sorted(NEEDS)}")
            if w and NEEDS[name] not in provided:
                raise ValueError(
                    f"loss term {name!r} needs the output {NEEDS[name]!r}, which the model lacks "
                    f"(it provides {sorted(provided)})"
                )
            if w and name not in ("charge", "apt_sum_rule") and name not in available:
                self.log(f"warning: no training frame has {name!r} labels; its loss term is dropped")
                weights.pop(name)
        if not weights:
            raise ValueError("nothing to train: no loss term has both labels and a model output")
        self.weights = {k: float(v) for k, v in weights.items() if v}
        self.requested = sorted({NEEDS[k] for k in self.weights})
        if ckpt is not None:
            self.scales = ckpt["scales"]
        elif cfg["loss"]["normalize"]:
            self.scales = target_scales(self.samples["train"], self.weights, cfg["loss"]["per_atom_energy"])
        else:
            self.scales = {k: 1.0 for k in self.weights}

        self.contract = ContractModule(self.model)
        self.contract.create_graph = True
        tr = cfg["training"]
        self.optimizer = torch.optim.Adam(
            [p for p in self.model.parameters() if p.requires_grad],
            lr=float(tr["lr"]),
            weight_decay=float(tr["weight_decay"]),
        )
        sched = tr["scheduler"] or {"type": "none"}
        kind = sched.get("type", "plateau")
        if kind == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer,
                factor=float(sched.get("factor", 0.5)),
                patience=int(sched.get("patience", 10)),
                min_lr=float(sched.get("min_lr", 1e-5)),
            )
        elif kind == "exponential":
            self.scheduler = torch.optim.lr_scheduler.ExponentialLR(
                self.optimizer, gamma=float(sched.get("gamma", 0.99))
            )
        else:
            self.scheduler = None
        self.ema = EMA(self.model, tr["ema"]) if tr["ema"] else None

        self.epoch = 0
        self.batch_in_epoch = 0
        self.step_count = 0
        self.history: list[dict] = []
        self.best = math.inf
        self.best_epoch = -1
        self.bad_epochs = 0
        self.elapsed = 0.0
        if ckpt is not None:
            self.model.load_state_dict(ckpt["state_dict"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scheduler is not None and ckpt.get("scheduler"):
                self.scheduler.load_state_dict(ckpt["scheduler"])
            if self.ema is not None and ckpt.get("ema"):
                self.ema.load_state_dict(ckpt["ema"])
            for key in (
                "epoch",
                "batch_in_epoch",
                "step_count",
                "history",
                "best",
                "best_epoch",
                "bad_epochs",
                "elapsed",
            ):
                setattr(self, key, ckpt[key])
            self.stats = ckpt.get("statistics", {})
        else:
            self.stats = self._fit_statistics()
            if self.ema is not None:
                self.ema = EMA(self.model, tr["ema"])  # start from the initialized baselines
        n = {k: len(v) for k, v in self.samples.items()}
        self.log(
            f"data: {n['train']} train, {n['val']} validation, {n['test']} test frames, split {how}; "
            f"targets {sorted(available)}; read in {time.time() - t0:.1f} s"
        )
        n_params = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        self.log(
            f"model: {self.model.model_type}, {n_params} parameters, species {self.model.species}, "
            f"cutoff {self.model.cutoff} angstrom, outputs {self.model.contract_outputs()}"
        )
        self.log("loss: " + ", ".join(f"{k} x{w:g} / ({self.scales[k]:.4g})^2" for k, w in self.weights.items()))

    def _read(self, paths) -> list:
        if not paths:
            return []
        paths = paths if isinstance(paths, list) else [paths]
        frames = []
        for p in paths:
            frames += D.read_frames(p)
        return frames

    def _fit_statistics(self) -> dict:
        train = self.samples["train"]
        subset = [train[k] for k in np.random.default_rng(0).permutation(len(train))[:2000]]
        batch = D.collate(subset, self.dtype, self.device)
        graph = D.model_graph(batch["inputs"], self.model.species)
        fit = getattr(self.model, "fit_statistics", None)
        if fit is None:
            return {}
        done = fit(graph, D.statistics_labels(subset, self.model.species))
        for key, value in done.items():
            self.log(f"initialized {key}: {np.round(value, 4).tolist()}")
        return done

    # -- one step, one evaluation ------------------------------------------------------------
    def _forward(self, batch) -> dict[str, torch.Tensor]:
        return self.contract(batch["inputs"], self.requested)

    def _loss(self, out, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        lcfg = self.cfg["loss"]
        terms = loss_terms(out, batch, self.weights, self.scales, lcfg["per_atom_energy"], lcfg["sign_insensitive"])
        total = sum(self.weights[k] * v for k, v in terms.items())
        return total, terms

    def train_step(self, samples: list) -> float:
        self.model.train()
        batch = D.collate(samples, self.dtype, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        out = self._forward(batch)
        loss, _ = self._loss(out, batch)
        loss.backward()
        clip = self.cfg["training"]["grad_clip"]
        if clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(clip))
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.step_count += 1
        return float(loss.detach())

    def evaluate(self, samples: list) -> dict[str, float]:
        """Weighted loss and RMSE per target (model units) over ``samples``."""
        if not samples:
            return {}
        self.model.eval()
        bs = int(self.cfg["training"]["eval_batch_size"])
        sums: dict[str, float] = {}
        counts: dict[str, float] = {}
        self.contract.create_graph = False  # no training through these outputs
        try:
            return self._evaluate(samples, bs, sums, counts)
        finally:
            self.contract.create_graph = True

    def _evaluate(self, samples, bs, sums, counts) -> dict[str, float]:
        loss_sum = 0.0
        n_frames = 0
        for start in range(0, len(samples), bs):
            chunk = samples[start : start + bs]
            batch = D.collate(chunk, self.dtype, self.device)
            out = self._forward(batch)
            loss, _ = self._loss(out, batch)
            loss_sum += float(loss.detach()) * len(chunk)
            n_frames += len(chunk)
            for name in self.weights:
                if name in ("charge", "apt_sum_rule") or name not in batch["labels"]:
                    continue
                mask = batch["masks"][name]
                pred, ref = out[NEEDS[name]].detach(), batch["labels"][name]
                if name == "energy" and self.cfg["loss"]["per_atom_energy"]:
                    pred, ref = pred / batch["n_atoms"], ref / batch["n_atoms"]
                if name == "transition_dipole" and self.cfg["loss"]["sign_insensitive"]:
                    flip = ((pred + ref) ** 2).sum(-1) < ((pred - ref) ** 2).sum(-1)
                    ref = torch.where(flip[:, None], -ref, ref)
                err = (pred - ref)[mask]
                sums[name] = sums.get(name, 0.0) + float((err**2).sum())
                counts[name] = counts.get(name, 0.0) + err.numel()
        res = {"loss": loss_sum / max(n_frames, 1)}
        for name in sums:
            res[name] = math.sqrt(sums[name] / max(counts[name], 1))
        return res

    def _evaluate_ema(self, samples):
        if self.ema is None:
            return self.evaluate(samples)
        with self.ema.swapped(self.model):
            return self.evaluate(samples)

    # -- checkpoints ---------------------------------------------------------------------------
    def _state(self, weights: dict | None = None) -> dict:
        return {
            "model_type": self.model.model_type,
            "config": self.model.config(),
            "state_dict": weights if weights is not None else self.model.state_dict(),
            "train_config": self.cfg,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step_count": self.step_count,
            "history": self.history,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "elapsed": self.elapsed,
            "split": self.split,
            "scales": self.scales,
            "statistics": self.stats,
        }

    def save_checkpoint(self, path: Path | None = None) -> Path:
        return checkpoint.save(self._state(), path or self.ckpt_dir / "checkpoint.pt")

    def _save_best(self) -> None:
        if self.ema is not None:
            with self.ema.swapped(self.model):
                weights = copy.deepcopy(self.model.state_dict())
        else:
            weights = copy.deepcopy(self.model.state_dict())
        state = {
            "model_type": self.model.model_type,
            "config": self.model.config(),
            "state_dict": weights,
            "epoch": self.epoch,
            "train_config": self.cfg,
            "scales": self.scales,
        }
        checkpoint.save(state, self.ckpt_dir / "best.pt")

    # -- the loop ------------------------------------------------------------------------------
    def epoch_order(self, epoch: int) -> list[int]:
        rng = np.random.default_rng([int(self.cfg["seed"]), int(epoch)])
        return rng.permutation(len(self.samples["train"])).tolist()

    def train(self, max_steps: int | None = None) -> dict[str, Any]:
        """Run until the epochs, early stopping, ``max_minutes`` or ``max_steps`` (tests) end it."""
        from tqdm import tqdm

        tr = self.cfg["training"]
        epochs = int(tr["epochs"])
        bs = int(tr["batch_size"])
        max_seconds = float(tr["max_minutes"]) * 60 if tr["max_minutes"] else math.inf
        patience = tr["early_stopping"]
        train = self.samples["train"]
        n_batches = max(1, math.ceil(len(train) / bs))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        stop_reason = "epochs"
        steps_done = 0
        previous = signal.getsignal(signal.SIGTERM)

        def on_term(signum, frame):
            raise KeyboardInterrupt

        try:
            signal.signal(signal.SIGTERM, on_term)
        except ValueError:  # not the main thread
            previous = None
        start = time.time() - self.elapsed
        try:
            while self.epoch < epochs:
                t_epoch = time.time()
                order = self.epoch_order(self.epoch)
                bar = tqdm(
                    total=n_batches,
                    initial=self.batch_in_epoch,
                    desc=f"epoch {self.epoch + 1}/{epochs}",
                    leave=False,
                    disable=not self.progress,
                    dynamic_ncols=True,
                )
                running = []
                while self.batch_in_epoch < n_batches:
                    k = self.batch_in_epoch
                    loss = self.train_step([train[i] for i in order[k * bs : (k + 1) * bs]])
                    if not math.isfinite(loss):
                        raise FloatingPointError(f"non-finite training loss at epoch {self.epoch + 1}, batch {k}")
                    running.append(loss)
                    self.batch_in_epoch += 1
                    steps_done += 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{np.mean(running):.4g}")
                    if max_steps is not None and steps_done >= max_steps:
                        bar.close()
                        self.elapsed = time.time() - start
                        self.save_checkpoint()
                        return {"stopped": "max_steps", "steps": steps_done}
                bar.close()
                val = self._evaluate_ema(self.samples["val"] or train)
                metric = val["loss"]
                lr = self.optimizer.param_groups[0]["lr"]
                if self.scheduler is not None:
                    if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                        self.scheduler.step(metric)
                    else:
                        self.scheduler.step()
                improved = metric < self.best
                if improved:
                    self.best, self.best_epoch, self.bad_epochs = metric, self.epoch + 1, 0
                else:
                    self.bad_epochs += 1
                record = {
                    "epoch": self.epoch + 1,
                    "lr": lr,
                    "train_loss": float(np.mean(running)) if running else None,
                    "val": val,
                    "time": time.time() - t_epoch,
                }
                self.history.append(record)
                self.epoch += 1
                self.batch_in_epoch = 0
                self.elapsed = time.time() - start
                if improved:
                    self._save_best()
                self.save_checkpoint()
                rmse = "  ".join(f"{k} {v:.4g}" for k, v in val.items() if k != "loss")
                self.log(
                    f"epoch {self.epoch:4d}  lr {lr:.2e}  train {record['train_loss']:.4g}  val {metric:.4g}"
                    f"{' *' if improved else '  '}  val RMSE: {rmse}  ({record['time']:.1f} s)"
                )
                if patience and self.bad_epochs >= int(patience):
                    stop_reason = f"early stopping ({patience} epochs without improvement)"
                    break
                if self.elapsed > max_seconds:
                    stop_reason = f"time limit ({tr['max_minutes']} min)"
                    break
        except KeyboardInterrupt:
            self.elapsed = time.time() - start
            path = self.save_checkpoint()
            self.interrupted = True
            self.log(
                f"interrupted: checkpoint written to {path} (epoch {self.epoch + 1}, batch "
                f"{self.batch_in_epoch}); continue with --resume"
            )
            return {"stopped": "interrupted"}
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        self.log(
            f"stopped: {stop_reason}; best validation loss {self.best:.4g} at epoch {self.best_epoch}; "
            f"{self.elapsed / 60:.1f} min"
        )
        return {"stopped": stop_reason, "best": self.best, "best_epoch": self.best_epoch, "minutes": self.elapsed / 60}

    # -- the end -------------------------------------------------------------------------------
    def finish(self, summary: dict[str, Any] | None = None) -> dict[str, Any]:
        """Export the best weights, evaluate the exported file on every split, write the report."""
        from ..export import export_model
        from ..models import load_checkpoint
        from ..runtime import ExportedModel
        from .report import evaluate_frames, format_table, write_json

        best_path = self.ckpt_dir / "best.pt"
        if not best_path.is_file():
            self._save_best()
        model = load_checkpoint(best_path)
        out_cfg = self.cfg["output"]
        model_path = self.out_dir / out_cfg["model"]
        data_names = self.cfg["data"]["train"]
        data_names = ", ".join(Path(p).name for p in (data_names if isinstance(data_names, list) else [data_names]))
        meta = export_model(
            model, model_path, dtype=out_cfg["export_dtype"], description=f"tensorml train on {data_names}"
        )
        exported = ExportedModel.load(model_path, device=str(self.device))
        bs = int(self.cfg["training"]["eval_batch_size"])
        report: dict[str, Any] = {
            "model": model_path.name,
            "model_outputs": list(meta["outputs"]),
            "trained_on": data_names,
            "data": {k: len(v) for k, v in self.frames.items()},
            "split": self.split["how"],
            "training": summary or {},
            "epochs": self.epoch,
            "minutes": self.elapsed / 60,
            "device": str(self.device),
            "dtype": self.cfg["dtype"],
            "metrics": {},
        }
        plot_split = "test" if self.frames["test"] else "val"
        for split, frames in self.frames.items():
            if frames:
                plots = self.out_dir if (split == plot_split and out_cfg.get("plots", True)) else None
                report["metrics"][split] = evaluate_frames(exported, frames, bs, plots_dir=plots, label=split)
        write_json(report, self.out_dir / "report.json")
        text = [
            f"# Training report: {model_path.name}",
            "",
            f"data: {report['data']} frames (split {report['split']}); {self.epoch} epochs, "
            f"{report['minutes']:.1f} min on {report['device']} ({report['dtype']}); "
            f"stopped: {(summary or {}).get('stopped', '?')}",
            "",
        ]
        for split in ("test", "val", "train"):
            if split in report["metrics"]:
                text += [format_table(report["metrics"][split], f"{split} set"), ""]
        (self.out_dir / "report.md").write_text("\n".join(text))
        self._plot_history()
        (self.out_dir / "history.json").write_text(json.dumps(self.history, indent=1))
        for split in ("test", "val"):
            if split in report["metrics"]:
                self.log(format_table(report["metrics"][split], f"{split} set (exported model {model_path.name})"))
                break
        plot_note = " and parity plots" if out_cfg.get("plots", True) else ""
        self.log(f"wrote {model_path}, report.md, report.json{plot_note} in {self.out_dir}")
        return report

    def _plot_history(self) -> None:
        if not self.history:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ep = [h["epoch"] for h in self.history]
        fig, ax = plt.subplots(figsize=(5, 3.5), dpi=110)
        ax.semilogy(ep, [h["train_loss"] for h in self.history], label="train loss")
        ax.semilogy(ep, [h["val"]["loss"] for h in self.history], label="validation loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("weighted normalized loss")
        ax.legend()
        fig.tight_layout()
        fig.savefig(self.out_dir / "training_curve.png")
        plt.close(fig)


def run_training(config: dict[str, Any], resume=None, progress: bool | None = None, log=None) -> dict[str, Any]:
    trainer = Trainer(config, resume=resume, progress=progress, log=log)
    trainer.setup()
    summary = trainer.train()
    if trainer.interrupted:
        return {"interrupted": True}
    return trainer.finish(summary)
