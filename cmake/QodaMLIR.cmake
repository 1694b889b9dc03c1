# MLIR 16 out-of-tree setup, in the order of mlir/examples/standalone.
if(NOT DEFINED MLIR_DIR AND EXISTS /usr/lib/llvm-16/lib/cmake/mlir)
  set(MLIR_DIR /usr/lib/llvm-16/lib/cmake/mlir)
endif()
find_package(MLIR REQUIRED CONFIG)
message(STATUS "qoda: MLIR from ${MLIR_DIR}")

set(LLVM_RUNTIME_OUTPUT_INTDIR ${CMAKE_BINARY_DIR}/bin)
set(LLVM_LIBRARY_OUTPUT_INTDIR ${CMAKE_BINARY_DIR}/lib)
set(MLIR_BINARY_DIR ${CMAKE_BINARY_DIR})

list(APPEND CMAKE_MODULE_PATH "${MLIR_CMAKE_DIR}" "${LLVM_CMAKE_DIR}")
include(TableGen)
include(AddLLVM)
include(AddMLIR)
include(HandleLLVMOptions)

include_directories(SYSTEM ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
include_directories(${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include
                    ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
link_directories(${LLVM_BUILD_LIBRARY_DIR})
add_definitions(${LLVM_DEFINITIONS})

# ONNX 1.12 (Debian libonnx-dev): protobuf first, then ONNX's config package.
find_package(Protobuf REQUIRED)
find_package(ONNX REQUIRED CONFIG)

set(LLVM_LIT /usr/lib/llvm-16/build/utils/lit/lit.py)
set(QODA_LLVM_TOOLS_DIR /usr/lib/llvm-16/bin)

# qoda_add_tool(name sources... LINK libs...): an LLVM-style executable
# (add_mlir_tool is excluded from `all` on Debian, so it is not used).
function(qoda_add_tool name)
  cmake_parse_arguments(ARG "" "" "LINK" ${ARGN})
  add_llvm_executable(${name} ${ARG_UNPARSED_ARGUMENTS})
  llvm_update_compile_flags(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LINK})
  mlir_check_all_link_libraries(${name})
endfunction()
