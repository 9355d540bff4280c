/* test_realtime.c - end to end, the real-time behaviour of the real framewire binary: the realtime
 * and lossless policies past saturation with frame-by-frame accounting, the freshness budget,
 * latest-frame-wins in the ring of prepared frames, clock sync, stats, /readyz and /metrics, the
 * REST endpoints (and their 503 past a full queue), TLS, origin and token checks, and the graceful
 * drain on SIGTERM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <turbojpeg.h>

#include "e2e.h"
#include "fw_time.h"
#include "test_util.h"

#define MODEL_JSON FW_TEST_MODEL_DIR "/tiny.json"

/* The largest photo: the slowest to decode, to saturate the server. */
static int big;

static int setup(void **state)
{
    (void)state;
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    if (e2e_setup(MODEL_JSON) != 0)
        return -1;
    for (int i = 1; i < e2e_nphotos; i++)
        if (e2e_photo_len[i] > e2e_photo_len[big])
            big = i;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_kill_all(); /* servers of tests that failed half-way */
    e2e_teardown();
    return 0;
}

static void start(tu_server *s, const char *const *extra)
{
    const char *args[40] = {"--model", MODEL_JSON};
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 38; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    if (tu_server_start(s, args) != 0)
        fail_msg("server did not start:\n%s", s->output);
}

static void stop(tu_server *s)
{
    int st = tu_server_stop(s, SIGTERM, 20000);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("server did not stop cleanly (status %d):\n%s", st, s->output);
}

/* The value of a metric line "NAME VALUE" in /metrics text; -1 when absent. */
static double metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return atof(p + n + 1);
    return -1;
}

static void get_metrics(int port, char *buf, size_t cap)
{
    assert_int_equal(tu_http_get(port, "/metrics", buf, cap), 200);
}

enum { OUT_NONE, OUT_RESULT, OUT_DROPPED, OUT_ERROR };

struct stream {
    fw_client *c;
    int lossless;
    int outcome[64];
    int answers, results, superseded, stale;
};

/* Several clients past saturation, two realtime and two lossless: every frame gets exactly one
 * answer; lossless ones are all results; realtime ones are results or superseded, the last one
 * sent always a result; /metrics counts the same. */
static void test_accounting_past_saturation(void **state)
{
    (void)state;
    tu_server s;
    start(&s, (const char *[]){"--decode-threads", "1", "--max-inflight", "4",
                               "--stats-interval-ms", "0", NULL});
    static char before[65536], after[65536];
    get_metrics(s.port, before, sizeof before);

    enum { NS = 4, NF = 40 };
    struct stream st[NS];
    memset(st, 0, sizeof st);
    for (int i = 0; i < NS; i++) {
        st[i].c = e2e_connect(s.port);
        cJSON_Delete(e2e_hello(st[i].c));
        st[i].lossless = i >= 2;
        e2e_send_text(st[i].c, st[i].lossless ? "{\"type\":\"config\",\"policy\":\"lossless\"}"
                                              : "{\"type\":\"config\",\"policy\":\"realtime\"}");
        cJSON *cfg = e2e_next(st[i].c);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(cfg, "policy")->valuestring,
                            st[i].lossless ? "lossless" : "realtime");
        cJSON_Delete(cfg);
    }
    for (int f = 0; f < NF; f++)
        for (int i = 0; i < NS; i++)
            fw_client_send_frame(st[i].c, (uint64_t)f, 0, e2e_photo[big], e2e_photo_len[big]);

    /* Service the clients in turn until every frame is answered. */
    int64_t deadline = fw_now_us() + 120 * 1000000LL;
    int done = 0;
    while (done < NS && fw_now_us() < deadline) {
        done = 0;
        for (int i = 0; i < NS; i++) {
            if (st[i].answers == NF) {
                done++;
                continue;
            }
            cJSON *m = e2e_next_any(st[i].c, 20);
            if (!m)
                continue;
            const char *t = e2e_type(m);
            if (strcmp(t, "result") && strcmp(t, "dropped") && strcmp(t, "error")) {
                cJSON_Delete(m);
                continue;
            }
            uint64_t id = e2e_u64(m, "frame_id");
            assert_true(id < NF);
            if (st[i].outcome[id])
                fail_msg("stream %d frame %" PRIu64 " answered twice", i, id);
            st[i].answers++;
            if (!strcmp(t, "result")) {
                st[i].outcome[id] = OUT_RESULT;
                st[i].results++;
                e2e_check_result(m, e2e_photo[big], e2e_photo_len[big], 5);
            } else if (!strcmp(t, "dropped")) {
                st[i].outcome[id] = OUT_DROPPED;
                const char *why = cJSON_GetObjectItemCaseSensitive(m, "reason")->valuestring;
                assert_string_equal(why, "superseded");
                st[i].superseded++;
            } else {
                fail_msg("stream %d frame %" PRIu64 ": unexpected error %s", i, id,
                         cJSON_PrintUnformatted(m));
            }
            cJSON_Delete(m);
        }
    }
    int superseded = 0;
    for (int i = 0; i < NS; i++) {
        if (st[i].answers != NF)
            fail_msg("stream %d: %d of %d frames answered", i, st[i].answers, NF);
        if (st[i].lossless) {
            assert_int_equal(st[i].results, NF);
        } else {
            assert_int_equal(st[i].results + st[i].superseded, NF);
            assert_int_equal(st[i].outcome[NF - 1], OUT_RESULT); /* latest frame wins */
        }
        superseded += st[i].superseded;
        printf("stream %d (%s): %d results, %d superseded\n", i,
               st[i].lossless ? "lossless" : "realtime", st[i].results, st[i].superseded);
        fw_client_free(st[i].c);
    }
    /* Past saturation, realtime streams must have lost frames to newer ones. */
    assert_true(superseded > 0);

    get_metrics(s.port, after, sizeof after);
    const char *keys[] = {"framewire_frames_total{outcome=\"result\"}",
                          "framewire_frames_total{outcome=\"dropped_superseded\"}",
                          "framewire_frames_total{outcome=\"error\"}",
                          "framewire_frames_received_total"};
    double d[4];
    for (int k = 0; k < 4; k++)
        d[k] = metric(after, keys[k]) - metric(before, keys[k]);
    int results = 0;
    for (int i = 0; i < NS; i++)
        results += st[i].results;
    assert_int_equal((int)d[0], results);
    assert_int_equal((int)d[1], superseded);
    assert_int_equal((int)d[2], 0);
    assert_int_equal((int)d[3], NS * NF);
    stop(&s);
}

/* Freshness budget: a frame captured long before the freshest seen is dropped as stale without
 * being decoded; lossless ignores the budget. */
static void test_stale_frames(void **state)
{
    (void)state;
    tu_server s;
    start(&s, (const char *[]){"--stats-interval-ms", "0", NULL});
    fw_client *c = e2e_connect(s.port);
    cJSON *h = e2e_hello(c);
    cJSON_Delete(h);
    e2e_send_text(c, "{\"type\":\"config\",\"max_age_ms\":200}");
    cJSON_Delete(e2e_next(c));
    uint64_t now = (uint64_t)fw_wall_us();
    fw_client_send_frame(c, 1, now, e2e_photo[0], e2e_photo_len[0]);
    cJSON *m = e2e_next(c);
    e2e_check_result(m, e2e_photo[0], e2e_photo_len[0], 5);
    cJSON_Delete(m);
    fw_client_send_frame(c, 2, now - 5000000, e2e_photo[0], e2e_photo_len[0]);
    m = e2e_next(c);
    assert_string_equal(e2e_type(m), "dropped");
    assert_int_equal(e2e_u64(m, "frame_id"), 2);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "reason")->valuestring, "stale");
    cJSON_Delete(m);
    fw_client_send_frame(c, 3, (uint64_t)fw_wall_us(), e2e_photo[1], e2e_photo_len[1]);
    m = e2e_next(c);
    e2e_check_result(m, e2e_photo[1], e2e_photo_len[1], 5);
    cJSON_Delete(m);
    /* Lossless: no drops, stale or not. */
    e2e_send_text(c, "{\"type\":\"config\",\"policy\":\"lossless\"}");
    cJSON_Delete(e2e_next(c));
    fw_client_send_frame(c, 4, now - 5000000, e2e_photo[0], e2e_photo_len[0]);
    m = e2e_next(c);
    e2e_check_result(m, e2e_photo[0], e2e_photo_len[0], 5);
    cJSON_Delete(m);
    char txt[65536];
    get_metrics(s.port, txt, sizeof txt);
    assert_int_equal((int)metric(txt, "framewire_frames_total{outcome=\"dropped_stale\"}"), 1);
    fw_client_free(c);
    stop(&s);
}

/* Clock sync, stats, and the hello's flow hint. */
static void test_ping_and_stats(void **state)
{
    (void)state;
    tu_server s;
    start(&s, (const char *[]){"--stats-interval-ms", "200", "--max-inflight", "3", NULL});
    fw_client *c = e2e_connect(s.port);
    cJSON *h = e2e_hello(c);
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(h, "limits");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(lim, "max_inflight")->valueint, 3);
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(h, "config");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cfg, "policy")->valuestring, "realtime");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(cfg, "stats_interval_ms")->valueint, 200);
    cJSON_Delete(h);

    int64_t t1 = fw_wall_us();
    char ping[96];
    snprintf(ping, sizeof ping, "{\"type\":\"ping\",\"client_ts_us\":%" PRId64 "}", t1);
    e2e_send_text(c, ping);
    cJSON *m = e2e_next(c);
    int64_t t4 = fw_wall_us();
    assert_string_equal(e2e_type(m), "pong");
    assert_true((int64_t)e2e_u64(m, "client_ts_us") == t1);
    int64_t t2 = (int64_t)e2e_u64(m, "server_rx_ts_us"),
            t3 = (int64_t)e2e_u64(m, "server_tx_ts_us");
    /* Same machine, same clock: the server's stamps lie between send and receive. */
    assert_true(t1 <= t2 && t2 <= t3 && t3 <= t4);
    cJSON_Delete(m);

    for (int i = 0; i < 3; i++) {
        fw_client_send_frame(c, (uint64_t)i, (uint64_t)fw_wall_us(), e2e_photo[i],
                             e2e_photo_len[i]);
        m = e2e_next(c);
        e2e_check_result(m, e2e_photo[i], e2e_photo_len[i], 5);
        cJSON_Delete(m);
    }
    /* A stats message that has seen the three results. */
    int64_t deadline = fw_now_us() + 5000000;
    int found = 0;
    while (!found && fw_now_us() < deadline) {
        m = e2e_next_any(c, 1000);
        if (!m)
            continue;
        if (!strcmp(e2e_type(m), "stats") && e2e_u64(m, "results") == 3) {
            found = 1;
            assert_int_equal(e2e_u64(m, "frames"), 3);
            assert_int_equal(e2e_u64(m, "errors"), 0);
            assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(m, "fps_in")));
            assert_true(cJSON_GetObjectItemCaseSensitive(m, "window_ms")->valueint > 0);
        }
        cJSON_Delete(m);
    }
    assert_true(found);
    fw_client_free(c);
    stop(&s);
}

static void test_rest_and_health(void **state)
{
    (void)state;
    tu_server s;
    start(&s, (const char *[]){"--max-message-bytes", "3000000", NULL});
    static char body[1 << 20];
    assert_int_equal(tu_http_get(s.port, "/readyz", body, sizeof body), 200);
    assert_int_equal(tu_http_get(s.port, "/v1/models", body, sizeof body), 200);
    cJSON *j = cJSON_Parse(body);
    const cJSON *m0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "models"), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m0, "name")->valuestring, "tiny-test");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m0, "labels")), 4);
    cJSON_Delete(j);

    for (int i = 0; i < e2e_nphotos; i++) {
        assert_int_equal(tu_http(s.port, "POST", "/v1/classify", "Content-Type: image/jpeg\r\n",
                                 e2e_photo[i], e2e_photo_len[i], body, sizeof body),
                         200);
        j = cJSON_Parse(body);
        assert_non_null(j);
        e2e_check_result(j, e2e_photo[i], e2e_photo_len[i], 5);
        cJSON_Delete(j);
    }
    assert_int_equal(tu_http(s.port, "POST", "/v1/classify?top_k=2", NULL, e2e_photo[0],
                             e2e_photo_len[0], body, sizeof body),
                     200);
    j = cJSON_Parse(body);
    e2e_check_result(j, e2e_photo[0], e2e_photo_len[0], 2);
    cJSON_Delete(j);

    struct {
        const char *method, *path;
        const void *data;
        size_t len;
        int status;
        const char *code;
    } cases[] = {
        {"POST", "/v1/classify", "not a jpeg", 10, 400, "not_jpeg"},
        {"POST", "/v1/classify", "", 0, 400, "empty_frame"},
        {"POST", "/v1/classify", e2e_photo[0], e2e_photo_len[0] / 2, 400, "truncated_jpeg"},
        {"POST", "/v1/classify?top_k=0", e2e_photo[0], e2e_photo_len[0], 400, "bad_message"},
        {"GET", "/v1/classify", NULL, 0, 405, "not_found"},
        {"GET", "/v1/nothing", NULL, 0, 404, "not_found"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = tu_http(s.port, cases[i].method, cases[i].path, NULL, cases[i].data, cases[i].len,
                         body, sizeof body);
        j = cJSON_Parse(body);
        const cJSON *code = j ? cJSON_GetObjectItemCaseSensitive(j, "code") : NULL;
        if (st != cases[i].status || !cJSON_IsString(code) ||
            strcmp(code->valuestring, cases[i].code))
            fail_msg("case %zu, %s %s: status %d body %s", i, cases[i].method, cases[i].path, st,
                     body);
        cJSON_Delete(j);
    }
    /* Too large: 413, and the server goes on. */
    size_t n = 3000001;
    uint8_t *blob = calloc(1, n);
    blob[0] = 0xFF;
    blob[1] = 0xD8;
    assert_int_equal(tu_http(s.port, "POST", "/v1/classify", NULL, blob, n, body, sizeof body),
                     413);
    free(blob);
    assert_int_equal(tu_http(s.port, "POST", "/v1/classify", NULL, e2e_photo[1], e2e_photo_len[1],
                             body, sizeof body),
                     200);

    /* /metrics: Prometheus text with the families the docs name. */
    assert_int_equal(tu_http_get(s.port, "/metrics", body, sizeof body), 200);
    const char *want[] = {"# TYPE framewire_frames_total counter",
                          "# TYPE framewire_stage_seconds histogram",
                          "framewire_stage_seconds_bucket{stage=\"decode\",le=\"+Inf\"}",
                          "# TYPE framewire_batch_size histogram",
                          "framewire_queue_depth ",
                          "framewire_open_connections ",
                          "framewire_model_info{model=\"tiny-test\""};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(body, want[i]))
            fail_msg("/metrics lacks '%s'", want[i]);
    /* A request answered before its body is read (bad top_k): the body, here itself an HTTP
     * request, must not be taken for the next request, whether it comes with the headers or
     * after the answer. */
    static const char inner[] = "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n";
    char req[512];
    int rn = snprintf(req, sizeof req,
                      "POST /v1/classify?top_k=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Content-Length: %zu\r\n\r\n%s",
                      sizeof inner - 1, inner);
    static char raw[65536];
    for (int late = 0; late < 2; late++) {
        size_t split = late ? (size_t)rn - (sizeof inner - 1) : 0;
        assert_true(tu_tcp_exchange(s.port, req, (size_t)rn, split, 300, raw, sizeof raw, 3000) >
                    0);
        assert_non_null(strstr(raw, "HTTP/1.1 400"));
        int responses = 0;
        for (const char *q = raw; (q = strstr(q, "HTTP/1.1 ")); q++)
            responses++;
        if (responses != 1)
            fail_msg("one request (body %s), %d responses:\n%s", late ? "late" : "with it",
                     responses, raw);
    }
    get_metrics(s.port, body, sizeof body);
    /* 8 results so far (7 photos + top_k=2), 4 failed bodies answered as errors + the 413. */
    assert_int_equal((int)metric(body, "framewire_frames_total{outcome=\"result\"}"),
                     e2e_nphotos + 2);
    assert_int_equal((int)metric(body, "framewire_stage_seconds_count{stage=\"total\"}"),
                     e2e_nphotos + 2);
    stop(&s);
}

static int run_cmd(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_tls(void **state)
{
    (void)state;
    char cert[512], key[512], cmd[2048];
    snprintf(cert, sizeof cert, "%s/tls-cert.pem", FW_TEST_WORK_DIR);
    snprintf(key, sizeof key, "%s/tls-key.pem", FW_TEST_WORK_DIR);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 "
             "-subj /CN=localhost >/dev/null 2>&1",
             key, cert);
    assert_int_equal(run_cmd(cmd), 0);
    tu_server s;
    start(&s, (const char *[]){"--tls-cert", cert, "--tls-key", key, NULL});
    assert_non_null(strstr(s.output, "listening on https://"));

    char err[256];
    fw_client_opts o = {
        .host = "127.0.0.1", .port = s.port, .tls = 1, .tls_insecure = 1, .timeout_ms = 5000};
    fw_client *c = fw_client_connect_opts(&o, err, sizeof err);
    if (!c)
        fail_msg("wss connect: %s", err);
    cJSON_Delete(e2e_hello(c));
    fw_client_send_frame(c, 1, 0, e2e_photo[0], e2e_photo_len[0]);
    cJSON *m = e2e_next(c);
    e2e_check_result(m, e2e_photo[0], e2e_photo_len[0], 5);
    cJSON_Delete(m);
    fw_client_free(c);
    /* Plain ws to a TLS port does not get a session. */
    assert_null(fw_client_connect("127.0.0.1", s.port, 2000, err, sizeof err));
    /* https with curl, if it is installed (scripts/deps.sh installs it). */
    snprintf(cmd, sizeof cmd,
             "curl -sfk https://127.0.0.1:%d/healthz | grep -q '\"status\":\"ok\"'", s.port);
    assert_int_equal(run_cmd(cmd), 0);
    stop(&s);

    /* A missing key file: a clear refusal to start. */
    char out[8192];
    const char *args[] = {"--model",    MODEL_JSON, "--port",    "0",
                          "--tls-cert", cert,       "--tls-key", "/nonexistent/key.pem",
                          NULL};
    int rc = tu_server_run_to_exit(args, out, sizeof out, 60000);
    if (rc == 0 || !strstr(out, "TLS"))
        fail_msg("bad key: exit %d, output %s", rc, out);
}

static void test_origin_and_token(void **state)
{
    (void)state;
    tu_server s;
    start(&s, (const char *[]){"--allow-origin", "http://ok.example", "--token", "s3cret", NULL});
    char err[256];
    fw_client_opts o = {.host = "127.0.0.1", .port = s.port, .timeout_ms = 3000};
    o.origin = "http://evil.example";
    o.token = "s3cret";
    assert_null(fw_client_connect_opts(&o, err, sizeof err));
    o.origin = "http://ok.example";
    o.token = NULL;
    assert_null(fw_client_connect_opts(&o, err, sizeof err));
    o.token = "wrong";
    assert_null(fw_client_connect_opts(&o, err, sizeof err));
    o.token = "s3cret";
    fw_client *c = fw_client_connect_opts(&o, err, sizeof err);
    if (!c)
        fail_msg("good origin + token: %s", err);
    cJSON_Delete(e2e_hello(c));
    fw_client_free(c);
    o.token = NULL;
    o.path = "/?token=s3cret";
    c = fw_client_connect_opts(&o, err, sizeof err);
    if (!c)
        fail_msg("token in the URL: %s", err);
    cJSON_Delete(e2e_hello(c));
    fw_client_free(c);

    static char body[65536];
    assert_int_equal(tu_http_get(s.port, "/v1/models", body, sizeof body), 401);
    assert_int_equal(tu_http(s.port, "GET", "/v1/models", "Authorization: Bearer s3cret\r\n", NULL,
                             0, body, sizeof body),
                     200);
    assert_int_equal(tu_http(s.port, "POST", "/v1/classify", "Authorization: Bearer nope\r\n",
                             e2e_photo[0], e2e_photo_len[0], body, sizeof body),
                     401);
    assert_int_equal(tu_http_get(s.port, "/healthz", body, sizeof body), 200);
    stop(&s);
}

/* Collects answers until the connection closes; returns how many frames were answered and
 * with what. */
static int drain_answers(fw_client *c, int n, int *results, int *dropped)
{
    int seen[256] = {0}, answers = 0;
    *results = *dropped = 0;
    cJSON *m;
    while ((m = e2e_next_any(c, 15000))) {
        const char *t = e2e_type(m);
        if (!strcmp(t, "result") || !strcmp(t, "dropped") || !strcmp(t, "error")) {
            uint64_t id = e2e_u64(m, "frame_id");
            assert_true(id < (uint64_t)n);
            if (seen[id]++)
                fail_msg("frame %" PRIu64 " answered twice", id);
            answers++;
            if (!strcmp(t, "result")) {
                (*results)++;
            } else if (!strcmp(t, "dropped")) {
                assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "reason")->valuestring,
                                    "shutdown");
                (*dropped)++;
            }
        }
        cJSON_Delete(m);
    }
    return answers;
}

/* A small JPEG of one grey level v; a white one (255) makes tiny_slow (models/make_tiny_model.py)
 * stall on every batch holding it. */
static uint8_t *solid_jpeg(int v, size_t *len)
{
    static uint8_t px[64 * 64 * 3];
    memset(px, v, sizeof px);
    tjhandle h = tjInitCompress();
    unsigned char *buf = NULL;
    unsigned long n = 0;
    assert_int_equal(tjCompress2(h, px, 64, 0, 64, TJPF_RGB, &buf, &n, TJSAMP_420, 90, 0), 0);
    tjDestroy(h);
    uint8_t *out = malloc(n);
    memcpy(out, buf, n);
    tjFree(buf);
    *len = n;
    return out;
}

static uint8_t *white_jpeg(size_t *len)
{
    return solid_jpeg(255, len);
}

/* Latest frame wins in the ring too: a realtime frame already decoded for the next batch is
 * replaced by newer frames of its session while the running batch (a stall of tiny_slow) goes
 * on, so the next batch runs the newest frame. Max batch 1 and one inference thread: one frame
 * in inference, one prepared. */
static void test_ring_supersede(void **state)
{
    (void)state;
    size_t wlen, glen;
    uint8_t *white = white_jpeg(&wlen), *grey = solid_jpeg(128, &glen);
    tu_server s;
    start(&s, (const char *[]){"--model", FW_TEST_MODEL_DIR "/tiny_slow.json", "--max-batch", "1",
                               "--decode-threads", "1", "--infer-threads", "1",
                               "--stats-interval-ms", "0", NULL});
    fw_client *c = e2e_connect(s.port);
    cJSON_Delete(e2e_hello(c));
    /* Frame 0: one stall, so the server knows how long a stalled batch takes. */
    fw_client_send_frame(c, 0, 0, white, wlen);
    cJSON *m = e2e_next(c);
    assert_string_equal(e2e_type(m), "result");
    cJSON_Delete(m);
    /* Frame 1 stalls; frames 2..9 arrive during the stall, 5 ms apart. */
    enum { N = 10 };
    fw_client_send_frame(c, 1, 0, white, wlen);
    fw_client_flush(c, 5000);
    for (int f = 2; f < N; f++) {
        nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
        fw_client_send_frame(c, (uint64_t)f, 0, grey, glen);
        fw_client_flush(c, 5000);
    }
    int outcome[N] = {0}, answers = 0;
    while (answers < N - 1) {
        m = e2e_next(c);
        uint64_t id = e2e_u64(m, "frame_id");
        assert_true(id >= 1 && id < N);
        if (outcome[id])
            fail_msg("frame %" PRIu64 " answered twice", id);
        if (!strcmp(e2e_type(m), "result")) {
            outcome[id] = OUT_RESULT;
        } else {
            assert_string_equal(e2e_type(m), "dropped");
            assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "reason")->valuestring,
                                "superseded");
            outcome[id] = OUT_DROPPED;
        }
        answers++;
        cJSON_Delete(m);
    }
    printf("ring supersede:");
    for (int f = 1; f < N; f++)
        printf(" %d:%s", f, outcome[f] == OUT_RESULT ? "result" : "dropped");
    printf("\n");
    assert_int_equal(outcome[1], OUT_RESULT);
    /* Frame 2 was decoded into the ring at once (the ring had room); without superseding there
     * it would have been the next batch's frame. */
    assert_int_equal(outcome[2], OUT_DROPPED);
    assert_int_equal(outcome[N - 1], OUT_RESULT);
    fw_client_free(c);
    stop(&s);
    free(white);
    free(grey);
}

/* Two inference threads run batches side by side: while one stalls on a white frame (tiny_slow),
 * the other goes on with the grey frames behind it, yet every answer leaves in frame order (a
 * finished batch waits for the batches before it). Lossless, max batch 1. */
static void test_parallel_batches_keep_order(void **state)
{
    (void)state;
    size_t wlen, glen;
    uint8_t *white = white_jpeg(&wlen), *grey = solid_jpeg(128, &glen);
    tu_server s;
    start(&s, (const char *[]){"--model", FW_TEST_MODEL_DIR "/tiny_slow.json", "--max-batch", "1",
                               "--infer-threads", "2", "--policy", "lossless",
                               "--stats-interval-ms", "0", NULL});
    fw_client *c = e2e_connect(s.port);
    cJSON_Delete(e2e_hello(c));
    enum { N = 5 };
    fw_client_send_frame(c, 0, 0, white, wlen);
    for (int f = 1; f < N; f++)
        fw_client_send_frame(c, (uint64_t)f, 0, grey, glen);
    fw_client_flush(c, 5000);
    double total[N];
    for (int f = 0; f < N; f++) {
        cJSON *m = e2e_next(c);
        assert_string_equal(e2e_type(m), "result");
        assert_int_equal(e2e_u64(m, "frame_id"), f); /* in order */
        const cJSON *tm = cJSON_GetObjectItemCaseSensitive(m, "timing_us");
        total[f] = cJSON_GetObjectItemCaseSensitive(tm, "total")->valuedouble;
        cJSON_Delete(m);
    }
    printf("parallel batches: server time of frame 0 (stalled) %.1f ms, frame 1 %.1f ms\n",
           total[0] / 1000, total[1] / 1000);
    /* Frame 1 ran beside the stall, not after it (with one inference thread it would wait). */
    assert_true(total[1] < total[0] / 2);
    fw_client_free(c);
    stop(&s);
    free(white);
    free(grey);
}

/* One REST request of test_rest_overloaded, on its own thread. */
struct rest_call {
    pthread_t thread;
    int port;
    const uint8_t *jpeg;
    size_t len;
    int status;
    char body[4096];
};

static void *rest_call_main(void *arg)
{
    struct rest_call *rc = arg;
    rc->status = tu_http(rc->port, "POST", "/v1/classify", NULL, rc->jpeg, rc->len, rc->body,
                         sizeof rc->body);
    return NULL;
}

/* More concurrent POST /v1/classify requests than the pipeline can hold (tiny_slow stalls on every
 * white frame, batch 1, a decode queue of 1): the excess get 503 with code "overloaded", the rest
 * get their result, and the server goes on serving afterwards. */
static void test_rest_overloaded(void **state)
{
    (void)state;
    size_t wlen;
    uint8_t *white = white_jpeg(&wlen);
    tu_server s;
    start(&s, (const char *[]){"--model", FW_TEST_MODEL_DIR "/tiny_slow.json", "--max-batch", "1",
                               "--queue", "1", "--decode-threads", "1", NULL});
    enum { N = 10 };
    static struct rest_call calls[N];
    for (int i = 0; i < N; i++) {
        calls[i] = (struct rest_call){.port = s.port, .jpeg = white, .len = wlen};
        assert_int_equal(pthread_create(&calls[i].thread, NULL, rest_call_main, &calls[i]), 0);
    }
    int ok = 0, overloaded = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(calls[i].thread, NULL);
        cJSON *j = cJSON_Parse(calls[i].body);
        const cJSON *code = j ? cJSON_GetObjectItemCaseSensitive(j, "code") : NULL;
        if (calls[i].status == 200 && j && !strcmp(e2e_type(j), "result"))
            ok++;
        else if (calls[i].status == 503 && cJSON_IsString(code) &&
                 !strcmp(code->valuestring, "overloaded") && strstr(calls[i].body, "queue is full"))
            overloaded++;
        else
            fail_msg("request %d: status %d body %s", i, calls[i].status, calls[i].body);
        cJSON_Delete(j);
    }
    printf("rest overload: %d results, %d overloaded of %d concurrent requests\n", ok, overloaded,
           N);
    assert_true(ok >= 1);
    assert_true(overloaded >= 1);
    /* The server goes on: a request after the burst is answered. */
    static char body[65536];
    assert_int_equal(tu_http(s.port, "POST", "/v1/classify", NULL, e2e_photo[0], e2e_photo_len[0],
                             body, sizeof body),
                     200);
    get_metrics(s.port, body, sizeof body);
    assert_int_equal((int)metric(body, "framewire_frames_total{outcome=\"result\"}"), ok + 1);
    assert_int_equal((int)metric(body, "framewire_frames_total{outcome=\"error\"}"), overloaded);
    stop(&s);
    free(white);
}

/* Lossless sessions past a full decode queue (--queue 1, shared by all sessions): no frame is
 * refused as overloaded or dropped; the sessions wait (back-pressure) and every frame gets its
 * result, in order. */
static void test_lossless_small_queue(void **state)
{
    (void)state;
    tu_server s;
    start(&s, (const char *[]){"--policy", "lossless", "--queue", "1", "--max-inflight", "4",
                               "--decode-threads", "1", "--stats-interval-ms", "0", NULL});
    enum { NS = 3, NF = 20 };
    fw_client *c[NS];
    int answers[NS] = {0};
    for (int i = 0; i < NS; i++) {
        c[i] = e2e_connect(s.port);
        cJSON_Delete(e2e_hello(c[i]));
    }
    for (int f = 0; f < NF; f++)
        for (int i = 0; i < NS; i++)
            fw_client_send_frame(c[i], (uint64_t)f, 0, e2e_photo[big], e2e_photo_len[big]);
    int64_t deadline = fw_now_us() + 120 * 1000000LL;
    int done = 0;
    while (done < NS && fw_now_us() < deadline) {
        done = 0;
        for (int i = 0; i < NS; i++) {
            if (answers[i] == NF) {
                done++;
                continue;
            }
            cJSON *m = e2e_next_any(c[i], 20);
            if (!m)
                continue;
            if (strcmp(e2e_type(m), "result") != 0)
                fail_msg("stream %d: %s", i, cJSON_PrintUnformatted(m));
            assert_int_equal(e2e_u64(m, "frame_id"), answers[i]); /* in order */
            e2e_check_result(m, e2e_photo[big], e2e_photo_len[big], 5);
            answers[i]++;
            cJSON_Delete(m);
        }
    }
    for (int i = 0; i < NS; i++) {
        if (answers[i] != NF)
            fail_msg("stream %d: %d of %d frames answered", i, answers[i], NF);
        fw_client_free(c[i]);
    }
    static char txt[65536];
    get_metrics(s.port, txt, sizeof txt);
    assert_int_equal((int)metric(txt, "framewire_frames_total{outcome=\"result\"}"), NS * NF);
    assert_int_equal((int)metric(txt, "framewire_frames_total{outcome=\"error\"}"), 0);
    stop(&s);
}

/* SIGTERM: in-flight frames are answered, WebSockets close with 1001, exit status 0; with a drain
 * timeout too short to finish, the rest are answered dropped/shutdown. */
static void test_graceful_drain(void **state)
{
    (void)state;
    size_t wlen;
    uint8_t *white = white_jpeg(&wlen);
    for (int round = 0; round < 2; round++) {
        tu_server s;
        /* Round 1 must still be busy at the signal, on any machine: the slow test model. */
        start(&s, round == 0 ? (const char *[]){"--policy", "lossless", "--max-inflight", "64",
                                                "--decode-threads", "1", NULL}
                             : (const char *[]){"--model", FW_TEST_MODEL_DIR "/tiny_slow.json",
                                                "--policy", "lossless", "--max-inflight", "64",
                                                "--drain-timeout-ms", "0", NULL});
        fw_client *c = e2e_connect(s.port);
        cJSON_Delete(e2e_hello(c));
        enum { N = 30 };
        for (int f = 0; f < N; f++) {
            if (round == 0)
                fw_client_send_frame(c, (uint64_t)f, 0, e2e_photo[big], e2e_photo_len[big]);
            else
                fw_client_send_frame(c, (uint64_t)f, 0, white, wlen);
        }
        fw_client_flush(c, 10000);
        /* Signal once the server has taken in every frame (its /metrics says so). */
        static char txt[65536];
        int64_t until = fw_now_us() + 20000000;
        do {
            fw_client_service(c, 20);
            get_metrics(s.port, txt, sizeof txt);
        } while (metric(txt, "framewire_frames_received_total") < N && fw_now_us() < until);
        assert_int_equal((int)metric(txt, "framewire_frames_received_total"), N);
        /* Round 1: a REST request waits behind the stalled frames when the drain gives up: it
         * gets a 503, not a reset connection. */
        static struct rest_call rest;
        if (round == 1) {
            rest = (struct rest_call){.port = s.port, .jpeg = white, .len = wlen};
            assert_int_equal(pthread_create(&rest.thread, NULL, rest_call_main, &rest), 0);
            do {
                fw_client_service(c, 20);
                get_metrics(s.port, txt, sizeof txt);
            } while (metric(txt, "framewire_frames_received_total") < N + 1 && fw_now_us() < until);
            assert_int_equal((int)metric(txt, "framewire_frames_received_total"), N + 1);
        }
        kill(s.pid, SIGTERM);
        int results, dropped;
        int answers = drain_answers(c, N, &results, &dropped);
        int status = tu_server_stop(&s, 0, 30000);
        int code = 0;
        assert_true(fw_client_closed(c, &code));
        printf("drain round %d: %d answers, close code %d\n", round, answers, code);
        assert_int_equal(code, 1001);
        assert_true(status != -1 && WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        printf("drain round %d: %d results, %d dropped/shutdown\n", round, results, dropped);
        /* Every frame the server had taken in is answered exactly once. */
        assert_int_equal(answers, N);
        /* With time to drain, all are results; without, what was unfinished is dropped. */
        if (round == 0)
            assert_int_equal(results, N);
        else
            assert_true(dropped > 0);
        if (round == 1) {
            pthread_join(rest.thread, NULL);
            printf("drain round 1: REST status %d, %s\n", rest.status, rest.body);
            assert_int_equal(rest.status, 503);
            assert_non_null(strstr(rest.body, "shutting down"));
        }
        fw_client_free(c);
    }
    free(white);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accounting_past_saturation),
        cmocka_unit_test(test_stale_frames),
        cmocka_unit_test(test_ring_supersede),
        cmocka_unit_test(test_parallel_batches_keep_order),
        cmocka_unit_test(test_ping_and_stats),
        cmocka_unit_test(test_rest_and_health),
        cmocka_unit_test(test_rest_overloaded),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_origin_and_token),
        cmocka_unit_test(test_lossless_small_queue),
        cmocka_unit_test(test_graceful_drain),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
