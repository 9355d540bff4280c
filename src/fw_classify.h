/* fw_classify.h - classify one JPEG in-process: the server's decode, preprocessing and model,
 * with no network and no threads. The yardstick the server is checked and measured against
 * (tests, benchmarks, tools).
 *
 * Threads: use a classifier on the thread that created it. */
#ifndef FW_CLASSIFY_H
#define FW_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "fw_decode.h"
#include "fw_model.h"

typedef struct fw_classifier fw_classifier;

/* Opens the model (fw_model_open) and a decoder. NULL with a message in err on failure. */
fw_classifier *fw_classifier_new(const char *manifest_path, const fw_model_params *mp,
                                 const fw_decode_limits *limits, char *err, size_t errlen);

/* The open model (manifest, labels, number of classes). */
const fw_model *fw_classifier_model(const fw_classifier *c);

/* Decodes, preprocesses and runs one JPEG; writes num_classes probabilities to probs. Returns
 * FW_OK, or the error code with a message, exactly as the server would answer the frame. */
fw_err fw_classifier_run(fw_classifier *c, const uint8_t *jpeg, size_t len, float *probs, char *msg,
                         size_t msglen);

void fw_classifier_free(fw_classifier *c);

#endif /* FW_CLASSIFY_H */
