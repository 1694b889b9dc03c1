"""torchrun for Debian's torch 1.13 on Python 3.11.

    /usr/bin/python3 -m qoda.torchrun --nproc_per_node 4 train.py ARGS...

takes exactly torchrun's arguments (``torch.distributed.run``) and runs it.

Why: Debian's ``python3-torch`` 1.13.1 crashes at start under Python 3.11
(``torchrun`` and ``python3 -m torch.distributed.run`` alike) with

    File ".../torch/distributed/elastic/multiprocessing/api.py", line 162, in to_map
      map[i] = val_or_map.get(i, Std.NONE)
    AttributeError: 'NoneType' object has no attribute 'get'

``Std.from_str`` (the parser of ``--redirects`` and ``--tee``, default
``"0"``) looks the value up by iterating over the ``IntFlag`` ``Std``; since
Python 3.11 iterating a Flag yields only its single-bit members, so ``NONE``
(0) and ``ALL`` (3) are never found, ``from_str`` returns None and
``start_processes`` fails. (Fixed upstream after 1.13 by constructing the
member from its value.) This module replaces that one parser, in this
process only, by ``Std(int(value))`` -- the same members for every string
the original's regular expressions accept -- and only when the installed
torch has the bug; the installed torch files are not touched.
"""

import re
import sys

from torch.distributed.elastic.multiprocessing import api as _api

__all__ = ["std_from_str_is_broken", "fix_std_from_str", "main"]


def std_from_str_is_broken():
    """True when ``Std.from_str("0")`` does not return ``Std.NONE``."""
    try:
        return _api.Std.from_str("0") is not _api.Std.NONE or \
            _api.Std.from_str("3") is not _api.Std.ALL
    except Exception:  # noqa: BLE001 - any failure means broken
        return True


def _from_str(cls, vm):
    if re.match(_api._VALUE_REGEX, vm):
        return cls(int(vm))
    if re.match(_api._MAPPING_REGEX, vm):
        return {int(i): cls(int(v))
                for i, v in (m.split(":") for m in vm.split(","))}
    raise ValueError(f"{vm} does not match: <{_api._VALUE_REGEX}> or "
                     f"<{_api._MAPPING_REGEX}>")


def fix_std_from_str():
    """Installs the fixed parser when needed; returns whether it did."""
    if not std_from_str_is_broken():
        return False
    _api.Std.from_str = classmethod(_from_str)
    return True


def main(argv=None):
    fix_std_from_str()
    from torch.distributed import run
    return run.main(argv)


if __name__ == "__main__":
    sys.exit(main())
