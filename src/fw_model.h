/* fw_model.h - a model ready to serve: its manifest, its TorchScript network (through the shim),
 * checked against each other, and a forward that returns probabilities.
 *
 * Threads: open, run and close on one thread (the inference thread: see fw_torch.h). */
#ifndef FW_MODEL_H
#define FW_MODEL_H

#include <stddef.h>

#include "fw_manifest.h"
#include "fw_torch.h"

typedef struct fw_model {
    fw_manifest man;
    fwt_model *net;
    int num_classes; /* == man.num_labels, checked at open */
} fw_model;

typedef struct fw_model_params {
    const char *device; /* "cpu", "cuda", ... */
    int optimize;       /* freeze + optimize_for_inference at load */
} fw_model_params;

/* Loads the manifest at manifest_path and the TorchScript file it names, then validates them
 * against each other with a dry forward at the declared input size: the model must accept
 * [1, 3, H, W] and return [1, K] with K equal to the number of labels. Returns 0, or -1 with one
 * line in err that names the manifest field or the file at fault. */
int fw_model_open(fw_model *m, const char *manifest_path, const fw_model_params *params, char *err,
                  size_t errlen);

/* Runs n preprocessed inputs (n * 3 * H * W floats, NCHW) and writes n * num_classes
 * probabilities to probs (softmax applied when the manifest says "logits"). Returns 0 or -1. */
int fw_model_run(fw_model *m, const float *input, int n, float *probs, char *err, size_t errlen);

/* Floats per input item: 3 * H * W. */
size_t fw_model_input_floats(const fw_model *m);

void fw_model_close(fw_model *m);

#endif /* FW_MODEL_H */
