/* fw_manifest.h - the JSON manifest that sits beside a TorchScript file and says how to feed it.
 *
 * Format (docs/models.md):
 *   {
 *     "name": "tiny-test",            model name shown to clients
 *     "file": "tiny.pt",              TorchScript file, relative to the manifest's directory
 *     "input_width": 32, "input_height": 32,
 *     "color_order": "rgb" | "bgr",
 *     "resize": "stretch" | "shorter_side_crop",
 *     "resize_shorter": 256,          shorter_side_crop only (default: max(width, height))
 *     "align_corners": false,
 *     "jpeg_dct_scaling": true,       false: always decode JPEGs at full size
 *     "scale": 0.00392156862745098,   multiplies the 0..255 pixel value
 *     "mean": [r, g, b], "std": [r, g, b],   in color_order (default 0 and 1)
 *     "output": "probs" | "logits",   logits get a softmax
 *     "labels": ["cat", "dog", ...]
 *   }
 * Unknown keys are an error (a typo must not be silently ignored). */
#ifndef FW_MANIFEST_H
#define FW_MANIFEST_H

#include <stddef.h>

#include "fw_preprocess.h"

typedef enum fw_output_kind { FW_OUTPUT_PROBS = 0, FW_OUTPUT_LOGITS = 1 } fw_output_kind;

typedef struct fw_manifest {
    char *path; /* the manifest file as given */
    char *name;
    char *model_path; /* "file" resolved against the manifest's directory */
    fw_preproc pre;
    fw_output_kind output;
    char **labels;
    int num_labels;
} fw_manifest;

/* Reads and validates the manifest at `path` into *m (zeroed first). Returns 0, or -1 with a
 * single-line message naming the file and the bad field in err. Does not open the model file.
 * On failure *m holds nothing to free. */
int fw_manifest_load(const char *path, fw_manifest *m, char *err, size_t errlen);

/* Parses manifest JSON text; `path` is used for messages and to resolve "file". Same contract as
 * fw_manifest_load. */
int fw_manifest_parse(const char *json, const char *path, fw_manifest *m, char *err, size_t errlen);

void fw_manifest_free(fw_manifest *m);

#endif /* FW_MANIFEST_H */
