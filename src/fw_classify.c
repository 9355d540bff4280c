/* fw_classify.c - in-process classification of one JPEG (see fw_classify.h). */
#include "fw_classify.h"

#include <stdio.h>
#include <stdlib.h>

#include "fw_preprocess.h"

struct fw_classifier {
    fw_model model;
    fw_decoder *dec;
    fw_decode_limits limits;
    float *input;
    int min_w, min_h;
};

fw_classifier *fw_classifier_new(const char *manifest_path, const fw_model_params *mp,
                                 const fw_decode_limits *limits, char *err, size_t errlen)
{
    fw_classifier *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (fw_model_open(&c->model, manifest_path, mp, err, errlen) != 0) {
        free(c);
        return NULL;
    }
    c->limits = *limits;
    c->dec = fw_decoder_new();
    c->input = malloc(sizeof(float) * fw_model_input_floats(&c->model));
    if (!c->dec || !c->input) {
        snprintf(err, errlen, "out of memory");
        fw_classifier_free(c);
        return NULL;
    }
    fw_preprocess_min_size(&c->model.man.pre, 0, 0, &c->min_w, &c->min_h);
    return c;
}

const fw_model *fw_classifier_model(const fw_classifier *c)
{
    return &c->model;
}

fw_err fw_classifier_run(fw_classifier *c, const uint8_t *jpeg, size_t len, float *probs, char *msg,
                         size_t msglen)
{
    const uint8_t *rgb;
    fw_decode_info info;
    fw_err e =
        fw_decode_jpeg(c->dec, jpeg, len, &c->limits, c->min_w, c->min_h, &rgb, &info, msg, msglen);
    if (e != FW_OK)
        return e;
    if (fw_preprocess(rgb, info.w, info.h, &c->model.man.pre, c->input) != 0) {
        snprintf(msg, msglen, "preprocessing failed for a %dx%d image", info.w, info.h);
        return FW_ERR_INTERNAL;
    }
    if (fw_model_run(&c->model, c->input, 1, probs, msg, msglen) != 0)
        return FW_ERR_INFERENCE;
    return FW_OK;
}

void fw_classifier_free(fw_classifier *c)
{
    if (!c)
        return;
    fw_model_close(&c->model);
    fw_decoder_free(c->dec);
    free(c->input);
    free(c);
}
