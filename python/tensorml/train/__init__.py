"""Training of tensorml models: ``tensorml train config.yaml`` (see :mod:`tensorml.train.loop`)."""

from .config import DEFAULTS, load_config
from .loop import Trainer, run_training

__all__ = ["DEFAULTS", "Trainer", "load_config", "run_training"]
