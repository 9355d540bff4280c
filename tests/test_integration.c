/* test_integration.c - end to end: the real framewire binary on a free port, real WebSocket
 * clients (fw_client, on lws), the real tiny model and real photos.
 *
 * Checks: the hello; each frame's result equals the in-process classification of the same bytes;
 * bad frames get errors with their frame id and a stable code while a second client keeps getting
 * correct results; frames sent = results + errors on every connection; fragmented messages are
 * reassembled; bare JPEGs are numbered by the server; an oversized message closes only its own
 * connection with 1009; config changes top-k; HTTP /healthz and static files; clean SIGTERM;
 * start-up failures exit non-zero with one line naming the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "e2e.h"
#include "fw_classify.h"
#include "fw_client.h"
#include "fw_frame.h"
#include "fw_time.h"
#include "fw_topk.h"
#include "test_util.h"

#define MODEL_JSON FW_TEST_MODEL_DIR "/tiny.json"
#define MAX_MSG "3000000"

static tu_server server;
static char static_dir[512];
#define photo e2e_photo
#define photo_len e2e_photo_len
#define nphotos e2e_nphotos

static int setup(void **state)
{
    (void)state;
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    if (e2e_setup(MODEL_JSON) != 0)
        return -1;
    snprintf(static_dir, sizeof static_dir, "%s/static", FW_TEST_WORK_DIR);
    mkdir(static_dir, 0755);
    char idx[600];
    snprintf(idx, sizeof idx, "%s/index.html", static_dir);
    FILE *f = fopen(idx, "w");
    if (!f)
        return -1;
    fputs("<!doctype html><title>framewire test page</title>\n", f);
    fclose(f);

    /* Lossless: these tests send bursts and check every result. */
    const char *args[] = {
        "--model",     MODEL_JSON, "--max-message-bytes", MAX_MSG, "--static-dir", static_dir,
        "--max-batch", "4",        "--decode-threads",    "2",     "--policy",     "lossless",
        NULL};
    if (tu_server_start(&server, args) != 0) {
        fprintf(stderr, "server did not start:\n%s\n", server.output);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (server.pid > 0)
        tu_server_stop(&server, SIGKILL, 2000);
    tu_kill_all(); /* servers of tests that failed half-way */
    e2e_teardown();
    return 0;
}

static fw_client *connect_client(void)
{
    return e2e_connect(server.port);
}

static void test_hello(void **state)
{
    (void)state;
    fw_client *c = connect_client();
    cJSON *h = e2e_hello(c);
    const cJSON *proto = cJSON_GetObjectItemCaseSensitive(h, "protocol");
    assert_string_equal(proto->valuestring, "framewire.v1");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(h, "model");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(model, "name")->valuestring, "tiny-test");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(model, "labels")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(model, "input_width")->valueint, 32);
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(h, "limits");
    assert_int_equal(e2e_u64(lim, "max_message_bytes"), atoi(MAX_MSG));
    cJSON_Delete(h);
    fw_client_free(c);
}

/* Every photo, framed, several rounds: each result equals the in-process classification. */
static void test_results_equal_in_process(void **state)
{
    (void)state;
    fw_client *c = connect_client();
    cJSON_Delete(e2e_hello(c));
    int rounds = 3, sent = 0, results = 0, labels_seen = 0;
    int seen[64] = {0};
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < nphotos; i++) {
            uint64_t id = 1000 + (uint64_t)sent;
            assert_int_equal(
                fw_client_send_frame(c, id, 1700000000123456ull + id, photo[i], photo_len[i]), 0);
            sent++;
        }
    for (int n = 0; n < sent; n++) {
        cJSON *m = e2e_next(c);
        assert_string_equal(e2e_type(m), "result");
        uint64_t id = e2e_u64(m, "frame_id");
        assert_int_equal(id, 1000 + (uint64_t)n); /* answers come in order */
        assert_int_equal(e2e_u64(m, "capture_ts_us"), 1700000000123456ull + id);
        int i = n % nphotos;
        e2e_check_result(m, photo[i], photo_len[i], 5);
        const cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "top"), 0);
        int idx = cJSON_GetObjectItemCaseSensitive(t0, "index")->valueint;
        if (!seen[idx]++)
            labels_seen++;
        results++;
        cJSON_Delete(m);
    }
    assert_int_equal(results, sent);
    /* The test model must tell the photos apart, or this test could not fail. */
    assert_true(labels_seen >= 2);
    fw_client_free(c);
}

/* Builds a copy of jpeg with its SOF width/height patched to w x h. */
static uint8_t *patch_sof(const uint8_t *jpeg, size_t len, int w, int h)
{
    uint8_t *b = malloc(len);
    memcpy(b, jpeg, len);
    for (size_t i = 2; i + 9 < len; i++)
        if (b[i] == 0xFF && (b[i + 1] == 0xC0 || b[i + 1] == 0xC2)) {
            b[i + 5] = (uint8_t)(h >> 8);
            b[i + 6] = (uint8_t)h;
            b[i + 7] = (uint8_t)(w >> 8);
            b[i + 8] = (uint8_t)w;
            break;
        }
    return b;
}

struct bad_case {
    const char *name;
    uint8_t *msg; /* whole binary message */
    size_t len;
    const char *code;     /* expected error code, or NULL */
    uint64_t frame_id;    /* expected id; 0: numbered by the server */
    const uint8_t *photo; /* expected result for these bytes, or NULL (code or anything) */
    size_t photo_len;
    size_t fragment; /* send in fragments of this size (0: one frame) */
    int answered;
};

static uint8_t *framed(uint64_t id, const uint8_t *payload, size_t len, size_t *out_len)
{
    uint8_t *b = malloc(FW_FRAME_HEADER_LEN + len + 1);
    fw_frame_write_header(b, id, 0, 0);
    if (len)
        memcpy(b + FW_FRAME_HEADER_LEN, payload, len);
    *out_len = FW_FRAME_HEADER_LEN + len;
    return b;
}

/* Client B sends every kind of bad frame (and good ones, fragmented and bare) while client A
 * streams photos; A's results stay correct, B gets one answer per frame with the right code. */
static void test_bad_frames_do_not_disturb_others(void **state)
{
    (void)state;
    fw_client *a = connect_client();
    fw_client *b = connect_client();
    cJSON_Delete(e2e_hello(a));
    cJSON_Delete(e2e_hello(b));

    const uint8_t *good = photo[0];
    size_t glen = photo_len[0];
    struct bad_case cases[16];
    memset(cases, 0, sizeof cases);
    int nc = 0;
    size_t l;
    uint8_t *p;

    /* Client ids start at 101 so they cannot meet the server's numbers for headerless
     * messages (1, 2, ...). */
#define CASE(NAME, MSG, LEN, CODE, ID)                                                             \
    cases[nc++] =                                                                                  \
        (struct bad_case){.name = NAME, .msg = MSG, .len = LEN, .code = CODE, .frame_id = ID}
    p = framed(101, good, glen / 2, &l);
    CASE("truncated", p, l, "truncated_jpeg", 101);
    {
        /* Header only: everything up to the start of scan data. */
        size_t cut = 0;
        for (size_t i = 2; i + 1 < glen; i++)
            if (good[i] == 0xFF && good[i + 1] == 0xDA) {
                cut = i;
                break;
            }
        p = framed(102, good, cut, &l);
        CASE("header only", p, l, "bad_jpeg_header", 102);
    }
    {
        uint8_t *flip = malloc(glen);
        memcpy(flip, good, glen);
        for (size_t i = glen / 3; i < glen - 2; i += 97)
            flip[i] ^= 0x5A;
        p = framed(103, flip, glen, &l);
        CASE("bit-flipped", p, l, NULL, 103);
        free(flip);
    }
    uint8_t *huge = patch_sof(good, glen, 60000, 60000);
    p = framed(104, huge, glen, &l);
    free(huge);
    CASE("huge declared size", p, l, "image_too_large", 104);
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 13};
    p = framed(105, png, sizeof png, &l);
    CASE("PNG bytes", p, l, "not_jpeg", 105);
    p = framed(106, NULL, 0, &l);
    CASE("empty payload", p, l, "empty_frame", 106);
    p = framed(107, good, glen, &l);
    p[2] = 9; /* unknown version: its layout is unknown, so the server numbers it */
    CASE("bad version", p, l, "bad_frame_header", 0);
    p = malloc(5);
    memcpy(p, "FW\x01\x18x", 5);
    CASE("short header", p, 5, "bad_frame_header", 0);
    p = malloc(16);
    memcpy(p, "hello, not jpeg!", 16);
    CASE("text bytes", p, 16, "not_jpeg", 0);
    p = malloc(1); /* a WebSocket binary message of zero bytes */
    CASE("zero-byte message", p, 0, "empty_frame", 0);
    p = framed(110, good, glen, &l);
    CASE("good after bad", p, l, NULL, 110);
    cases[nc - 1].photo = good;
    cases[nc - 1].photo_len = glen;
    /* A bare JPEG (numbered by the server) and a framed JPEG split into 7-byte fragments. */
    p = malloc(glen);
    memcpy(p, good, glen);
    CASE("bare JPEG", p, glen, NULL, 0);
    cases[nc - 1].photo = good;
    cases[nc - 1].photo_len = glen;
    p = framed(177, photo[1], photo_len[1], &l);
    CASE("fragmented", p, l, NULL, 177);
    cases[nc - 1].photo = photo[1];
    cases[nc - 1].photo_len = photo_len[1];
    cases[nc - 1].fragment = 7;
#undef CASE
    /* Headerless messages are numbered by the server in arrival order. */
    uint64_t server_no = 0;
    for (int i = 0; i < nc; i++)
        if (cases[i].frame_id == 0)
            cases[i].frame_id = ++server_no;

    for (int i = 0; i < nc; i++) {
        assert_int_equal(fw_client_send(b, cases[i].msg, cases[i].len, 1, cases[i].fragment), 0);
        /* A streams a photo alongside each bad frame. */
        assert_int_equal(fw_client_send_frame(a, 500 + (uint64_t)i, 0, photo[i % nphotos],
                                              photo_len[i % nphotos]),
                         0);
    }

    /* A: one correct result per frame; the pipeline answers in submission order. */
    for (int i = 0; i < nc; i++) {
        cJSON *m = e2e_next(a);
        assert_string_equal(e2e_type(m), "result");
        assert_int_equal(e2e_u64(m, "frame_id"), 500 + (uint64_t)i);
        e2e_check_result(m, photo[i % nphotos], photo_len[i % nphotos], 5);
        cJSON_Delete(m);
    }
    /* B: exactly one answer per frame. Frames rejected before decoding are answered at once, so
     * answers are matched by frame id, not by order. */
    for (int n = 0; n < nc; n++) {
        cJSON *m = e2e_next(b);
        uint64_t id = e2e_u64(m, "frame_id");
        struct bad_case *c = NULL;
        for (int i = 0; i < nc; i++)
            if (cases[i].frame_id == id)
                c = &cases[i];
        if (!c)
            fail_msg("answer for unknown frame %llu", (unsigned long long)id);
        if (c->answered++)
            fail_msg("%s: answered twice", c->name);
        const char *t = e2e_type(m);
        if (c->code) {
            if (strcmp(t, "error") != 0)
                fail_msg("%s: expected error %s, got %s", c->name, c->code, t);
            const cJSON *code = cJSON_GetObjectItemCaseSensitive(m, "code");
            const cJSON *msg = cJSON_GetObjectItemCaseSensitive(m, "message");
            if (strcmp(code->valuestring, c->code) != 0)
                fail_msg("%s: expected %s, got %s (%s)", c->name, c->code, code->valuestring,
                         msg->valuestring);
            assert_true(strlen(msg->valuestring) > 0);
        } else if (c->photo) {
            if (strcmp(t, "result") != 0)
                fail_msg("%s: expected a result, got %s", c->name, t);
            e2e_check_result(m, c->photo, c->photo_len, 5);
        } else {
            /* bit flips: an error or a result, but exactly one answer */
            assert_true(strcmp(t, "error") == 0 || strcmp(t, "result") == 0);
        }
        cJSON_Delete(m);
    }
    for (int i = 0; i < nc; i++) {
        assert_int_equal(cases[i].answered, 1);
        free(cases[i].msg);
    }
    /* Nothing more (but periodic stats): frames sent = results + errors. */
    cJSON *extra;
    while ((extra = e2e_next_any(b, 300))) {
        if (strcmp(e2e_type(extra), "stats") != 0)
            fail_msg("unexpected extra message: %s", cJSON_PrintUnformatted(extra));
        cJSON_Delete(extra);
    }
    fw_client_free(a);
    fw_client_free(b);
}

/* A message over the cap closes that connection with 1009; another client is unaffected. */
static void test_oversize_message_closes_1009(void **state)
{
    (void)state;
    fw_client *a = connect_client();
    fw_client *big = connect_client();
    cJSON_Delete(e2e_hello(a));
    cJSON_Delete(e2e_hello(big));
    size_t n = (size_t)atoi(MAX_MSG) + 1;
    uint8_t *blob = calloc(1, n);
    blob[0] = 0xFF;
    blob[1] = 0xD8;
    assert_int_equal(fw_client_send(big, blob, n, 1, 65536), 0);
    free(blob);
    char *t;
    while ((t = fw_client_recv(big, 10000)))
        free(t);
    int code = 0;
    assert_true(fw_client_closed(big, &code));
    assert_int_equal(code, 1009);
    fw_client_free(big);

    assert_int_equal(fw_client_send_frame(a, 9, 0, photo[2], photo_len[2]), 0);
    cJSON *m = e2e_next(a);
    assert_string_equal(e2e_type(m), "result");
    e2e_check_result(m, photo[2], photo_len[2], 5);
    cJSON_Delete(m);
    fw_client_free(a);
}

static void test_config_top_k(void **state)
{
    (void)state;
    fw_client *c = connect_client();
    cJSON_Delete(e2e_hello(c));
    const char *cfg = "{\"type\":\"config\",\"top_k\":2}";
    fw_client_send(c, cfg, strlen(cfg), 0, 0);
    cJSON *m = e2e_next(c);
    assert_string_equal(e2e_type(m), "config");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m, "top_k")->valueint, 2);
    cJSON_Delete(m);
    fw_client_send_frame(c, 1, 0, photo[0], photo_len[0]);
    m = e2e_next(c);
    e2e_check_result(m, photo[0], photo_len[0], 2);
    cJSON_Delete(m);

    const char *bad[] = {"not json", "{\"type\":\"config\",\"top_k\":0}",
                         "{\"type\":\"config\",\"topk\":3}", "{\"type\":\"launch\"}", "[1,2]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fw_client_send(c, bad[i], strlen(bad[i]), 0, 0);
        m = e2e_next(c);
        assert_string_equal(e2e_type(m), "error");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "code")->valuestring,
                            "bad_message");
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(m, "frame_id")));
        cJSON_Delete(m);
    }
    /* The connection still works. */
    fw_client_send_frame(c, 2, 0, photo[1], photo_len[1]);
    m = e2e_next(c);
    e2e_check_result(m, photo[1], photo_len[1], 2);
    cJSON_Delete(m);
    fw_client_free(c);
}

/* Many clients at once, each with more frames than max_inflight: all answered, all correct. */
static void test_many_clients(void **state)
{
    (void)state;
    enum { NC = 6, PER = 12 };
    fw_client *c[NC];
    for (int i = 0; i < NC; i++) {
        c[i] = connect_client();
        cJSON_Delete(e2e_hello(c[i]));
    }
    for (int f = 0; f < PER; f++)
        for (int i = 0; i < NC; i++)
            fw_client_send_frame(c[i], (uint64_t)f, 0, photo[(i + f) % nphotos],
                                 photo_len[(i + f) % nphotos]);
    for (int i = 0; i < NC; i++)
        for (int f = 0; f < PER; f++) {
            cJSON *m = e2e_next(c[i]);
            assert_string_equal(e2e_type(m), "result");
            assert_int_equal(e2e_u64(m, "frame_id"), (uint64_t)f);
            e2e_check_result(m, photo[(i + f) % nphotos], photo_len[(i + f) % nphotos], 5);
            cJSON_Delete(m);
        }
    for (int i = 0; i < NC; i++)
        fw_client_free(c[i]);
}

static void test_http(void **state)
{
    (void)state;
    char body[4096];
    assert_int_equal(tu_http_get(server.port, "/healthz", body, sizeof body), 200);
    cJSON *j = cJSON_Parse(body);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "status")->valuestring, "ok");
    cJSON_Delete(j);
    assert_int_equal(tu_http_get(server.port, "/", body, sizeof body), 200);
    assert_non_null(strstr(body, "framewire test page"));
    assert_int_equal(tu_http_get(server.port, "/no-such-file.js", body, sizeof body), 404);
}

/* Text that is not UTF-8 closes with 1007; a session over --max-clients is closed with 1008. */
static void test_utf8_and_max_clients(void **state)
{
    (void)state;
    fw_client *c = connect_client();
    cJSON_Delete(e2e_hello(c));
    static const char bad_utf8[] = "{\"type\":\"config\",\"x\":\"\xC3\x28\"}";
    fw_client_send(c, bad_utf8, sizeof bad_utf8 - 1, 0, 0);
    char *t;
    while ((t = fw_client_recv(c, 5000)))
        free(t);
    int code = 0;
    assert_true(fw_client_closed(c, &code));
    assert_int_equal(code, 1007);
    fw_client_free(c);

    tu_server one;
    const char *args[] = {"--model", MODEL_JSON, "--max-clients", "1", NULL};
    if (tu_server_start(&one, args) != 0)
        fail_msg("second server did not start: %s", one.output);
    char err[256];
    fw_client *first = fw_client_connect("127.0.0.1", one.port, 5000, err, sizeof err);
    assert_non_null(first);
    cJSON_Delete(e2e_hello(first));
    fw_client *second = fw_client_connect("127.0.0.1", one.port, 5000, err, sizeof err);
    assert_non_null(second);
    while ((t = fw_client_recv(second, 5000)))
        free(t);
    assert_true(fw_client_closed(second, &code));
    assert_int_equal(code, 1008);
    fw_client_free(second);
    /* The first session is unaffected. */
    fw_client_send_frame(first, 1, 0, photo[0], photo_len[0]);
    cJSON *m = e2e_next(first);
    e2e_check_result(m, photo[0], photo_len[0], 5);
    cJSON_Delete(m);
    fw_client_free(first);
    assert_int_equal(tu_server_stop(&one, SIGINT, 10000), 0);
}

/* Last: SIGTERM with a client connected stops the server cleanly (exit 0). */
static void test_sigterm_stops_cleanly(void **state)
{
    (void)state;
    fw_client *c = connect_client();
    cJSON_Delete(e2e_hello(c));
    int status = tu_server_stop(&server, SIGTERM, 10000);
    assert_true(status != -1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char *t;
    while ((t = fw_client_recv(c, 2000)))
        free(t);
    assert_true(fw_client_closed(c, NULL));
    fw_client_free(c);
}

/* Start-up failures: exit code non-zero and one line that names the problem. */
static void test_startup_failures(void **state)
{
    (void)state;
    char out[8192];
    struct {
        const char *args[6];
        const char *must_say;
    } cases[] = {
        {{"--model", "/nonexistent/model.json", NULL}, "/nonexistent/model.json"},
        {{"--model", FW_TEST_MODEL_DIR "/tiny.json", "--port", "99999", NULL}, "--port"},
        {{"--port", "0", NULL}, "--model"},
        {{"--model", FW_TEST_MODEL_DIR "/tiny.json", "--bogus", NULL}, "bogus"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = tu_server_run_to_exit(cases[i].args, out, sizeof out, 60000);
        if (rc == 0 || !strstr(out, cases[i].must_say))
            fail_msg("case %zu: exit %d, output: %s", i, rc, out);
    }
    assert_int_equal(
        tu_server_run_to_exit((const char *[]){"--help", NULL}, out, sizeof out, 10000), 0);
    assert_non_null(strstr(out, "--max-message-bytes"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_results_equal_in_process),
        cmocka_unit_test(test_bad_frames_do_not_disturb_others),
        cmocka_unit_test(test_oversize_message_closes_1009),
        cmocka_unit_test(test_config_top_k),
        cmocka_unit_test(test_many_clients),
        cmocka_unit_test(test_http),
        cmocka_unit_test(test_utf8_and_max_clients),
        cmocka_unit_test(test_sigterm_stops_cleanly),
        cmocka_unit_test(test_startup_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
