# -*- Python -*-
# lit configuration for qoda's compiler tests.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "QODA"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".onnxtxt", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py", "CMakeLists.txt"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qoda_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%qoda_src", config.qoda_src_root))
config.substitutions.append(
    ("%testdata", "/usr/share/libonnx-testdata/data"))

llvm_config.with_system_environment(["HOME", "TMPDIR"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.qoda_tools_dir, append_path=True)
llvm_config.with_environment(
    "PYTHONPATH", os.path.join(config.qoda_src_root, "python"), append_path=True)

tools = ["qoda-opt", "qoda-inspect", "qoda-translate", "qoda-compile"]
llvm_config.add_tool_substitutions(
    [t for t in tools if os.path.exists(os.path.join(config.qoda_tools_dir, t))],
    [config.qoda_tools_dir])

if config.qoda_have_cuda:
    config.available_features.add("cuda")
if os.path.isdir("/usr/share/libonnx-testdata/data"):
    config.available_features.add("onnx-testdata")
try:
    import torch  # noqa: F401  (Debian's python3-torch)
    config.available_features.add("torch")
except ImportError:
    pass
