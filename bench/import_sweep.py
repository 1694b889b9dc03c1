#!/usr/bin/python3
"""Runs qoda's ONNX importer on every model of a directory tree and
classifies the outcome.

    import_sweep.py [--tool qoda-inspect|qoda-opt] [--data DIR] [--jobs 2]
                    [--timeout 20] [--min-models N] [--json OUT.json]

Default data: Debian's libonnx-testdata (/usr/share/libonnx-testdata/data,
1072 models). Each model is imported by a separate process
(`qoda-inspect MODEL --json`, or `qoda-opt MODEL`), and classified:

  imported   exit status 0 (qoda-inspect: and its stdout is JSON with a
             "params" list)
  refused    exit status 1 with an error message on stderr; grouped by the
             message with file names, numbers and quoted names blanked out
  crashed    killed by a signal, an exit status other than 0 and 1, a
             sanitizer report on stderr (AddressSanitizer exits with 1), or
             still running after --timeout seconds (a hang)
  broken     exit status 1 without a message, exit status 0 with output
             that is not the promised JSON, or the tool could not be started

Prints a summary (counts, refusal reasons with an example each, every crash)
and exits 1 when anything crashed or is broken, or when fewer than
--min-models models were found; 0 otherwise.
"""

import argparse
import collections
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

DEFAULT_DATA = "/usr/share/libonnx-testdata/data"


def find_models(root):
    models = []
    for dirpath, _, files in os.walk(root):
        models += [os.path.join(dirpath, f) for f in files
                   if f.endswith(".onnx")]
    return sorted(models)


def error_line(stderr):
    """The first line that reads as the error, else the first line."""
    lines = [l.strip() for l in stderr.splitlines() if l.strip()]
    for l in lines:
        if "error" in l.lower():
            return l
    return lines[0] if lines else ""


def reason_kind(message, path):
    """Groups refusals: blanks the file, quoted names and numbers."""
    m = message.replace(path, "FILE")
    m = re.sub(r"\S*\.onnx\b", "FILE", m)
    m = re.sub(r"'[^']*'", "'X'", m)
    m = re.sub(r'"[^"]*"', '"X"', m)
    m = re.sub(r"\b\d+\b", "N", m)
    return m


def run_one(cmd, path, timeout):
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"model": path, "status": "crashed",
                "reason": f"timeout after {timeout} s (hang)",
                "seconds": timeout}
    except OSError as err:  # e.g. the tool is being rebuilt right now
        return {"model": path, "status": "broken",
                "reason": f"could not run {cmd[0]}: {err.strerror}"}
    seconds = time.monotonic() - start
    out = {"model": path, "seconds": round(seconds, 3)}
    stderr = proc.stderr.decode("utf-8", "replace")
    rc = proc.returncode
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        out.update(status="crashed", reason=f"killed by {name}",
                   stderr=stderr[-2000:])
    elif rc == 0:
        if "--json" in cmd:
            try:
                report = json.loads(proc.stdout)
                ok = isinstance(report, dict) and isinstance(
                    report.get("params"), list)
            except ValueError:
                ok = False
            if not ok:
                out.update(status="broken",
                           reason="exit 0 but stdout is not the JSON report")
                return out
        out.update(status="imported")
    elif "Sanitizer" in stderr:
        # A sanitizer report exits with status 1 by default: not a refusal.
        out.update(status="crashed", reason=error_line(stderr),
                   stderr=stderr[-2000:])
    elif rc == 1:
        msg = error_line(stderr)
        if not msg:
            out.update(status="broken", reason="exit 1 without a message")
        else:
            out.update(status="refused", message=msg,
                       reason=reason_kind(msg, path))
    else:
        out.update(status="crashed", reason=f"exit status {rc}",
                   stderr=stderr[-2000:])
    return out


def find_tool(name):
    if os.sep in name:
        return name
    found = shutil.which(name)
    if found:
        return found
    here = os.path.dirname(os.path.abspath(__file__))
    candidate = os.path.join(here, "..", "build", "bin", name)
    return candidate if os.path.exists(candidate) else name


def summarize(results, data, tool, seconds):
    by_status = collections.Counter(r["status"] for r in results)
    lines = [f"import sweep: {len(results)} models under {data}, "
             f"tool {os.path.basename(tool)}, {seconds:.1f} s",
             f"  imported {by_status['imported']}",
             f"  refused  {by_status['refused']}",
             f"  crashed  {by_status['crashed']}",
             f"  broken   {by_status['broken']}"]
    reasons = collections.defaultdict(list)
    for r in results:
        if r["status"] == "refused":
            reasons[r["reason"]].append(r)
    if reasons:
        lines.append("refused, by reason:")
        for kind, rs in sorted(reasons.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"  {len(rs):5d}  {kind}")
            lines.append(f"         e.g. {os.path.relpath(rs[0]['model'], data)}")
    for status in ("crashed", "broken"):
        bad = [r for r in results if r["status"] == status]
        if bad:
            lines.append(f"{status}:")
            for r in bad:
                lines.append(f"  {os.path.relpath(r['model'], data)}: "
                             f"{r['reason']}")
                tail = r.get("stderr", "").strip().splitlines()[-3:]
                lines += [f"      {t}" for t in tail]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(
        description="Import every .onnx model under a directory with qoda "
                    "and classify the outcomes (see the file's docstring).")
    ap.add_argument("--tool", default="qoda-inspect",
                    help="qoda-inspect (run with --json) or qoda-opt: a name "
                         "looked up on PATH, then in ../build/bin, or a path")
    ap.add_argument("--data", default=DEFAULT_DATA,
                    help=f"directory searched for *.onnx (default {DEFAULT_DATA})")
    ap.add_argument("--jobs", type=int, default=2,
                    help="models imported in parallel (default 2)")
    ap.add_argument("--timeout", type=float, default=20,
                    help="seconds before a model counts as a hang (default 20)")
    ap.add_argument("--min-models", type=int, default=1,
                    help="fail when fewer models are found (default 1)")
    ap.add_argument("--json", metavar="OUT",
                    help="also write every model's result to this JSON file")
    args = ap.parse_args()

    tool = find_tool(args.tool)
    if not os.path.exists(tool):
        sys.exit(f"import_sweep.py: tool '{args.tool}' not found on PATH or "
                 f"in build/bin; pass --tool PATH")
    inspect = os.path.basename(tool).startswith("qoda-inspect")
    models = find_models(args.data)
    if len(models) < args.min_models:
        sys.exit(f"import_sweep.py: found {len(models)} .onnx files under "
                 f"{args.data}, expected at least {args.min_models}")

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one,
                               [tool, m, "--json"] if inspect else [tool, m],
                               m, args.timeout) for m in models]
        results = [f.result() for f in futures]
    seconds = time.monotonic() - start

    print(summarize(results, args.data, tool, seconds))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"data": args.data, "tool": tool,
                       "seconds": round(seconds, 1),
                       "counts": collections.Counter(
                           r["status"] for r in results),
                       "results": results}, f, indent=1)
            f.write("\n")
    failed = sum(1 for r in results if r["status"] in ("crashed", "broken"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
