#!/usr/bin/python3
"""bench/optimizer_step.py, wgan_losses.py and wgan_compute.py on tiny
settings: they run, their JSON has the rows and fields docs/perf.md quotes,
and bad options are clear errors.

usage: bench_scripts_test.py QODA_RUN
"""
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
bench = os.path.join(here, "..", "..", "bench")
qoda_run = sys.argv[1]
failures = []


def run(cmd, expect=0):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=150)
    if r.returncode != expect:
        failures.append(f"{' '.join(cmd)}: exit {r.returncode}, expected "
                        f"{expect}\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
    return r


def json_rows(r):
    """The rows of optimizer_step.py --json, printed by rank 0 of qoda-run
    ("[rank 0] {...}"); [] when there is no such line."""
    line = [l for l in r.stdout.splitlines() if '"rows"' in l]
    return json.loads(line[0].split("] ", 1)[1])["rows"] if line else []


tiny = ["--nz", "8", "--ngf", "8", "--ndf", "8"]
opt_step = os.path.join(bench, "optimizer_step.py")
r = run([qoda_run, "-n", "2", "--timeout", "120", "--", sys.executable,
         opt_step, "--steps", "8", "--warmup", "1", "--json",
         "--collectives", "allgather,scatter-reduce,auto",
         "--refits", "none;/1000@all"] + tiny)
if r.returncode == 0:
    rows = json_rows(r)
    got = [(x["compressor"], x["asked"], x["refit"]) for x in rows]
    want = [("none", "allgather", "none")] + [
        ("layerwise", c, p) for c in ("allgather", "scatter-reduce", "auto")
        for p in ("none", "/1000@all")]
    if got != want:
        failures.append(f"optimizer_step rows {got}, expected {want}")
    for x in rows:
        if not (x["ms_per_step"] > 0 and x["workers"] == 2 and
                x["cpu_user_ms_per_step"] >= 0 and x["bits_per_coord"] > 0):
            failures.append(f"optimizer_step row {x}")
    if rows and rows[5]["collective"] not in ("allgather", "scatter-reduce"):
        failures.append(f"auto ran {rows[5]['collective']}")
# Both step-size sums per row (aggregate: no decode of the own message).
r = run([qoda_run, "-n", "2", "--timeout", "120", "--", sys.executable,
         opt_step, "--steps", "4", "--warmup", "1", "--json",
         "--compressors", "layerwise", "--step-sums", "workers,aggregate"]
        + tiny)
if r.returncode == 0:
    rows = json_rows(r)
    if [x["step_sums"] for x in rows] != ["workers", "aggregate"] or \
            not all(x["ms_per_step"] > 0 for x in rows):
        failures.append(f"optimizer_step --step-sums rows {rows}")
r = run([sys.executable, opt_step, "--steps", "0"], expect=2)
if "--steps must be positive" not in r.stderr:
    failures.append(f"--steps 0: {r.stderr}")
r = run([sys.executable, opt_step, "--refits", ";"], expect=2)
if "need at least one entry" not in r.stderr:
    failures.append(f"--refits ';': {r.stderr}")
r = run([sys.executable, opt_step, "--step-sums", "workers,mean"], expect=2)
if "--step-sums: 'mean' is neither" not in r.stderr:
    failures.append(f"--step-sums mean: {r.stderr}")

# A malformed refit plan: qoda's message once (rank 0), no traceback.
r = run([qoda_run, "-n", "2", "--timeout", "120", "--", sys.executable,
         opt_step, "--steps", "2", "--compressors", "layerwise",
         "--refits", "0,x/5"] + tiny, expect=2)
if r.stderr.count("refit plan") != 1 or "Traceback" in r.stderr:
    failures.append(f"bad --refits under qoda-run: {r.stderr}")
r = run([sys.executable, opt_step, "--compressors", "library"], expect=2)
if "'library' and --library go together" not in r.stderr:
    failures.append(f"library row without --library: {r.stderr}")
r = run([sys.executable, opt_step, "--compressors", "library", "--library",
         "/nonexistent,/nonexistent"], expect=2)
if "'/nonexistent' is not a directory" not in r.stderr:
    failures.append(f"--library /nonexistent: {r.stderr}")

# The 'library' row (qoda-auto's compiled kernels) on tiny compiled models.
import tempfile  # noqa: E402
sys.path.insert(0, os.path.join(here, "..", "..", "examples", "wgan"))
import wgan  # noqa: E402


def library_row(qoda_compile):
    with tempfile.TemporaryDirectory() as tmp:
        paths = wgan.export_onnx(wgan.Generator(8, 8), wgan.Critic(8),
                                 os.path.join(tmp, "onnx"))
        libs = []
        for name in ("generator", "critic"):
            libs.append(os.path.join(tmp, name))
            # Tiny models are mostly 1-D tensors (fp32): a budget to match.
            run([qoda_compile, paths[name], "-o", libs[-1], "--target", "cpu",
                 "--bits-per-coordinate", "16"])
        r = run([qoda_run, "-n", "2", "--timeout", "120", "--", sys.executable,
                 opt_step, "--steps", "4", "--warmup", "1", "--json",
                 "--compressors", "layerwise,library", "--library",
                 ",".join(libs)] + tiny)
        if r.returncode == 0:
            rows = json_rows(r)
            if [x["compressor"] for x in rows] != ["layerwise", "library"] or \
                    not all(x["bits_per_coord"] > 0 for x in rows):
                failures.append(f"library rows {rows}")


qoda_compile = os.path.join(os.path.dirname(qoda_run), "qoda-compile")
if os.path.exists(qoda_compile):
    library_row(qoda_compile)
else:  # a build without the compiler
    print(f"no {qoda_compile}: the library row is not run")

# The WGAN-GP's shared critic passes give the vector field of one pass per
# term (float rounding apart).
losses = os.path.join(bench, "wgan_losses.py")
r = run([sys.executable, losses, "--rounds", "1", "--steps", "2", "--json"]
        + tiny)
if r.returncode == 0:
    out = json.loads(r.stdout)
    if not (out["field_norm"] > 0 and out["max_abs_field_difference"] <=
            1e-5 * out["field_norm"] and
            all(v > 0 for v in out["ms_per_step"].values())):
        failures.append(f"wgan_losses output {out}")
r = run([sys.executable, losses, "--rounds", "0"], expect=2)
if "--rounds must be positive" not in r.stderr:
    failures.append(f"wgan_losses --rounds 0: {r.stderr}")

compute = os.path.join(bench, "wgan_compute.py")
# Whichever BLAS Debian's alternatives chose (the reference one may not be
# installed): the same library twice, named twice.
ref = "reference=" + os.path.dirname(
    os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"))
r = run([sys.executable, compute, "--rounds", "2", "--steps", "2", "--json",
         "--blas", ref, "--blas", ref.replace("reference", "again")] + tiny)
if r.returncode == 0:
    out = json.loads(r.stdout)
    names = [b["name"] for b in out["blas"]]
    if names != ["reference", "again"] or out["blas"][0]["speedup"] != 1.0 \
            or not all(b["ms_per_step"] > 0 and len(b["rounds_ms"]) == 2
                       for b in out["blas"]):
        failures.append(f"wgan_compute output {out}")
r = run([sys.executable, compute, "--blas", "nodir=/nonexistent"], expect=2)
if "no libblas.so.3 in '/nonexistent'" not in r.stderr:
    failures.append(f"--blas without a library: {r.stderr}")

if failures:
    sys.exit("\n\n".join(failures))
print("ok")
