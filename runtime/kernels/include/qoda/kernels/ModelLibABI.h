/* The C ABI of a generated model library (libqoda_<model>.so).
 *
 * qoda-compile bakes one schedule into a shared library; the runtime loads it
 * with dlopen (see ModelLibLoader.h) and calls it through this table only, so
 * the library and the runtime may be built by different compilers. Plain C:
 * no exceptions, no C++ types cross it; every failure is a status code plus
 * a message (qoda_modellib_api::last_error), never an abort on user input.
 *
 * Versioning: the library exports two symbols.
 *   uint32_t qoda_modellib_abi_version(void);      stable forever
 *   const qoda_modellib_api *qoda_modellib_entry(uint32_t abi_version);
 * The loader reads the first, refuses a library with another ABI version
 * (naming both versions), then asks for the table. A schedule mismatch is
 * caught by comparing qoda_model_layout::schedule_hash with the runtime's
 * schedule (quant::Schedule::hash), which also travels in every message.
 *
 * Messages are byte-identical to qoda::quant's "layerwise" compressor for
 * the same schedule and key (docs/quant.md, docs/codegen.md).
 */
#ifndef QODA_KERNELS_MODELLIBABI_H
#define QODA_KERNELS_MODELLIBABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any change of the structs or function signatures below. */
#define QODA_MODELLIB_ABI_VERSION 1u

#define QODA_MODELLIB_VERSION_SYMBOL "qoda_modellib_abi_version"
#define QODA_MODELLIB_ENTRY_SYMBOL "qoda_modellib_entry"

typedef enum qoda_status {
  QODA_OK = 0,
  QODA_ERR_ARGUMENT = 1,    /* bad pointer, size, type index, levels */
  QODA_ERR_MESSAGE = 2,     /* malformed or foreign message (sum unchanged) */
  QODA_ERR_UNSUPPORTED = 3, /* e.g. CUDA call on a CPU-only library */
  QODA_ERR_DEVICE = 4       /* CUDA runtime error */
} qoda_status;

typedef enum qoda_device {
  QODA_DEVICE_CPU = 0,
  QODA_DEVICE_CUDA = 1
} qoda_device;

/* Bits of qoda_model_layout::targets. */
#define QODA_TARGET_CPU 1u
#define QODA_TARGET_CUDA 2u

/* Mirrors qoda::quant::TypeKind / Norm / NormPrecision / Coding values. */
typedef struct qoda_type_info {
  uint32_t kind;           /* 0 levels, 1 fp32, 2 fp16, 3 bf16 */
  uint32_t index_bits;     /* level-index bits without the sign (levels) */
  uint32_t num_levels;     /* including 0 and 1 (levels), else 0 */
  uint32_t bucket;         /* coordinates per norm bucket (levels) */
  uint32_t norm;           /* 0 L2, 1 Linf */
  uint32_t norm_precision; /* 0 fp32, 1 fp16 */
  uint32_t coding;         /* 0 fixed width */
  uint32_t level_slot;     /* first entry of this type in default_levels */
} qoda_type_info;

typedef struct qoda_segment_info {
  uint64_t offset; /* first coordinate in the flat buffer */
  uint64_t length;
  uint32_t type;
  uint32_t first_bucket; /* index of its first bucket among all buckets */
} qoda_segment_info;

/* Everything about the baked-in schedule; owned by the library (static). */
typedef struct qoda_model_layout {
  uint32_t abi_version;
  uint32_t targets; /* QODA_TARGET_* bits compiled into this library */
  const char *model;
  /* -march the CPU kernels were compiled for ("x86-64", "x86-64-v3", ...);
   * the loader refuses a library this CPU cannot run. */
  const char *cpu_arch;
  uint64_t schedule_hash; /* of the baked-in schedule and levels */
  uint64_t num_coords;
  uint64_t message_bytes; /* exact size of every message */
  uint32_t num_types;
  uint32_t num_segments;
  const qoda_type_info *types;
  const qoda_segment_info *segments;
  const float *default_levels; /* levels of type m at types[m].level_slot */
} qoda_model_layout;

typedef struct qoda_model qoda_model;

/* A qoda_model is used by one thread at a time (it owns scratch and the
 * last error); create one per thread to encode concurrently.
 * All buffers hold layout->num_coords floats unless said otherwise. On a
 * CUDA model every buffer is device memory, `stream` is a cudaStream_t (NULL:
 * the default stream) and calls are asynchronous except that encode's
 * *out_len and errors found on the host are returned at once; on a CPU model
 * `stream` must be NULL. */
typedef struct qoda_modellib_api {
  uint32_t abi_version;
  uint32_t struct_size; /* sizeof(qoda_modellib_api) of the library */

  const qoda_model_layout *(*layout)(void);
  /* On failure *out is NULL and err (if err_cap > 0) holds the reason. */
  qoda_status (*create)(qoda_device device, qoda_model **out, char *err,
                        size_t err_cap);
  void (*destroy)(qoda_model *m);
  /* The message of the last failed call on m ("" if none). */
  const char *(*last_error)(const qoda_model *m);

  /* Replaces the levels of a `levels` type (count must equal num_levels,
   * 0 = l_0 < ... < l_last = 1): the runtime re-fits levels during training
   * without recompiling. Changes the schedule hash the messages carry. */
  qoda_status (*set_levels)(qoda_model *m, uint32_t type, const float *levels,
                            uint32_t count);
  /* Hash of the schedule with the model's current levels. */
  uint64_t (*schedule_hash)(const qoda_model *m);

  /* Quantizes + packs v (all segments, compressed and cast) into one
   * message of exactly message_bytes bytes. */
  qoda_status (*encode)(qoda_model *m, const float *v, uint64_t seed,
                        uint64_t step, uint32_t rank, uint8_t *out,
                        uint64_t out_cap, uint64_t *out_len, void *stream);
  /* sum[i] += weight * (Q_0(v)[i] + ... ) over k messages, in one pass,
   * accumulated message by message in index order (the reference's
   * rounding). Every message is validated first; on any error sum is
   * unchanged. msgs/lens are host arrays (msgs[i] device pointers on CUDA). */
  qoda_status (*decode_accumulate)(qoda_model *m, const uint8_t *const *msgs,
                                   const uint64_t *lens, uint32_t k,
                                   float weight, uint64_t step, float *sum,
                                   void *stream);
  /* The fused QODA update of METHOD 2 over the flat buffer, given this
   * round's aggregate mean = Vhat_{t+1/2}:
   *   y -= mean;  x = x1 + eta * y;  x_half = x - gamma * mean
   * (x_half is the next round's X_{t+3/2}, which uses this round's
   * aggregate as its Vhat_prev). */
  qoda_status (*qoda_update)(qoda_model *m, const float *mean, float *y,
                             const float *x1, float *x, float *x_half,
                             float eta, float gamma, void *stream);
} qoda_modellib_api;

typedef uint32_t (*qoda_modellib_abi_version_fn)(void);
typedef const qoda_modellib_api *(*qoda_modellib_entry_fn)(uint32_t);

#ifdef __cplusplus
}
#endif

#endif /* QODA_KERNELS_MODELLIBABI_H */
