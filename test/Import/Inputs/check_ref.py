"""check_ref.py MLIR PARAM: reads the data_file/data_offset/data_length of
qoda.param @PARAM from qoda-opt output and prints the first float32 values
found there, so a test can check the reference points at the real bytes."""
import re
import sys

import numpy as np

text = open(sys.argv[1]).read()
line = next(l for l in text.splitlines() if "qoda.param @" + sys.argv[2] + " " in l)
path = re.search(r'data_file = "([^"]*)"', line).group(1)
off = int(re.search(r"data_offset = (\d+)", line).group(1))
length = int(re.search(r"data_length = (\d+)", line).group(1))
with open(path, "rb") as f:
    f.seek(off)
    data = np.frombuffer(f.read(length), dtype=np.float32)
print("VALUES", " ".join(str(int(v)) for v in data[:4]), "...", int(data[-1]))
