/* fw_classify_cli.c - prints framewire's in-process classification of JPEG files, one JSON line
 * per file: {"file":"x.jpg","top":[{"label":"red","index":0,"prob":0.61},...]} with every class,
 * most probable first. The browser end-to-end test compares the page with it. It uses the
 * server's own decode, preprocessing and model (fw_classify.h), with no network.
 *
 * Usage: fw_classify_cli MANIFEST.json FILE.jpg... Exit status 0, or 1 when a file cannot be read
 * or classified (the message names the file), 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "fw_classify.h"
#include "fw_topk.h"

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc(n > 0 ? (size_t)n : 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int classify(fw_classifier *c, const char *path)
{
    const fw_model *m = fw_classifier_model(c);
    size_t len = 0;
    unsigned char *jpeg = read_file(path, &len);
    if (!jpeg) {
        fprintf(stderr, "fw_classify_cli: cannot read %s\n", path);
        return 1;
    }
    float *probs = malloc(sizeof(float) * (size_t)m->num_classes);
    fw_class_score *top = malloc(sizeof(fw_class_score) * (size_t)m->num_classes);
    char msg[256] = "";
    int rc = 1;
    if (!probs || !top) {
        fprintf(stderr, "fw_classify_cli: out of memory\n");
        goto out;
    }
    fw_err e = fw_classifier_run(c, jpeg, len, probs, msg, sizeof msg);
    if (e != FW_OK) {
        fprintf(stderr, "fw_classify_cli: %s: %s: %s\n", path, fw_error_name(e), msg);
        goto out;
    }
    int n = fw_topk(probs, m->num_classes, m->num_classes, top);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", path);
    cJSON *arr = cJSON_AddArrayToObject(o, "top");
    for (int i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "label", m->man.labels[top[i].index]);
        cJSON_AddNumberToObject(s, "index", top[i].index);
        cJSON_AddNumberToObject(s, "prob", top[i].prob);
        cJSON_AddItemToArray(arr, s);
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (txt) {
        printf("%s\n", txt);
        cJSON_free(txt);
        rc = 0;
    }
out:
    free(probs);
    free(top);
    free(jpeg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MANIFEST.json FILE.jpg...\n", argv[0]);
        return 2;
    }
    fw_model_params mp = {.device = "cpu", .optimize = 1};
    fw_decode_limits limits = {.max_pixels = 0, .accept_warnings = 0};
    char err[512];
    fw_classifier *c = fw_classifier_new(argv[1], &mp, &limits, err, sizeof err);
    if (!c) {
        fprintf(stderr, "fw_classify_cli: %s\n", err);
        return 1;
    }
    int rc = 0;
    for (int i = 2; i < argc; i++)
        rc |= classify(c, argv[i]);
    fw_classifier_free(c);
    return rc;
}
