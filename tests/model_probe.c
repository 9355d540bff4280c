/* model_probe.c - a test helper that shows what framewire itself computes for JPEG photos, so
 * that scripts in other languages (nsfwjs on tfjs, PyTorch) can be compared with it.
 *
 *   model_probe MANIFEST OUTDIR PHOTO.jpg...
 *
 * Opens the model as the server does (fw_model_open: shim, freeze + optimize_for_inference), then
 * for each photo prints one JSON line to stdout:
 *   {"photo": PATH, "w": W, "h": H, "rgb": OUTDIR/NAME.rgb,
 *    "same": [...], "e2e": [...], "input": OUTDIR/NAME.input, "input_w": .., "input_h": ..}
 *   rgb    the photo decoded by TurboJPEG at full size (1/1), W*H*3 bytes R,G,B
 *   same   probabilities of fw_preprocess + model on exactly those pixels
 *   e2e    probabilities of fw_classifier_run on the JPEG bytes (the server's decode at the
 *          smallest DCT scale the model needs, preprocessing and model)
 *   input  the float32 NCHW tensor (3*H*W of the model) that the e2e path fed the model,
 *          recomputed here with the same decode and preprocessing calls; "e2e" is checked to
 *          equal the model's answer on it bit for bit
 * The first line is {"labels": [...], "input_w": .., "input_h": ..}. Exit 0, or 1 with a message
 * on stderr. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_classify.h"
#include "fw_preprocess.h"

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

static int write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static cJSON *float_array(const float *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static void print_line(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    puts(s);
    free(s);
    cJSON_Delete(o);
}

static int probe(fw_classifier *c, fw_decoder *dec, const char *path, const char *outdir)
{
    const fw_model *m = fw_classifier_model(c);
    const fw_preproc *pre = &m->man.pre;
    int k = m->num_classes;
    size_t nin = fw_model_input_floats(m);
    float *in = malloc(sizeof(float) * nin);
    float *same = malloc(sizeof(float) * k), *e2e = malloc(sizeof(float) * k);
    float *check = malloc(sizeof(float) * k);
    size_t len;
    uint8_t *jpeg = read_file(path, &len);
    char msg[512], rgb_path[1024], in_path[1024];
    int rc = -1;
    if (!in || !same || !e2e || !check || !jpeg) {
        fprintf(stderr, "model_probe: cannot read %s\n", path);
        goto out;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(rgb_path, sizeof rgb_path, "%s/%s.rgb", outdir, base);
    snprintf(in_path, sizeof in_path, "%s/%s.input", outdir, base);

    /* Same pixels: full-size decode, framewire's preprocessing, the model. */
    fw_decode_limits lim = {.max_pixels = 8192u * 8192u, .accept_warnings = 0};
    const uint8_t *rgb;
    fw_decode_info info;
    if (fw_decode_jpeg(dec, jpeg, len, &lim, INT_MAX, INT_MAX, &rgb, &info, msg, sizeof msg) !=
        FW_OK) {
        fprintf(stderr, "model_probe: %s: %s\n", path, msg);
        goto out;
    }
    if (info.w != info.src_w || info.h != info.src_h) {
        fprintf(stderr, "model_probe: %s: not decoded at full size\n", path);
        goto out;
    }
    int w = info.w, h = info.h;
    if (write_bytes(rgb_path, rgb, (size_t)w * h * 3) != 0 ||
        fw_preprocess(rgb, w, h, pre, in) != 0 ||
        fw_model_run((fw_model *)m, in, 1, same, msg, sizeof msg) != 0) {
        fprintf(stderr, "model_probe: %s: same-pixels run failed: %s\n", path, msg);
        goto out;
    }

    /* End to end, exactly as the server does it. */
    if (fw_classifier_run(c, jpeg, len, e2e, msg, sizeof msg) != FW_OK) {
        fprintf(stderr, "model_probe: %s: %s\n", path, msg);
        goto out;
    }
    /* The tensor that run used: the same calls again (decode at the smallest useful scale). */
    int mw, mh;
    fw_preprocess_min_size(pre, 0, 0, &mw, &mh);
    if (fw_decode_jpeg(dec, jpeg, len, &lim, mw, mh, &rgb, &info, msg, sizeof msg) != FW_OK ||
        fw_preprocess(rgb, info.w, info.h, pre, in) != 0 ||
        fw_model_run((fw_model *)m, in, 1, check, msg, sizeof msg) != 0 ||
        write_bytes(in_path, in, sizeof(float) * nin) != 0) {
        fprintf(stderr, "model_probe: %s: input tensor: %s\n", path, msg);
        goto out;
    }
    if (memcmp(check, e2e, sizeof(float) * k) != 0) {
        fprintf(stderr, "model_probe: %s: the recomputed input does not give the e2e answer\n",
                path);
        goto out;
    }

    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "photo", path);
    cJSON_AddNumberToObject(o, "w", w);
    cJSON_AddNumberToObject(o, "h", h);
    cJSON_AddStringToObject(o, "rgb", rgb_path);
    cJSON_AddItemToObject(o, "same", float_array(same, k));
    cJSON_AddItemToObject(o, "e2e", float_array(e2e, k));
    cJSON_AddStringToObject(o, "input", in_path);
    cJSON_AddNumberToObject(o, "decoded_w", info.w);
    cJSON_AddNumberToObject(o, "decoded_h", info.h);
    print_line(o);
    rc = 0;
out:
    free(in);
    free(same);
    free(e2e);
    free(check);
    free(jpeg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MANIFEST OUTDIR PHOTO.jpg...\n", argv[0]);
        return 2;
    }
    char err[1024];
    fw_model_params mp = {.device = "cpu", .optimize = 1};
    fw_decode_limits lim = {.max_pixels = 8192u * 8192u, .accept_warnings = 0};
    fw_classifier *c = fw_classifier_new(argv[1], &mp, &lim, err, sizeof err);
    if (!c) {
        fprintf(stderr, "model_probe: %s\n", err);
        return 1;
    }
    fw_decoder *dec = fw_decoder_new();
    const fw_model *m = fw_classifier_model(c);
    cJSON *o = cJSON_CreateObject();
    cJSON *labels = cJSON_AddArrayToObject(o, "labels");
    for (int i = 0; i < m->num_classes; i++)
        cJSON_AddItemToArray(labels, cJSON_CreateString(m->man.labels[i]));
    cJSON_AddNumberToObject(o, "input_w", m->man.pre.width);
    cJSON_AddNumberToObject(o, "input_h", m->man.pre.height);
    print_line(o);
    int rc = dec ? 0 : 1;
    for (int i = 3; i < argc && rc == 0; i++)
        if (probe(c, dec, argv[i], argv[2]) != 0)
            rc = 1;
    fflush(stdout);
    fw_decoder_free(dec);
    fw_classifier_free(c);
    return rc;
}
