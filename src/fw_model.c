/* fw_model.c - open a manifest + TorchScript pair, validate them, and run forwards. */
#include "fw_model.h"

#include <stdio.h>
#include <string.h>

#include "fw_topk.h"

int fw_model_open(fw_model *m, const char *manifest_path, const fw_model_params *params, char *err,
                  size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (fw_manifest_load(manifest_path, &m->man, err, errlen) != 0)
        return -1;

    char msg[512];
    fwt_params tp = fwt_default_params();
    if (params && params->device)
        tp.device = params->device;
    if (params)
        tp.optimize = params->optimize;
    m->net = fwt_model_load(m->man.model_path, &tp, msg, sizeof msg);
    if (!m->net) {
        snprintf(err, errlen, "model file %s (manifest %s, field \"file\"): %s", m->man.model_path,
                 manifest_path, msg);
        goto err;
    }
    int64_t k = 0;
    if (fwt_model_probe(m->net, 3, m->man.pre.height, m->man.pre.width, &k, msg, sizeof msg) != 0) {
        snprintf(
            err, errlen,
            "manifest %s: fields \"input_width\"/\"input_height\" (%dx%d) do not fit model %s: "
            "%s",
            manifest_path, m->man.pre.width, m->man.pre.height, m->man.model_path, msg);
        goto err;
    }
    if (k != m->man.num_labels) {
        snprintf(err, errlen,
                 "manifest %s: field \"labels\" has %d entries but model %s outputs %lld values",
                 manifest_path, m->man.num_labels, m->man.model_path, (long long)k);
        goto err;
    }
    m->num_classes = (int)k;
    return 0;
err:
    fw_model_close(m);
    return -1;
}

size_t fw_model_input_floats(const fw_model *m)
{
    return (size_t)3 * (size_t)m->man.pre.width * (size_t)m->man.pre.height;
}

int fw_model_run(fw_model *m, const float *input, int n, float *probs, char *err, size_t errlen)
{
    if (fwt_model_forward(m->net, input, n, 3, m->man.pre.height, m->man.pre.width, probs,
                          (int64_t)n * m->num_classes, err, errlen) != 0)
        return -1;
    if (m->man.output == FW_OUTPUT_LOGITS)
        for (int i = 0; i < n; i++)
            fw_softmax(probs + (size_t)i * m->num_classes, m->num_classes);
    return 0;
}

void fw_model_close(fw_model *m)
{
    if (!m)
        return;
    fwt_model_free(m->net);
    fw_manifest_free(&m->man);
    memset(m, 0, sizeof *m);
}
