#!/usr/bin/python3
"""Workers started the way torchrun starts them: torchrun's agent already
listens on MASTER_PORT (its own store) and sets TORCHELASTIC_RUN_ID; qoda's
rendezvous must then use MASTER_PORT + 1 and the job must work. (Debian's
torch 1.13 torchrun does not start under Python 3.11, so the test plays the
agent: it holds MASTER_PORT and starts the workers with its environment.)
A bad QODA_MASTER_PORT is a clear error.

usage: torchrun_env_test.py             (driver)
       torchrun_env_test.py --worker    (one worker)
"""
import os
import socket
import subprocess
import sys

if "--worker" in sys.argv:
    import torch
    import qoda.torch
    torch.set_num_threads(1)
    torch.manual_seed(int(os.environ["RANK"]))
    m = torch.nn.Linear(3, 2)
    opt = qoda.torch.QODA(m, lr=0.1, compressor="qsgd")

    def closure():
        m(torch.ones(1, 3)).sum().backward()

    opt.step(closure)
    print(opt.comm.rank, opt.comm.size, ",".join(f"{v:.6f}" for v in opt.x))
    sys.exit(0)

agent = socket.socket()
agent.bind(("127.0.0.1", 0))
agent.listen()  # the port torchrun's own store would hold
port = agent.getsockname()[1]


def launch(extra_env):
    procs = []
    for r in range(2):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   RANK=str(r), WORLD_SIZE="2", LOCAL_RANK=str(r),
                   **extra_env)
        procs.append(subprocess.Popen(
            [sys.executable, __file__, "--worker"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return [(p.wait(timeout=120), *p.communicate()) for p in procs]


res = launch({"TORCHELASTIC_RUN_ID": "test"})
for rc, out, err in res:
    if rc != 0:
        sys.exit(f"worker failed ({rc}):\n{out}\n{err}")
outs = [out.split() for _, out, _ in res]
if [o[:2] for o in outs] != [["0", "2"], ["1", "2"]] or outs[0][2] != outs[1][2]:
    sys.exit(f"unexpected worker output {outs}")

rc, out, err = launch({"TORCHELASTIC_RUN_ID": "test",
                       "QODA_MASTER_PORT": "70000"})[0]
if rc == 0 or "QODA_MASTER_PORT='70000'" not in err:
    sys.exit(f"bad QODA_MASTER_PORT accepted ({rc}):\n{err}")
print("ok")
