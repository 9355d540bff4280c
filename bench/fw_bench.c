/* fw_bench.c - framewire against its bare pipeline, side by side in one run.
 *
 * The yardstick ("bare") is the same pipeline (fw_pipeline: the same decode threads, batching,
 * model and thread counts) driven in-process with no network. The server is the real `framewire`
 * binary, driven over loopback WebSockets by client threads (one lws client per stream).
 * Scenarios:
 *   light      1 stream at 15 fps, realtime: latency (intended send -> answer), server - bare
 *   saturated  1, 4, 16, 64 streams, lossless, each keeping `window` frames in flight:
 *              results per second, server / bare
 *   overload   4 streams offering together 2x the bare saturated rate, realtime, open loop:
 *              p99 latency of the results (bounded if latest-frame-wins works)
 * --baselines adds what a team would otherwise write, on the same TorchScript file and frames,
 * each run right beside framewire: a Flask /predict (bench/baseline_flask.py) against
 * framewire's POST /v1/classify, and a FastAPI WebSocket service (bench/baseline_fastapi.py)
 * against framewire's stream, at light load, saturation and 2x overload.
 * Latency is measured from each frame's intended send time (open loop), so a stalled server cannot
 * hide behind fewer sends. Prints a Markdown table; --out FILE also writes it there. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "fw_client_pool.h"
#include "fw_http_load.h"
#include "fw_pipeline.h"
#include "fw_time.h"
#include "test_util.h"

#define MAX_FRAMES 64

static uint8_t *frame[MAX_FRAMES];
static size_t frame_len[MAX_FRAMES];
static int nframes;

struct opts {
    const char *model, *frames_dir, *out;
    int decode_threads, infer_threads, torch_threads, max_batch, max_delay_us, window, bare_only,
        baselines;
    double duration_s, warmup_s;
} o = {NULL, NULL, NULL, 1, 2, 1, 4, 2000, 4, 0, 0, 6.0, 1.5};

/* ---- samples ---- */
typedef struct {
    int64_t *v;
    size_t n, cap;
} samples;

static void add(samples *s, int64_t x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct(samples *s, double q)
{
    if (!s->n)
        return -1;
    qsort(s->v, s->n, sizeof *s->v, cmp);
    size_t r = (size_t)(q * (double)s->n + 0.999999);
    if (r < 1)
        r = 1;
    if (r > s->n)
        r = s->n;
    return s->v[r - 1] / 1000.0; /* ms */
}

/* ---- bare pipeline ---- */
static pthread_mutex_t bare_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bare_cv = PTHREAD_COND_INITIALIZER;
static int bare_ready;

static void bare_notify(void *u)
{
    (void)u;
    pthread_mutex_lock(&bare_lock);
    bare_ready = 1;
    pthread_cond_signal(&bare_cv);
    pthread_mutex_unlock(&bare_lock);
}

static fw_pipeline *bare_start(void)
{
    fw_pipeline_config pc = {
        .manifest_path = o.model,
        .device = "cpu",
        .optimize = 1,
        .decode_threads = o.decode_threads,
        .infer_threads = o.infer_threads,
        .max_batch = o.max_batch,
        .torch_threads = o.torch_threads,
        .queue_capacity = 4096,
        .max_sessions = 1,
        .max_delay_us = o.max_delay_us,
        .limits = {.max_pixels = 4096u * 4096u},
        .notify = bare_notify,
    };
    char err[1024];
    fw_pipeline *p = fw_pipeline_start(&pc, err, sizeof err);
    if (!p) {
        fprintf(stderr, "fw_bench: %s\n", err);
        exit(1);
    }
    return p;
}

static void bare_submit(fw_pipeline *p, uint64_t id)
{
    int i = (int)(id % (uint64_t)nframes);
    fw_job *j = calloc(1, sizeof *j);
    j->frame_id = id;
    j->top_k = 5;
    j->arrival_us = fw_now_us();
    j->arrival_wall_us = fw_wall_us();
    j->buf = malloc(frame_len[i]);
    memcpy(j->buf, frame[i], frame_len[i]);
    j->jpeg = j->buf;
    j->jpeg_len = frame_len[i];
    fw_job *none;
    if (fw_pipeline_submit(p, j, 0, &none) != FW_OK) {
        fprintf(stderr, "fw_bench: bare pipeline queue full\n");
        exit(1);
    }
}

/* Waits up to `until` for answers; returns them (caller frees). */
static fw_outmsg *bare_wait(fw_pipeline *p, int64_t until)
{
    pthread_mutex_lock(&bare_lock);
    while (!bare_ready) {
        int64_t left = until - fw_now_us();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (left % 1000000) * 1000;
        ts.tv_sec += left / 1000000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&bare_cv, &bare_lock, &ts);
    }
    bare_ready = 0;
    pthread_mutex_unlock(&bare_lock);
    return fw_pipeline_take_results(p);
}

/* Frames the bare pipeline keeps in flight when saturated: the ring's limit and a few more. */
static int bare_depth(void)
{
    return (o.infer_threads + 1) * o.max_batch + o.decode_threads + 4;
}

/* Saturated: keep `depth` frames in the pipeline; results per second after warm-up. */
static double bare_saturated(fw_pipeline *p, int depth)
{
    uint64_t next = 0;
    for (int i = 0; i < depth; i++)
        bare_submit(p, next++);
    int64_t t0 = fw_now_us(), warm = t0 + (int64_t)(o.warmup_s * 1e6),
            end = warm + (int64_t)(o.duration_s * 1e6);
    long counted = 0, batch_sum = 0;
    int64_t infer_sum = 0, dec_sum = 0;
    int64_t now;
    while ((now = fw_now_us()) < end) {
        fw_outmsg *m = bare_wait(p, end);
        while (m) {
            fw_outmsg *n = m->next;
            if (now >= warm && m->kind == FW_ANS_RESULT) {
                counted++;
                batch_sum += m->timing.batch_size;
                infer_sum += m->timing.infer_us;
                dec_sum += m->timing.decode_us + m->timing.preprocess_us;
            }
            fw_outmsg_free(m);
            bare_submit(p, next++);
            m = n;
        }
    }
    if (getenv("FW_BENCH_DEBUG"))
        fprintf(stderr,
                "bare saturated: %ld results, mean batch %.2f, infer %.1f ms, decode+pre %.1f ms\n",
                counted, counted ? (double)batch_sum / counted : 0.0,
                counted ? infer_sum / 1000.0 / counted : 0,
                counted ? dec_sum / 1000.0 / counted : 0);
    /* Let what is in flight finish before the next scenario. */
    int64_t settle = fw_now_us() + 5000000;
    int q, r;
    do {
        fw_outmsg *m = bare_wait(p, fw_now_us() + 20000);
        while (m) {
            fw_outmsg *n = m->next;
            fw_outmsg_free(m);
            m = n;
        }
        fw_pipeline_depth(p, &q, &r);
    } while ((q || r) && fw_now_us() < settle);
    return counted / o.duration_s;
}

/* Paced: one frame every 1/fps s; latency submit -> result. */
static void bare_paced(fw_pipeline *p, double fps, samples *lat)
{
    int64_t period = (int64_t)(1e6 / fps), t0 = fw_now_us();
    int64_t warm = t0 + (int64_t)(o.warmup_s * 1e6), end = warm + (int64_t)(o.duration_s * 1e6);
    int64_t sent_at[4096];
    uint64_t id = 0;
    int64_t next_send = t0;
    while (fw_now_us() < end + 500000) {
        if (fw_now_us() >= next_send && next_send < end) {
            sent_at[id % 4096] = next_send;
            bare_submit(p, id++);
            next_send += period;
        }
        fw_outmsg *m = bare_wait(p, next_send < end ? next_send : fw_now_us() + 20000);
        int64_t now = fw_now_us();
        while (m) {
            fw_outmsg *n = m->next;
            if (m->kind == FW_ANS_RESULT && sent_at[m->frame_id % 4096] >= warm)
                add(lat, now - sent_at[m->frame_id % 4096]);
            fw_outmsg_free(m);
            m = n;
        }
    }
}

/* ---- server streams: N connections on one client pool, one thread ---- */
struct sstream {
    int open;
    uint64_t next_id;
    int inflight;
    int64_t next_send;
    int64_t *sent_at; /* [8192], monotonic intended send time by frame id */
};

struct load {
    int n, lossless, window, opened;
    double fps;
    int64_t warm, end;
    struct sstream *st;
    samples *lat;
    long sent;                     /* frames sent in the measured window */
    long results, dropped, errors; /* answers to frames sent in the measured window */
    long arrived;                  /* results that arrived in the measured window */
};

static void on_connect(void *user, int conn, int ok, const char *why)
{
    struct load *l = user;
    if (!ok) {
        fprintf(stderr, "fw_bench: connection %d failed: %s\n", conn, why ? why : "?");
        exit(1);
    }
    l->st[conn].open = 1;
    l->opened++;
}

static void on_text(void *user, int conn, const char *text, size_t len, int64_t rx_mono,
                    int64_t rx_wall)
{
    (void)rx_wall;
    struct load *l = user;
    struct sstream *st = &l->st[conn];
    cJSON *j = cJSON_ParseWithLength(text, len);
    const cJSON *ty = j ? cJSON_GetObjectItemCaseSensitive(j, "type") : NULL;
    const cJSON *id = j ? cJSON_GetObjectItemCaseSensitive(j, "frame_id") : NULL;
    if (cJSON_IsString(ty) && cJSON_IsNumber(id) &&
        (!strcmp(ty->valuestring, "result") || !strcmp(ty->valuestring, "dropped") ||
         !strcmp(ty->valuestring, "error"))) {
        st->inflight--;
        if (!strcmp(ty->valuestring, "result") && rx_mono >= l->warm && rx_mono < l->end)
            l->arrived++;
        int64_t sent = st->sent_at[(uint64_t)id->valuedouble % 8192];
        st->sent_at[(uint64_t)id->valuedouble % 8192] = 0; /* answered: not counted twice */
        if (sent >= l->warm && sent < l->end) {
            if (!strcmp(ty->valuestring, "result")) {
                l->results++;
                add(l->lat, rx_mono - sent);
            } else if (!strcmp(ty->valuestring, "dropped")) {
                l->dropped++;
            } else {
                l->errors++;
            }
        }
    }
    cJSON_Delete(j);
}

static void send_one(fw_pool *p, struct load *l, int i, int64_t intended)
{
    struct sstream *st = &l->st[i];
    uint64_t id = st->next_id++;
    st->sent_at[id % 8192] = intended;
    st->inflight++;
    if (intended >= l->warm && intended < l->end)
        l->sent++;
    int f = (int)(id % (uint64_t)nframes);
    if (fw_pool_send_frame(p, i, id, FW_POOL_STAMP_AT_SEND, frame[f], frame_len[f], NULL, NULL)) {
        fprintf(stderr, "fw_bench: send failed on stream %d\n", i);
        exit(1);
    }
}

/* Runs n streams: open loop at fps each (fps > 0), or closed loop keeping `window` frames in
 * flight. Returns the results that arrived per second of the measured window; latencies
 * (intended send -> answer) of the results of frames sent in the window go to lat; *unanswered
 * (when not NULL) counts the frames sent in the window with no answer 3 s after its end. */
static double run_streams(int port, int n, int lossless, double fps, int window, samples *lat,
                          long *dropped, long *errors, long *unanswered)
{
    struct load l = {.n = n, .lossless = lossless, .window = window, .fps = fps, .lat = lat};
    l.st = calloc((size_t)n, sizeof *l.st);
    fw_pool_callbacks cb = {.on_connect = on_connect, .on_text = on_text};
    char err[256];
    fw_pool *p = fw_pool_new("127.0.0.1", port, &cb, &l, err, sizeof err);
    if (!p) {
        fprintf(stderr, "fw_bench: %s\n", err);
        exit(1);
    }
    const char *cfg = lossless ? "{\"type\":\"config\",\"policy\":\"lossless\"}"
                               : "{\"type\":\"config\",\"policy\":\"realtime\"}";
    for (int i = 0; i < n; i++) {
        l.st[i].sent_at = calloc(8192, sizeof(int64_t));
        if (fw_pool_connect(p, err, sizeof err) != i) {
            fprintf(stderr, "fw_bench: %s\n", err);
            exit(1);
        }
    }
    int64_t deadline = fw_now_us() + 20000000;
    while (l.opened < n && fw_now_us() < deadline)
        fw_pool_service(p, fw_now_us() + 10000);
    if (l.opened < n) {
        fprintf(stderr, "fw_bench: only %d of %d connections opened\n", l.opened, n);
        exit(1);
    }
    for (int i = 0; i < n; i++)
        fw_pool_send_text(p, i, cfg, strlen(cfg));
    int64_t t0 = fw_now_us() + 200000;
    l.warm = t0 + (int64_t)(o.warmup_s * 1e6);
    l.end = l.warm + (int64_t)(o.duration_s * 1e6);
    int64_t period = fps > 0 ? (int64_t)(1e6 / fps) : 0;
    for (int i = 0; i < n; i++) /* spread the streams' phases over one period */
        l.st[i].next_send = t0 + (period ? period * i / n : 0);
    for (;;) {
        int64_t now = fw_now_us(), wake = now + 5000;
        int busy = 0;
        for (int i = 0; i < n; i++) {
            struct sstream *st = &l.st[i];
            busy |= st->inflight > 0;
            if (now < t0 || now >= l.end)
                continue;
            if (period) {
                while (st->next_send <= now && st->next_send < l.end) {
                    send_one(p, &l, i, st->next_send);
                    st->next_send += period;
                }
                if (st->next_send < wake)
                    wake = st->next_send;
            } else {
                while (st->inflight < window)
                    send_one(p, &l, i, now);
            }
        }
        if (now >= l.end && (!busy || now >= l.end + 3000000))
            break;
        fw_pool_service(p, wake);
    }
    fw_pool_free(p);
    for (int i = 0; i < n; i++)
        free(l.st[i].sent_at);
    free(l.st);
    *dropped = l.dropped;
    *errors = l.errors;
    if (unanswered)
        *unanswered = l.sent - l.results - l.dropped - l.errors;
    return l.arrived / o.duration_s;
}

/* ---- the Python baselines ---- */

static void start_baseline(tu_server *b, const char *script)
{
    char path[512], tt[16];
    snprintf(path, sizeof path, "%s/%s", FW_BENCH_DIR, script);
    snprintf(tt, sizeof tt, "%d", o.torch_threads);
    const char *args[] = {path, o.model, "--threads", tt, NULL};
    if (tu_program_start(b, FW_TORCH_PYTHON, args) != 0) {
        fprintf(stderr,
                "fw_bench: %s did not start (bench/run.sh installs python3-flask, "
                "python3-fastapi, python3-uvicorn, python3-websockets, python3-pil):\n%s\n",
                script, b->output);
        exit(1);
    }
}

/* The HTTP load of one scenario: results that arrived per second of the window. */
static double http_load(int port, const char *path, int clients, double fps, samples *lat,
                        long *errors)
{
    fw_http_load_cfg c = {.port = port,
                          .path = path,
                          .clients = clients,
                          .fps = fps,
                          .warmup_s = o.warmup_s,
                          .duration_s = o.duration_s,
                          .frames = frame,
                          .frame_len = frame_len,
                          .nframes = nframes};
    fw_http_load_out r;
    char err[256];
    if (fw_http_load_run(&c, &r, err, sizeof err) != 0) {
        fprintf(stderr, "fw_bench: %s\n", err);
        exit(1);
    }
    for (size_t i = 0; i < r.nlat; i++)
        add(lat, r.lat_us[i]);
    free(r.lat_us);
    *errors = r.errors;
    return r.arrived / o.duration_s;
}

/* The label of the answer's top[rank] entry ("" when none) and its probability; with rank -1,
 * the probability the answer gives `label` (-1 when not listed). For the fairness check. */
static double answer_prob(const char *json, int rank, char *label, size_t cap)
{
    double prob = -1;
    cJSON *j = cJSON_Parse(json);
    const cJSON *top = j ? cJSON_GetObjectItemCaseSensitive(j, "top") : NULL;
    const cJSON *t;
    if (!cJSON_IsArray(top))
        top = NULL;
    cJSON_ArrayForEach(t, top)
    {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(t, "label");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(t, "prob");
        if (!cJSON_IsString(l) || !cJSON_IsNumber(p))
            continue;
        if (rank == 0 || (rank < 0 && !strcmp(l->valuestring, label))) {
            if (rank == 0)
                snprintf(label, cap, "%s", l->valuestring);
            prob = p->valuedouble;
            break;
        }
    }
    cJSON_Delete(j);
    return prob;
}

/* A baseline is a fair comparison only if it computes the same thing: every frame, posted to
 * framewire and to the Flask baseline, must get answers that give framewire's top class the same
 * probability within 0.05 (the JPEG decoders differ: TurboJPEG with DCT scaling, and Pillow), so
 * the top class is the same wherever it leads by more than that. Returns the frames that differ
 * (each printed). */
static int check_same_answers(int fw_port, int flask_port)
{
    int bad = 0;
    static char a[65536], b[65536];
    for (int i = 0; i < nframes; i++) {
        int sa =
            tu_http(fw_port, "POST", "/v1/classify", NULL, frame[i], frame_len[i], a, sizeof a);
        int sb = tu_http(flask_port, "POST", "/predict", NULL, frame[i], frame_len[i], b, sizeof b);
        char la[128] = "", lb[128] = "";
        double pa = answer_prob(a, 0, la, sizeof la);
        double pb = answer_prob(b, -1, la, sizeof la); /* the baseline's for framewire's top */
        answer_prob(b, 0, lb, sizeof lb);
        int same = sa == 200 && sb == 200 && la[0] && pb >= 0 && fabs(pa - pb) <= 0.05;
        fprintf(stderr, "  frame %d: framewire %s %.4f; Flask baseline %s %.4f (top %s)%s\n", i, la,
                pa, la, pb, lb, same ? "" : "  DIFFERENT");
        bad += !same;
    }
    return bad;
}

static size_t baselines(int fw_port, double bare_thr, char *buf, size_t n, size_t cap)
{
    tu_server fl, fa;
    start_baseline(&fl, "baseline_flask.py");
    start_baseline(&fa, "baseline_fastapi.py");
    fprintf(stderr, "baselines: same answers as framewire?\n");
    if (check_same_answers(fw_port, fl.port) != 0) {
        fprintf(stderr, "fw_bench: the Flask baseline answers differently: not a fair baseline\n");
        exit(1);
    }
    enum { B_FLASK, B_FW };
    samples rl[2] = {{0}}, rs[2] = {{0}}, rb[2] = {{0}};
    double rs_thr[2], rb_thr[2];
    long e[2][3] = {{0}};
    const int ports[2] = {fl.port, fw_port};
    const char *paths[2] = {"/predict", "/v1/classify"};
    for (int k = 0; k < 2; k++) {
        fprintf(stderr, "%s REST: 1 client at 15 fps, 4 and 16 clients back to back...\n",
                k == B_FW ? "framewire" : "Flask");
        http_load(ports[k], paths[k], 1, 15, &rl[k], &e[k][0]);
        rs_thr[k] = http_load(ports[k], paths[k], 4, 0, &rs[k], &e[k][1]);
        rb_thr[k] = http_load(ports[k], paths[k], 16, 0, &rb[k], &e[k][2]);
    }
    enum { B_FASTAPI = 0 };
    samples wl[2] = {{0}}, ws[2] = {{0}}, wo[2] = {{0}};
    double ws_thr[2], wo_thr[2];
    long dr, er, wo_drop[2], wo_err[2], wo_unans[2];
    const int wports[2] = {fa.port, fw_port};
    for (int k = 0; k < 2; k++) {
        fprintf(stderr, "%s WebSocket: 1 stream at 15 fps, 4 saturated, 2x overload...\n",
                k == B_FW ? "framewire" : "FastAPI");
        run_streams(wports[k], 1, 0, 15, 0, &wl[k], &dr, &er, NULL);
        ws_thr[k] = run_streams(wports[k], 4, 1, 0, o.window, &ws[k], &dr, &er, NULL);
        wo_thr[k] = run_streams(wports[k], 4, 0, 2 * bare_thr / 4, 0, &wo[k], &wo_drop[k],
                                &wo_err[k], &wo_unans[k]);
    }
    tu_server_stop(&fl, SIGTERM, 5000);
    tu_server_stop(&fa, SIGTERM, 5000);

    n += (size_t)snprintf(
        buf + n, cap - n,
        "\n### Against the Python baselines\n\n"
        "Same TorchScript file, optimised the same way (freeze + optimize_for_inference), %d "
        "libtorch thread(s), same frames, each baseline run right before framewire. Flask: "
        "`bench/baseline_flask.py` (Werkzeug, threaded, keep-alive) against framewire's `POST "
        "/v1/classify`, both driven by the same HTTP client threads (one keep-alive connection "
        "each, the next request when the answer is in). FastAPI: `bench/baseline_fastapi.py` "
        "(uvicorn, the model in Starlette's thread pool) against framewire's WebSocket, both "
        "driven by the same WebSocket load as above. Answers checked equal first (same top-1 on "
        "every frame, probability within 0.05).\n\n"
        "| scenario | baseline | framewire | framewire / baseline |\n|---|---|---|---|\n",
        o.torch_threads);
    n += (size_t)snprintf(buf + n, cap - n,
                          "| REST, 1 client x 15 fps: p50 / p99 latency | Flask %.2f / %.2f ms | "
                          "%.2f / %.2f ms | |\n",
                          pct(&rl[B_FLASK], 0.5), pct(&rl[B_FLASK], 0.99), pct(&rl[B_FW], 0.5),
                          pct(&rl[B_FW], 0.99));
    n += (size_t)snprintf(buf + n, cap - n,
                          "| REST, 4 clients back to back: results/s (p99) | Flask %.1f (%.1f ms) "
                          "| %.1f (%.1f ms) | %.2f |\n",
                          rs_thr[B_FLASK], pct(&rs[B_FLASK], 0.99), rs_thr[B_FW],
                          pct(&rs[B_FW], 0.99), rs_thr[B_FW] / rs_thr[B_FLASK]);
    n += (size_t)snprintf(buf + n, cap - n,
                          "| REST, 16 clients back to back: results/s (p99) | Flask %.1f (%.1f "
                          "ms) | %.1f (%.1f ms) | %.2f |\n",
                          rb_thr[B_FLASK], pct(&rb[B_FLASK], 0.99), rb_thr[B_FW],
                          pct(&rb[B_FW], 0.99), rb_thr[B_FW] / rb_thr[B_FLASK]);
    n += (size_t)snprintf(buf + n, cap - n,
                          "| WebSocket, 1 stream x 15 fps: p50 / p99 latency | FastAPI %.2f / "
                          "%.2f ms | %.2f / %.2f ms | |\n",
                          pct(&wl[B_FASTAPI], 0.5), pct(&wl[B_FASTAPI], 0.99), pct(&wl[B_FW], 0.5),
                          pct(&wl[B_FW], 0.99));
    n += (size_t)snprintf(buf + n, cap - n,
                          "| WebSocket, 4 streams saturated: results/s | FastAPI %.1f | %.1f | "
                          "%.2f |\n",
                          ws_thr[B_FASTAPI], ws_thr[B_FW], ws_thr[B_FW] / ws_thr[B_FASTAPI]);
    n += (size_t)snprintf(
        buf + n, cap - n,
        "| WebSocket, 2x overload (%.0f fps offered, framewire realtime): results/s; p50 / p99 "
        "of results; dropped; unanswered 3 s after the end | FastAPI %.1f; %.0f / %.0f ms; %ld; "
        "%ld | %.1f; %.0f / %.0f ms; %ld; %ld | |\n",
        2 * bare_thr, wo_thr[B_FASTAPI], pct(&wo[B_FASTAPI], 0.5), pct(&wo[B_FASTAPI], 0.99),
        wo_drop[B_FASTAPI], wo_unans[B_FASTAPI], wo_thr[B_FW], pct(&wo[B_FW], 0.5),
        pct(&wo[B_FW], 0.99), wo_drop[B_FW], wo_unans[B_FW]);
    long errs = 0;
    for (int k = 0; k < 2; k++)
        errs += e[k][0] + e[k][1] + e[k][2] + wo_err[k];
    if (errs)
        n += (size_t)snprintf(buf + n, cap - n, "\n%ld requests or frames got errors.\n", errs);
    for (int k = 0; k < 2; k++) {
        free(rl[k].v), free(rs[k].v), free(rb[k].v);
        free(wl[k].v), free(ws[k].v), free(wo[k].v);
    }
    return n;
}

static void load_frames(const char *dir)
{
    char *paths[MAX_FRAMES];
    nframes = tu_list_jpegs(dir, paths, MAX_FRAMES);
    if (nframes == 0) {
        fprintf(stderr, "fw_bench: no *.jpg in %s\n", dir);
        exit(1);
    }
    for (int i = 0; i < nframes; i++) {
        frame[i] = tu_read_file(paths[i], &frame_len[i]);
        free(paths[i]);
    }
}

static void usage(void)
{
    printf("Usage: fw_bench --model MANIFEST.json --frames DIR [--out FILE]\n"
           "  [--decode-threads N] [--infer-threads N] [--torch-threads N] [--max-batch N]\n"
           "  [--max-delay-us N]"
           " [--window N] [--duration S] [--warmup S] [--bare-only] [--baselines]\n"
           "  [--check-baselines]\n"
           "Runs the bare pipeline and the real server (%s) side by side; --baselines\n"
           "adds a Flask /predict and a FastAPI WebSocket service on the same model;\n"
           "--check-baselines only checks that they answer as framewire does. See the top\n"
           "of bench/fw_bench.c for the scenarios.\n",
           FW_SERVER_BIN);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"model", 1, 0, 'm'},
                                       {"frames", 1, 0, 'f'},
                                       {"out", 1, 0, 'o'},
                                       {"decode-threads", 1, 0, 'd'},
                                       {"infer-threads", 1, 0, 'I'},
                                       {"torch-threads", 1, 0, 't'},
                                       {"max-batch", 1, 0, 'b'},
                                       {"max-delay-us", 1, 0, 'y'},
                                       {"window", 1, 0, 'w'},
                                       {"duration", 1, 0, 'D'},
                                       {"warmup", 1, 0, 'W'},
                                       {"help", 0, 0, 'h'},
                                       {"bare-only", 0, 0, 'B'},
                                       {"baselines", 0, 0, 'P'},
                                       {"check-baselines", 0, 0, 'C'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'm':
            o.model = optarg;
            break;
        case 'f':
            o.frames_dir = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'd':
            o.decode_threads = atoi(optarg);
            break;
        case 'I':
            o.infer_threads = atoi(optarg);
            break;
        case 't':
            o.torch_threads = atoi(optarg);
            break;
        case 'b':
            o.max_batch = atoi(optarg);
            break;
        case 'y':
            o.max_delay_us = atoi(optarg);
            break;
        case 'w':
            o.window = atoi(optarg);
            break;
        case 'D':
            o.duration_s = atof(optarg);
            break;
        case 'W':
            o.warmup_s = atof(optarg);
            break;
        case 'B':
            o.bare_only = 1;
            break;
        case 'P':
            o.baselines = 1;
            break;
        case 'C':
            o.baselines = 2;
            break;
        case 'h':
            usage();
            return 0;
        default:
            usage();
            return 2;
        }
    }
    if (!o.model || !o.frames_dir || o.decode_threads < 1 || o.infer_threads < 1 ||
        o.max_batch < 1 || o.window < 1 || o.duration_s <= 0) {
        usage();
        return 2;
    }
    lws_set_log_level(LLL_ERR, NULL);
    signal(SIGPIPE, SIG_IGN);
    load_frames(o.frames_dir);

    if (o.baselines == 2) { /* --check-baselines: the baselines compute what framewire does */
        const char *args[] = {"--model", o.model, NULL};
        tu_server fw, fl, fa;
        if (tu_server_start(&fw, args) != 0) {
            fprintf(stderr, "fw_bench: the server did not start:\n%s\n", fw.output);
            return 1;
        }
        start_baseline(&fl, "baseline_flask.py");
        start_baseline(&fa, "baseline_fastapi.py");
        int bad = check_same_answers(fw.port, fl.port);
        /* The FastAPI baseline: one stream, every frame, the same top-1 as the Flask one. */
        samples lat = {0};
        long dr, er, un;
        o.warmup_s = 0;
        o.duration_s = 1;
        run_streams(fa.port, 1, 1, (double)nframes, 0, &lat, &dr, &er, &un);
        fprintf(stderr, "FastAPI baseline: %zu results, %ld errors, %ld unanswered\n", lat.n, er,
                un);
        bad += lat.n == 0 || er || un;
        free(lat.v);
        tu_server_stop(&fa, SIGTERM, 5000);
        tu_server_stop(&fl, SIGTERM, 5000);
        tu_server_stop(&fw, SIGTERM, 20000);
        printf("check-baselines: %s\n", bad ? "FAIL" : "PASS");
        return bad ? 1 : 0;
    }

    /* The bare pipeline in this process, warmed up (a first run after the model loads is
     * slower and is discarded). */
    fw_pipeline *p = bare_start();
    double duration = o.duration_s;
    o.duration_s = 3;
    bare_saturated(p, bare_depth());
    o.duration_s = duration;
    if (o.bare_only) {
        double bare_thr = bare_saturated(p, bare_depth());
        samples bare_light = {0};
        bare_paced(p, 15, &bare_light);
        fw_pipeline_stop(p);
        printf("bare: decode %d infer %d torch %d batch %d delay %d: %.1f frames/s saturated; "
               "15 fps latency p50 %.2f ms p99 %.2f ms\n",
               o.decode_threads, o.infer_threads, o.torch_threads, o.max_batch, o.max_delay_us,
               bare_thr, pct(&bare_light, 0.5), pct(&bare_light, 0.99));
        return 0;
    }

    /* The server, idle while the bare pipeline runs and the other way round: the scenarios
     * alternate, so slow drifts of the machine hit both. */
    char dt[16], it[16], tt[16], mb[16], md[16], mi[16];
    snprintf(dt, sizeof dt, "%d", o.decode_threads);
    snprintf(it, sizeof it, "%d", o.infer_threads);
    snprintf(tt, sizeof tt, "%d", o.torch_threads);
    snprintf(mb, sizeof mb, "%d", o.max_batch);
    snprintf(md, sizeof md, "%d", o.max_delay_us);
    snprintf(mi, sizeof mi, "%d", o.window);
    const char *args[] = {"--model",
                          o.model,
                          "--decode-threads",
                          dt,
                          "--infer-threads",
                          it,
                          "--torch-threads",
                          tt,
                          "--max-batch",
                          mb,
                          "--max-delay-us",
                          md,
                          "--max-inflight",
                          mi,
                          "--max-clients",
                          "256",
                          "--stats-interval-ms",
                          "0",
                          NULL};
    tu_server srv;
    if (tu_server_start(&srv, args) != 0) {
        fprintf(stderr, "fw_bench: the server did not start:\n%s\n", srv.output);
        return 1;
    }
    long dr, er;
    samples warm_up = {0}, bare_light = {0}, light = {0};
    run_streams(srv.port, 4, 1, 0, o.window, &warm_up, &dr, &er, NULL); /* warms the server up */
    free(warm_up.v);
    fprintf(stderr, "bare pipeline: 15 fps...\n");
    bare_paced(p, 15, &bare_light);
    fprintf(stderr, "server: 1 stream at 15 fps...\n");
    run_streams(srv.port, 1, 0, 15, 0, &light, &dr, &er, NULL);
    fprintf(stderr, "bare pipeline: saturated...\n");
    double bare_a = bare_saturated(p, bare_depth());
    double sat[4];
    const int ns[4] = {1, 4, 16, 64};
    for (int i = 0; i < 4; i++) {
        fprintf(stderr, "server: %d streams saturated...\n", ns[i]);
        samples tmp = {0};
        sat[i] = run_streams(srv.port, ns[i], 1, 0, o.window, &tmp, &dr, &er, NULL);
        free(tmp.v);
    }
    fprintf(stderr, "bare pipeline: saturated, again...\n");
    double bare_b = bare_saturated(p, bare_depth());
    fw_pipeline_stop(p);
    double bare_thr = (bare_a + bare_b) / 2;
    fprintf(stderr, "server: 2x overload, realtime...\n");
    samples over = {0};
    long over_dropped, over_err;
    double over_thr =
        run_streams(srv.port, 4, 0, 2 * bare_thr / 4, 0, &over, &over_dropped, &over_err, NULL);
    static char base_buf[8192];
    size_t base_n = o.baselines ? baselines(srv.port, bare_thr, base_buf, 0, sizeof base_buf) : 0;
    tu_server_stop(&srv, SIGTERM, 20000);

    /* Report. */
    static char buf[16384];
    size_t n = 0;
    struct utsname un;
    uname(&un);
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    n +=
        (size_t)snprintf(buf + n, sizeof buf - n,
                         "Run %s on %s (%ld cores), model %s, %d frames from %s.\n"
                         "Settings: decode threads %d, inference threads %d, torch threads %d, max "
                         "batch %d, max delay "
                         "%d us, window %d; %.0f s measured after %.1f s warm-up per scenario.\n\n",
                         date, un.machine, sysconf(_SC_NPROCESSORS_ONLN), o.model, nframes,
                         o.frames_dir, o.decode_threads, o.infer_threads, o.torch_threads,
                         o.max_batch, o.max_delay_us, o.window, o.duration_s, o.warmup_s);
    n += (size_t)snprintf(buf + n, sizeof buf - n,
                          "Bare saturated throughput measured before and after the server's "
                          "saturated runs: %.1f and %.1f frames/s (their mean is used).\n\n",
                          bare_a, bare_b);
    n += (size_t)snprintf(buf + n, sizeof buf - n,
                          "| scenario | bare | server | server / bare |\n|---|---|---|---|\n");
    double bl50 = pct(&bare_light, 0.5), bl99 = pct(&bare_light, 0.99);
    double l50 = pct(&light, 0.5), l99 = pct(&light, 0.99);
    n += (size_t)snprintf(
        buf + n, sizeof buf - n,
        "| 1 stream x 15 fps: p50 latency | %.2f ms | %.2f ms | +%.2f ms added |\n"
        "| 1 stream x 15 fps: p99 latency | %.2f ms | %.2f ms | +%.2f ms added |\n",
        bl50, l50, l50 - bl50, bl99, l99, l99 - bl99);
    for (int i = 0; i < 4; i++)
        n += (size_t)snprintf(
            buf + n, sizeof buf - n,
            "| saturated, %d stream%s (lossless): frames/s | %.1f | %.1f | %.3f |\n", ns[i],
            ns[i] > 1 ? "s" : "", bare_thr, sat[i], sat[i] / bare_thr);
    n += (size_t)snprintf(buf + n, sizeof buf - n,
                          "| 2x overload, 4 streams realtime (%.0f fps offered): results/s, "
                          "dropped | | %.1f results/s, %ld dropped, %ld errors | |\n"
                          "| 2x overload: p50 / p99 latency of results | | %.2f / %.2f ms | |\n",
                          2 * bare_thr, over_thr, over_dropped, over_err, pct(&over, 0.5),
                          pct(&over, 0.99));
    if (base_n)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", base_buf);
    fputs(buf, stdout);
    if (o.out) {
        FILE *f = fopen(o.out, "w");
        if (!f) {
            perror(o.out);
            return 1;
        }
        fputs(buf, f);
        fclose(f);
    }
    return 0;
}
