/* e2e.c - shared pieces of the end-to-end tests (see e2e.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"
#include "fw_topk.h"
#include "test_util.h"

int e2e_nphotos;
char *e2e_photo_path[E2E_MAX_PHOTOS];
uint8_t *e2e_photo[E2E_MAX_PHOTOS];
size_t e2e_photo_len[E2E_MAX_PHOTOS];
fw_classifier *e2e_ref;
int e2e_stats_seen;

int e2e_setup(const char *manifest)
{
    e2e_nphotos = tu_list_jpegs(FW_TEST_PHOTO_DIR, e2e_photo_path, E2E_MAX_PHOTOS);
    if (e2e_nphotos < 3) {
        fprintf(stderr, "need the darknet photos in %s\n", FW_TEST_PHOTO_DIR);
        return -1;
    }
    for (int i = 0; i < e2e_nphotos; i++)
        if (!(e2e_photo[i] = tu_read_file(e2e_photo_path[i], &e2e_photo_len[i])))
            return -1;
    char err[1024];
    fw_model_params mp = {.device = "cpu", .optimize = 1};
    fw_decode_limits lim = {.max_pixels = 4096u * 4096u, .accept_warnings = 0};
    e2e_ref = fw_classifier_new(manifest, &mp, &lim, err, sizeof err);
    if (!e2e_ref) {
        fprintf(stderr, "in-process classifier: %s\n", err);
        return -1;
    }
    return 0;
}

void e2e_teardown(void)
{
    fw_classifier_free(e2e_ref);
    e2e_ref = NULL;
    for (int i = 0; i < e2e_nphotos; i++) {
        free(e2e_photo[i]);
        free(e2e_photo_path[i]);
    }
    e2e_nphotos = 0;
}

fw_client *e2e_connect(int port)
{
    char err[256];
    fw_client *c = fw_client_connect("127.0.0.1", port, 5000, err, sizeof err);
    if (!c)
        fail_msg("connect: %s", err);
    return c;
}

cJSON *e2e_next_any(fw_client *c, int timeout_ms)
{
    char *txt = fw_client_recv(c, timeout_ms);
    if (!txt)
        return NULL;
    cJSON *j = cJSON_Parse(txt);
    if (!j)
        fail_msg("not JSON: %s", txt);
    free(txt);
    return j;
}

cJSON *e2e_next(fw_client *c)
{
    for (;;) {
        cJSON *j = e2e_next_any(c, 20000);
        if (!j)
            fail_msg("no message from the server within 20 s");
        if (strcmp(e2e_type(j), "stats") != 0)
            return j;
        e2e_stats_seen++;
        cJSON_Delete(j);
    }
}

const char *e2e_type(const cJSON *j)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    return cJSON_IsString(t) ? t->valuestring : "";
}

uint64_t e2e_u64(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(v))
        fail_msg("field \"%s\" is not a number", key);
    return (uint64_t)v->valuedouble;
}

cJSON *e2e_hello(fw_client *c)
{
    cJSON *h = e2e_next(c);
    assert_string_equal(e2e_type(h), "hello");
    return h;
}

void e2e_send_text(fw_client *c, const char *text)
{
    assert_int_equal(fw_client_send(c, text, strlen(text), 0, 0), 0);
}

void e2e_check_result(const cJSON *r, const uint8_t *jpeg, size_t len, int k)
{
    const fw_model *m = fw_classifier_model(e2e_ref);
    float probs[256];
    char msg[256];
    assert_true(m->num_classes <= 256);
    assert_int_equal(fw_classifier_run(e2e_ref, jpeg, len, probs, msg, sizeof msg), FW_OK);
    fw_class_score want[256];
    int n = fw_topk(probs, m->num_classes, k, want);
    assert_string_equal(e2e_type(r), "result");
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(r, "top");
    assert_true(cJSON_IsArray(top));
    assert_int_equal(cJSON_GetArraySize(top), n);
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(top, i);
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(e, "index");
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(e, "label");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "prob");
        assert_int_equal(idx->valueint, want[i].index);
        assert_string_equal(lab->valuestring, m->man.labels[want[i].index]);
        if (fabs(p->valuedouble - want[i].prob) > E2E_PROB_TOL)
            fail_msg("class %d: server prob %.7f, in-process %.7f", want[i].index, p->valuedouble,
                     (double)want[i].prob);
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "timing_us");
    const char *stages[] = {"queue", "decode", "preprocess", "wait", "infer", "total"};
    for (size_t i = 0; i < sizeof stages / sizeof *stages; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, stages[i]);
        assert_true(cJSON_IsNumber(v) && v->valuedouble >= 0);
    }
    assert_true(e2e_u64(r, "server_tx_ts_us") >= e2e_u64(r, "server_rx_ts_us"));
}
