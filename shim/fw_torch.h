/* fw_torch.h - framewire's C API over libtorch: load a TorchScript model, run batched forwards.
 *
 * This header is the project's one C/C++ seam. It compiles as C11 and as C++17; no tensor, no C++
 * type and no exception ever crosses it. Only caller-owned bytes and floats do.
 *
 * Usage:
 *
 *     char err[256];
 *     fwt_params p = fwt_default_params();          // device "cpu", optimise on
 *     fwt_model *m = fwt_model_load("model.pt", &p, err, sizeof err);
 *     if (!m) { fprintf(stderr, "%s\n", err); return 1; }
 *     int64_t k;
 *     if (fwt_model_probe(m, 3, 224, 224, &k, err, sizeof err) != 0) ...
 *     float *out = malloc(sizeof(float) * n * k);
 *     if (fwt_model_forward(m, in, n, 3, 224, 224, out, n * k, err, sizeof err) != 0) ...
 *     fwt_model_free(m);
 *
 * Errors: every function that can fail returns 0 on success and -1 on failure, and then writes a
 * readable, NUL-terminated, single-line message into the caller's `err` buffer (truncated to
 * `errlen`; `err` may be NULL when errlen is 0). Every C++ exception (c10::Error, std::exception,
 * anything else) is caught inside the shim. Errors raised inside the TorchScript interpreter are
 * condensed to their reason (e.g. "forward failed: RuntimeError: Given groups=1, ... expected
 * input[1, 1, 32, 32] to have 3 channels ..."). libtorch warnings are printed to stderr once per
 * distinct message instead of once per forward.
 *
 * Threads: a model handle is not thread-safe. Load it, probe it and run it on one thread, the
 * thread that will do all its forwards (libtorch's optimised graphs are measurably slower when
 * loaded on another thread). Different handles may be used from different threads.
 * fwt_set_threads() changes process-wide libtorch settings: call it once, before loading.
 */
#ifndef FW_TORCH_H
#define FW_TORCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fwt_model fwt_model;

typedef struct fwt_params {
    /* Device string as libtorch parses it: "cpu", "cuda", "cuda:1". Not copied: must stay valid
     * for the duration of fwt_model_load(). */
    const char *device;
    /* Non-zero: freeze the module and run torch::jit::optimize_for_inference at load. */
    int optimize;
} fwt_params;

/* Defaults: device "cpu", optimize 1. */
fwt_params fwt_default_params(void);

/* Sets libtorch's intra-op thread count (torch::set_num_threads) when intra > 0, and the
 * inter-op thread count when inter > 0 (libtorch allows that only before any parallel work has
 * run; a later call fails with a message). Process-wide. Returns 0 or -1. */
int fwt_set_threads(int intra, int inter, char *err, size_t errlen);

/* Loads a TorchScript file onto params->device, puts it in eval mode and, when params->optimize,
 * freezes and optimises it for inference. Returns a new handle, or NULL with a message in err
 * (missing file, not TorchScript, unknown or unavailable device, ...). Nothing leaks on failure. */
fwt_model *fwt_model_load(const char *path, const fwt_params *params, char *err, size_t errlen);

/* Runs one forward at batch 1 on zeros of shape [1, c, h, w] and reports the number of outputs
 * per item in *out_k. Fails with a message when the model does not accept that shape or does not
 * return a single tensor of shape [1, K] (or [K]). The first probe after an optimising CPU load
 * also runs the optimised and the merely frozen model on one fixed pseudo-random input; when
 * they disagree (optimize_for_inference has bugs in libtorch 1.13), it keeps the frozen one and
 * prints a warning to stderr. */
int fwt_model_probe(fwt_model *m, int64_t c, int64_t h, int64_t w, int64_t *out_k, char *err,
                    size_t errlen);

/* Runs a forward under inference mode on `input`, a caller-owned float32 NCHW buffer of
 * n*c*h*w values, and copies the result, float32 [n, K], into the caller-owned `output` of
 * `output_cap` floats. Fails when n < 1, when the model rejects the shape, when the result is not
 * [n, K], or when n*K > output_cap. The input is copied to the model's device and the output back
 * to host memory, so the same call works for CPU and CUDA models. `input` is never written to
 * (it is copied even on CPU), and `output` is untouched on failure. */
int fwt_model_forward(fwt_model *m, const float *input, int64_t n, int64_t c, int64_t h, int64_t w,
                      float *output, int64_t output_cap, char *err, size_t errlen);

/* The device the model runs on, e.g. "cpu" or "cuda:0". Owned by the handle. */
const char *fwt_model_device(const fwt_model *m);

/* Frees the handle. NULL is allowed. Call on the thread that ran the model. */
void fwt_model_free(fwt_model *m);

/* libtorch's version string, e.g. "1.13.1". Static storage. */
const char *fwt_torch_version(void);

#ifdef __cplusplus
}
#endif

#endif /* FW_TORCH_H */
