"""qoda: quantized optimistic dual averaging for distributed training.

The C++ runtime (``qoda._qoda``) exposes

* :class:`Communicator` -- the job's workers (Gloo over TCP), joined from
  MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE as set by ``qoda-run`` and
  ``torchrun``; without MASTER_ADDR the process runs alone;
* :class:`Aggregator` -- the mean of a flat float32 vector over all workers,
  uncompressed or through a compressed collective;
* :class:`Optimizer` -- QODA and its baselines (:func:`optimizer_names`)
  with ``step(oracle)``;
* :class:`Schedule` -- a quantization schedule file written by qoda-compile.

PyTorch users want :mod:`qoda.torch`. docs/user-guide.md is the guide.
"""

from ._qoda import (Aggregator, CommError, Communicator, NonFiniteError,
                    Optimizer, Schedule, compressor_names, optimizer_names)

__all__ = ["Aggregator", "CommError", "Communicator", "NonFiniteError",
           "Optimizer", "Schedule", "communicator", "compressor_names",
           "optimizer_names"]

_communicator = None


def communicator():
    """The process's communicator, created on first use.

    A process joins its job once: rank 0 serves the rendezvous store on
    MASTER_PORT, so a second rendezvous in the same process would collide.
    Every optimiser of the process therefore shares this one.
    """
    global _communicator
    if _communicator is None:
        _communicator = Communicator.from_env()
    return _communicator
