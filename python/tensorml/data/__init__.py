"""Reference data: labelling with PySCF, readers of labelled datasets, dataset helpers.

Keys and units of every label: :mod:`tensorml.data.keys`.  The one reader the trainer uses:
:func:`read_dataset`.  Labelling: :func:`tensorml.data.runner.label_structures` (the
``tensorml label`` command).  Importing this package does not import PySCF.
"""

from __future__ import annotations


def read_dataset(*args, **kwargs):
    """See :func:`tensorml.data.readers.read_dataset`."""
    from .readers import read_dataset as _read

    return _read(*args, **kwargs)


def write_dataset(*args, **kwargs):
    """See :func:`tensorml.data.readers.write_dataset`."""
    from .readers import write_dataset as _write

    return _write(*args, **kwargs)


__all__ = ["read_dataset", "write_dataset"]
