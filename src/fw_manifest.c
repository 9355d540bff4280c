/* fw_manifest.c - read and validate a model manifest (format in fw_manifest.h). */
#include "fw_manifest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MANIFEST_BYTES (4u << 20)
#define MAX_INPUT_SIDE 8192
#define MAX_LABELS 100000

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "manifest %s: %s", path, msg);
    return -1;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int get_int(const cJSON *root, const char *key, int required, int def, int lo, int hi,
                   int *out, char *err, size_t errlen, const char *path)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        if (required)
            return fail(err, errlen, path, "missing field \"%s\"", key);
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return fail(err, errlen, path, "field \"%s\" must be an integer from %d to %d", key, lo,
                    hi);
    *out = (int)v->valuedouble;
    return 0;
}

static int get_float3(const cJSON *root, const char *key, float def, int positive, float out[3],
                      char *err, size_t errlen, const char *path)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        out[0] = out[1] = out[2] = def;
        return 0;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return fail(err, errlen, path, "field \"%s\" must be an array of 3 numbers", key);
    for (int i = 0; i < 3; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || (positive && e->valuedouble <= 0))
            return fail(err, errlen, path, "field \"%s\" must hold 3 %snumbers", key,
                        positive ? "positive " : "finite ");
        out[i] = (float)e->valuedouble;
    }
    return 0;
}

static const char *const known_keys[] = {
    "name",
    "file",
    "input_width",
    "input_height",
    "color_order",
    "resize",
    "scale",
    "resize_shorter",
    "align_corners",
    "mean",
    "std",
    "output",
    "labels",
    "description",
    "license",
    "source",
    "jpeg_dct_scaling",
};

int fw_manifest_parse(const char *json, const char *path, fw_manifest *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        char near[24] = "";
        if (at)
            snprintf(near, sizeof near, "%.20s", at);
        for (char *c = near; *c; c++)
            if (*c == '\n' || *c == '\r' || *c == '\t')
                *c = ' ';
        return fail(err, errlen, path, "not valid JSON (near \"%s\")", near);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(err, errlen, path, "top level must be a JSON object");
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        size_t i, n = sizeof known_keys / sizeof known_keys[0];
        for (i = 0; i < n; i++)
            if (strcmp(it->string, known_keys[i]) == 0)
                break;
        if (i == n) {
            fail(err, errlen, path, "unknown field \"%s\"", it->string);
            goto err;
        }
    }

    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsString(name) || !name->valuestring[0]) {
        fail(err, errlen, path, "field \"name\" must be a non-empty string");
        goto err;
    }
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(root, "file");
    if (!cJSON_IsString(file) || !file->valuestring[0]) {
        fail(err, errlen, path, "field \"file\" must be a non-empty string");
        goto err;
    }

    fw_preproc *p = &m->pre;
    if (get_int(root, "input_width", 1, 0, 1, MAX_INPUT_SIDE, &p->width, err, errlen, path) ||
        get_int(root, "input_height", 1, 0, 1, MAX_INPUT_SIDE, &p->height, err, errlen, path))
        goto err;

    const cJSON *co = cJSON_GetObjectItemCaseSensitive(root, "color_order");
    if (!co || (cJSON_IsString(co) && strcmp(co->valuestring, "rgb") == 0))
        p->color = FW_COLOR_RGB;
    else if (cJSON_IsString(co) && strcmp(co->valuestring, "bgr") == 0)
        p->color = FW_COLOR_BGR;
    else {
        fail(err, errlen, path, "field \"color_order\" must be \"rgb\" or \"bgr\"");
        goto err;
    }

    const cJSON *rz = cJSON_GetObjectItemCaseSensitive(root, "resize");
    if (!rz || (cJSON_IsString(rz) && strcmp(rz->valuestring, "stretch") == 0))
        p->resize = FW_RESIZE_STRETCH;
    else if (cJSON_IsString(rz) && strcmp(rz->valuestring, "shorter_side_crop") == 0)
        p->resize = FW_RESIZE_SHORTER_SIDE_CROP;
    else {
        fail(err, errlen, path, "field \"resize\" must be \"stretch\" or \"shorter_side_crop\"");
        goto err;
    }
    int side = p->width > p->height ? p->width : p->height;
    if (get_int(root, "resize_shorter", 0, side, side, 4 * MAX_INPUT_SIDE, &p->resize_shorter, err,
                errlen, path))
        goto err;
    if (p->resize == FW_RESIZE_STRETCH &&
        cJSON_GetObjectItemCaseSensitive(root, "resize_shorter")) {
        fail(err, errlen, path, "field \"resize_shorter\" applies only to \"shorter_side_crop\"");
        goto err;
    }

    const cJSON *ac = cJSON_GetObjectItemCaseSensitive(root, "align_corners");
    if (ac && !cJSON_IsBool(ac)) {
        fail(err, errlen, path, "field \"align_corners\" must be true or false");
        goto err;
    }
    p->align_corners = ac && cJSON_IsTrue(ac);

    const cJSON *dct = cJSON_GetObjectItemCaseSensitive(root, "jpeg_dct_scaling");
    if (dct && !cJSON_IsBool(dct)) {
        fail(err, errlen, path, "field \"jpeg_dct_scaling\" must be true or false");
        goto err;
    }
    p->full_decode = dct && cJSON_IsFalse(dct);

    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(root, "scale");
    p->scale = 1.0f / 255.0f;
    if (sc) {
        if (!cJSON_IsNumber(sc) || !isfinite(sc->valuedouble) || sc->valuedouble == 0) {
            fail(err, errlen, path, "field \"scale\" must be a non-zero number");
            goto err;
        }
        p->scale = (float)sc->valuedouble;
    }
    if (get_float3(root, "mean", 0.0f, 0, p->mean, err, errlen, path) ||
        get_float3(root, "std", 1.0f, 1, p->std, err, errlen, path))
        goto err;

    const cJSON *out = cJSON_GetObjectItemCaseSensitive(root, "output");
    if (cJSON_IsString(out) && strcmp(out->valuestring, "probs") == 0)
        m->output = FW_OUTPUT_PROBS;
    else if (cJSON_IsString(out) && strcmp(out->valuestring, "logits") == 0)
        m->output = FW_OUTPUT_LOGITS;
    else {
        fail(err, errlen, path, "field \"output\" must be \"probs\" or \"logits\"");
        goto err;
    }

    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(root, "labels");
    int n = cJSON_IsArray(labels) ? cJSON_GetArraySize(labels) : 0;
    if (n < 1 || n > MAX_LABELS) {
        fail(err, errlen, path, "field \"labels\" must be an array of 1 to %d strings", MAX_LABELS);
        goto err;
    }
    m->labels = calloc((size_t)n, sizeof *m->labels);
    if (!m->labels) {
        fail(err, errlen, path, "out of memory");
        goto err;
    }
    m->num_labels = n;
    for (int i = 0; i < n; i++) {
        const cJSON *l = cJSON_GetArrayItem(labels, i);
        if (!cJSON_IsString(l)) {
            fail(err, errlen, path, "field \"labels\": entry %d is not a string", i);
            goto err;
        }
        if (!(m->labels[i] = xstrdup(l->valuestring))) {
            fail(err, errlen, path, "out of memory");
            goto err;
        }
    }

    /* Resolve "file" against the manifest's directory unless it is absolute. */
    const char *slash = strrchr(path, '/');
    size_t dirlen = (file->valuestring[0] == '/' || !slash) ? 0 : (size_t)(slash - path + 1);
    size_t flen = strlen(file->valuestring);
    m->path = xstrdup(path);
    m->name = xstrdup(name->valuestring);
    m->model_path = malloc(dirlen + flen + 1);
    if (!m->path || !m->name || !m->model_path) {
        fail(err, errlen, path, "out of memory");
        goto err;
    }
    memcpy(m->model_path, path, dirlen);
    memcpy(m->model_path + dirlen, file->valuestring, flen + 1);
    cJSON_Delete(root);
    return 0;

err:
    cJSON_Delete(root);
    fw_manifest_free(m);
    return -1;
}

int fw_manifest_load(const char *path, fw_manifest *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, path, "cannot open: %s", strerror(errno));
    char *buf = malloc(MAX_MANIFEST_BYTES + 1);
    if (!buf) {
        fclose(f);
        return fail(err, errlen, path, "out of memory");
    }
    size_t n = fread(buf, 1, MAX_MANIFEST_BYTES + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr || n > MAX_MANIFEST_BYTES) {
        free(buf);
        return fail(err, errlen, path, rerr ? "read error" : "larger than 4 MiB");
    }
    buf[n] = 0;
    int rc = fw_manifest_parse(buf, path, m, err, errlen);
    free(buf);
    return rc;
}

void fw_manifest_free(fw_manifest *m)
{
    if (!m)
        return;
    for (int i = 0; m->labels && i < m->num_labels; i++)
        free(m->labels[i]);
    free(m->labels);
    free(m->path);
    free(m->name);
    free(m->model_path);
    memset(m, 0, sizeof *m);
}
