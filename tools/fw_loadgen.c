/* fw_loadgen.c - one profiling run: open- or closed-loop streams on one lws context (see
 * fw_loadgen.h). */
#include "fw_loadgen.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_answer.h"
#include "fw_client_pool.h"
#include "fw_clocksync.h"
#include "fw_time.h"
#include "fw_toolutil.h"

#define SETUP_TIMEOUT_US 10000000
#define START_PINGS 5
#define PING_EVERY_US 1000000

enum { F_UNSENT = 0, F_QUEUED, F_SENT, F_ANSWERED };

struct stream {
    int conn;
    int hello, config_ok, closed;
    int close_code;
    uint64_t next; /* index of the next frame to send (frame id = index + 1) */
    int64_t phase_us;
    /* per frame, indexed by frame id - 1 (grown for closed loop) */
    uint8_t *state;
    int64_t *sent_mono, *sent_wall;
    size_t cap;
    uint64_t inflight;
    fw_clocksync cs;
    int64_t next_ping;
};

struct run {
    const fw_load_config *cfg;
    fw_step *out;
    fw_pool *pool;
    struct stream *st;
    int64_t t0, t_measure, t_end; /* monotonic */
    int64_t wall_minus_mono;
    int64_t period_us;
    int started;
    uint64_t answered_total;
    char setup_error[300];
    size_t samples_cap;
};

static fw_answer g_answer; /* large; one thread */

static int64_t intended(const struct run *r, const struct stream *s, uint64_t k)
{
    return r->t0 + s->phase_us + (int64_t)k * r->period_us;
}

static int grow(struct stream *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t n = s->cap ? s->cap : 1024;
    while (n < need)
        n *= 2;
    uint8_t *st = realloc(s->state, n);
    if (st)
        s->state = st;
    int64_t *a = realloc(s->sent_mono, n * sizeof *a);
    if (a)
        s->sent_mono = a;
    int64_t *b = realloc(s->sent_wall, n * sizeof *b);
    if (b)
        s->sent_wall = b;
    if (!st || !a || !b)
        return -1;
    memset(s->state + s->cap, 0, n - s->cap);
    memset(s->sent_mono + s->cap, 0, (n - s->cap) * sizeof *a);
    memset(s->sent_wall + s->cap, 0, (n - s->cap) * sizeof *b);
    s->cap = n;
    return 0;
}

static int add_sample(struct run *r, float t_s, float lat_ms, int outcome)
{
    fw_step *o = r->out;
    if (o->nsamples == r->samples_cap) {
        size_t n = r->samples_cap ? r->samples_cap * 2 : 4096;
        fw_sample *p = realloc(o->samples, n * sizeof *p);
        if (!p)
            return -1;
        o->samples = p;
        r->samples_cap = n;
    }
    o->samples[o->nsamples++] = (fw_sample){t_s, lat_ms, (uint8_t)outcome};
    return 0;
}

/* Whether frame k of stream s is in the measured window. */
static int measured(const struct run *r, const struct stream *s, uint64_t k)
{
    if (r->cfg->closed_loop)
        return s->sent_mono[k] >= r->t_measure;
    return intended(r, s, k) >= r->t_measure;
}

static int64_t start_time(const struct run *r, const struct stream *s, uint64_t k)
{
    return r->cfg->closed_loop ? s->sent_mono[k] : intended(r, s, k);
}

static void on_connect(void *user, int conn, int ok, const char *why)
{
    struct run *r = user;
    if (!ok && !r->setup_error[0])
        snprintf(r->setup_error, sizeof r->setup_error, "stream %d cannot connect to %s:%d: %s",
                 conn + 1, r->cfg->host, r->cfg->port, why ? why : "failed");
}

static void on_close(void *user, int conn, int code)
{
    struct run *r = user;
    r->st[conn].closed = 1;
    r->st[conn].close_code = code;
}

static void on_sent(void *user, int conn, uint64_t frame_id, uint64_t capture, int64_t mono,
                    int64_t wall)
{
    (void)capture;
    struct run *r = user;
    struct stream *s = &r->st[conn];
    uint64_t k = frame_id - 1;
    if (k >= s->cap)
        return;
    if (s->state[k] == F_QUEUED)
        s->state[k] = F_SENT;
    if (r->cfg->closed_loop) {
        /* The closed loop measures from the actual send. */
        s->sent_mono[k] = mono;
    } else {
        fw_hist_add(&r->out->h->send_lag, mono - intended(r, s, k));
        s->sent_mono[k] = mono;
    }
    s->sent_wall[k] = wall;
}

static void on_answer(struct run *r, struct stream *s, const fw_answer *a, int64_t mono,
                      int64_t wall)
{
    fw_step *o = r->out;
    uint64_t k = a->frame_id - 1;
    if (a->frame_id == 0 || k >= s->cap || s->state[k] == F_UNSENT || s->state[k] == F_ANSWERED) {
        fprintf(stderr, "framewire-profile: unexpected answer for frame %" PRIu64 "\n",
                a->frame_id);
        return;
    }
    s->state[k] = F_ANSWERED;
    r->answered_total++;
    if (s->inflight)
        s->inflight--;
    if (a->type == FW_SMSG_RESULT) {
        o->results++;
        if (mono >= r->t_measure && mono < r->t_end)
            o->w_results++;
    } else if (a->type == FW_SMSG_ERROR)
        o->errors++;
    else if (strcmp(a->code, "superseded") == 0)
        o->dropped_superseded++;
    else if (strcmp(a->code, "stale") == 0)
        o->dropped_stale++;
    else
        o->dropped_other++;
    if (!measured(r, s, k))
        return;
    float t = (float)((double)(start_time(r, s, k) - r->t0) / 1e6);
    if (a->type != FW_SMSG_RESULT) {
        if (a->type == FW_SMSG_ERROR)
            o->m_errors++;
        else
            o->m_dropped++;
        add_sample(r, t, 0, a->type == FW_SMSG_ERROR ? FW_OUT_ERROR : FW_OUT_DROPPED);
        return;
    }
    o->m_results++;
    int64_t lat = mono - start_time(r, s, k);
    fw_hist_add(&o->h->latency, lat);
    add_sample(r, t, (float)((double)lat / 1000.0), FW_OUT_RESULT);
    fw_step_hists *h = o->h;
    if (a->has_timing) {
        fw_hist_add(&h->queue, a->timing.queue_us);
        fw_hist_add(&h->decode, a->timing.decode_us);
        fw_hist_add(&h->preprocess, a->timing.preprocess_us);
        fw_hist_add(&h->wait, a->timing.wait_us);
        fw_hist_add(&h->infer, a->timing.infer_us);
        fw_hist_add(&h->batch, a->timing.batch_size);
    }
    if (a->server_rx_us && a->server_tx_us) {
        fw_hist_add(&h->server, a->server_tx_us - a->server_rx_us);
        if (s->cs.samples > 0 && s->sent_wall[k]) {
            fw_hist_add(&h->uplink, a->server_rx_us - (s->sent_wall[k] + s->cs.offset));
            fw_hist_add(&h->downlink, wall + s->cs.offset - a->server_tx_us);
            o->have_split = 1;
        }
    }
}

static void on_text(void *user, int conn, const char *text, size_t len, int64_t mono, int64_t wall)
{
    struct run *r = user;
    struct stream *s = &r->st[conn];
    char err[200];
    fw_answer *a = &g_answer;
    if (fw_answer_parse(text, len, a, err, sizeof err) != 0) {
        fprintf(stderr, "framewire-profile: unreadable server message (%s): %.200s\n", err, text);
        return;
    }
    switch (a->type) {
    case FW_SMSG_HELLO:
        s->hello = 1;
        snprintf(r->out->model, sizeof r->out->model, "%.127s", a->model);
        break;
    case FW_SMSG_CONFIG:
        s->config_ok = 1;
        break;
    case FW_SMSG_PONG:
        fw_clocksync_add(&s->cs, a->client_ts_us, a->pong_rx_us, a->pong_tx_us, wall);
        break;
    case FW_SMSG_ERROR:
        if (!a->has_frame_id) {
            if (!r->setup_error[0])
                snprintf(r->setup_error, sizeof r->setup_error,
                         "the server refused a message: %.200s", text);
            break;
        }
        /* fall through */
    case FW_SMSG_RESULT:
    case FW_SMSG_DROPPED:
        on_answer(r, s, a, mono, wall);
        break;
    default:
        break;
    }
}

static int all(const struct run *r, int what)
{
    for (int i = 0; i < r->cfg->streams; i++) {
        const struct stream *s = &r->st[i];
        if (s->closed || (what == 0 ? !s->hello : what == 1 ? !s->config_ok : s->cs.samples < 1))
            return 0;
    }
    return 1;
}

/* Services until all(r, what) or timeout; 0 on success. */
static int wait_all(struct run *r, int what, int64_t timeout_us, volatile sig_atomic_t *stop)
{
    int64_t deadline = fw_now_us() + timeout_us;
    while (!all(r, what)) {
        if (r->setup_error[0] || (stop && *stop))
            return -1;
        for (int i = 0; i < r->cfg->streams; i++)
            if (r->st[i].closed) {
                snprintf(r->setup_error, sizeof r->setup_error,
                         "the server closed stream %d (code %d)", i + 1, r->st[i].close_code);
                return -1;
            }
        if (fw_now_us() > deadline)
            return -1;
        fw_pool_service(r->pool, deadline);
    }
    return 0;
}

static void send_frame(struct run *r, struct stream *s, uint64_t k, uint64_t capture)
{
    const fw_load_config *c = r->cfg;
    int idx = (int)((k + (uint64_t)(s - r->st)) % (uint64_t)c->nframes);
    s->state[k] = F_QUEUED;
    s->inflight++;
    r->out->sent++;
    if (fw_pool_send_frame(r->pool, s->conn, k + 1, capture, c->frames[idx], c->frame_lens[idx],
                           NULL, NULL) != 0)
        s->state[k] = F_UNSENT; /* the connection is gone: counted as unanswered below */
}

static void progress(struct run *r, int force)
{
    if (!r->cfg->progress)
        return;
    double el = (double)(fw_now_us() - r->t0) / 1e6;
    double total = r->cfg->warmup_s + r->cfg->duration_s;
    const fw_step *o = r->out;
    fwtool_progress(force,
                    "profile: %.0f/%.0f s%s, %d x %.4g fps, sent %" PRIu64 ", results %" PRIu64
                    ", dropped %" PRIu64 ", errors %" PRIu64 ", p99 so far %.2f ms",
                    el < total ? el : total, total, el < r->cfg->warmup_s ? " (warm-up)" : "",
                    r->cfg->streams, r->cfg->fps, o->sent, o->results,
                    o->dropped_superseded + o->dropped_stale + o->dropped_other, o->errors,
                    (double)fw_hist_percentile(&o->h->latency, 99) / 1000.0);
}

static void fetch_metrics(const fw_load_config *c, double v[6], int *ok)
{
    char err[200], *body = NULL;
    *ok = 0;
    if (fwtool_http_get(c->host, c->port, "/metrics", &body, 5000, err, sizeof err) != 200) {
        free(body);
        return;
    }
    static const char *const names[6] = {
        "framewire_frames_received_total",
        "framewire_frames_total{outcome=\"result\"}",
        "framewire_frames_total{outcome=\"error\"}",
        "framewire_frames_total{outcome=\"dropped_superseded\"}",
        "framewire_frames_total{outcome=\"dropped_stale\"}",
        "framewire_frames_total{outcome=\"dropped_shutdown\"}",
    };
    *ok = 1;
    for (int i = 0; i < 6; i++) {
        v[i] = fwtool_prom_value(body, names[i]);
        if (v[i] < 0 && i < 5)
            *ok = 0;
        if (v[i] < 0)
            v[i] = 0;
    }
    free(body);
}

static int setup(struct run *r, volatile sig_atomic_t *stop)
{
    const fw_load_config *c = r->cfg;
    char err[300];
    fw_pool_callbacks cb = {.on_connect = on_connect,
                            .on_text = on_text,
                            .on_frame_sent = on_sent,
                            .on_close = on_close};
    r->pool = fw_pool_new(c->host, c->port, &cb, r, err, sizeof err);
    if (!r->pool) {
        snprintf(r->setup_error, sizeof r->setup_error, "%s", err);
        return -1;
    }
    for (int i = 0; i < c->streams; i++) {
        r->st[i].conn = fw_pool_connect(r->pool, err, sizeof err);
        fw_clocksync_init(&r->st[i].cs);
        if (r->st[i].conn < 0) {
            snprintf(r->setup_error, sizeof r->setup_error, "%s", err);
            return -1;
        }
    }
    if (wait_all(r, 0, SETUP_TIMEOUT_US, stop) != 0) {
        if (!r->setup_error[0])
            snprintf(r->setup_error, sizeof r->setup_error,
                     "no hello from ws://%s:%d/ within 10 s on every stream", c->host, c->port);
        return -1;
    }
    char msg[200];
    int n = snprintf(msg, sizeof msg, "{\"type\":\"config\",\"policy\":\"%s\"", c->policy);
    if (c->top_k > 0)
        n += snprintf(msg + n, sizeof msg - (size_t)n, ",\"top_k\":%d", c->top_k);
    if (c->max_age_ms >= 0)
        n += snprintf(msg + n, sizeof msg - (size_t)n, ",\"max_age_ms\":%d", c->max_age_ms);
    n += snprintf(msg + n, sizeof msg - (size_t)n, "}");
    for (int i = 0; i < c->streams; i++) {
        fw_pool_send_text(r->pool, r->st[i].conn, msg, (size_t)n);
        for (int p = 0; p < START_PINGS; p++)
            fw_pool_send_ping(r->pool, r->st[i].conn);
    }
    if (wait_all(r, 1, SETUP_TIMEOUT_US, stop) != 0) {
        if (!r->setup_error[0])
            snprintf(r->setup_error, sizeof r->setup_error,
                     "the server did not confirm the session settings");
        return -1;
    }
    /* Pongs: a server without clock sync just leaves the split out. */
    wait_all(r, 2, 1000000, stop);
    r->setup_error[0] = 0;
    return 0;
}

int fw_load_run(const fw_load_config *cfg, fw_step *out, volatile sig_atomic_t *stop)
{
    memset(out, 0, sizeof *out);
    out->streams = cfg->streams;
    out->fps = cfg->fps;
    out->warmup_s = cfg->warmup_s;
    out->duration_s = cfg->duration_s;
    snprintf(out->policy, sizeof out->policy, "%s", cfg->policy);
    out->closed_loop = cfg->closed_loop;
    out->h = calloc(1, sizeof *out->h);
    struct run r = {.cfg = cfg, .out = out};
    r.st = calloc((size_t)cfg->streams, sizeof *r.st);
    if (!out->h || !r.st) {
        snprintf(out->error, sizeof out->error, "out of memory");
        free(r.st);
        return -1;
    }
    fw_step_hists *h = out->h;
    fw_hist *all_h[] = {&h->latency,  &h->send_lag, &h->uplink, &h->server,
                        &h->downlink, &h->queue,    &h->decode, &h->preprocess,
                        &h->wait,     &h->infer,    &h->batch};
    for (size_t i = 0; i < sizeof all_h / sizeof all_h[0]; i++)
        fw_hist_init(all_h[i]);

    double before[6] = {0}, after[6] = {0};
    int have_before = 0, have_after = 0;
    if (cfg->fetch_metrics)
        fetch_metrics(cfg, before, &have_before);

    int rc = -1;
    if (setup(&r, stop) != 0)
        goto done;

    /* Frames per stream (open loop); the closed loop grows its arrays as it goes. */
    r.period_us = (int64_t)llround(1e6 / cfg->fps);
    if (r.period_us < 1)
        r.period_us = 1;
    uint64_t total =
        cfg->closed_loop ? 0 : (uint64_t)floor((cfg->warmup_s + cfg->duration_s) * cfg->fps + 1e-9);
    for (int i = 0; i < cfg->streams; i++) {
        struct stream *s = &r.st[i];
        s->phase_us = r.period_us * i / cfg->streams;
        if (grow(s, total ? total : 1024) != 0) {
            snprintf(out->error, sizeof out->error, "out of memory for %" PRIu64 " frames", total);
            goto done;
        }
    }
    r.t0 = fw_now_us() + 20000;
    r.t_measure = r.t0 + (int64_t)(cfg->warmup_s * 1e6);
    r.t_end = r.t_measure + (int64_t)(cfg->duration_s * 1e6);
    r.wall_minus_mono = fw_wall_us() - fw_now_us();
    for (int i = 0; i < cfg->streams; i++)
        r.st[i].next_ping = r.t0 + PING_EVERY_US;

    /* Sending phase. */
    while (!(stop && *stop)) {
        int64_t now = fw_now_us();
        if (now >= r.t_end)
            break;
        int64_t wake = r.t_end;
        for (int i = 0; i < cfg->streams; i++) {
            struct stream *s = &r.st[i];
            if (s->closed)
                continue;
            if (cfg->closed_loop) {
                if (s->inflight == 0 && now >= r.t0) {
                    if (grow(s, s->next + 1) != 0)
                        break;
                    s->sent_mono[s->next] = now; /* refined when written */
                    send_frame(&r, s, s->next, FW_POOL_STAMP_AT_SEND);
                    s->next++;
                }
            } else {
                while (s->next < total && intended(&r, s, s->next) <= now) {
                    send_frame(&r, s, s->next,
                               (uint64_t)(intended(&r, s, s->next) + r.wall_minus_mono));
                    s->next++;
                }
                if (s->next < total && intended(&r, s, s->next) < wake)
                    wake = intended(&r, s, s->next);
            }
            if (now >= s->next_ping) {
                fw_pool_send_ping(r.pool, s->conn);
                s->next_ping = now + PING_EVERY_US;
            }
            if (s->next_ping < wake)
                wake = s->next_ping;
        }
        if (cfg->closed_loop && wake > now + 10000)
            wake = now + 10000; /* answers wake the loop anyway */
        if (now < r.t0 && r.t0 < wake)
            wake = r.t0;
        fw_pool_service(r.pool, wake);
        progress(&r, 0);
    }

    /* Drain: wait for the answers still missing. */
    int64_t drain_end = fw_now_us() + (int64_t)(cfg->drain_s * 1e6);
    while (!(stop && *stop) && r.answered_total < out->sent && fw_now_us() < drain_end) {
        int open = 0;
        for (int i = 0; i < cfg->streams; i++)
            open += !r.st[i].closed;
        if (!open)
            break;
        fw_pool_service(r.pool, drain_end);
        progress(&r, 0);
    }
    progress(&r, 1);
    if (cfg->progress)
        fwtool_progress_end();

    /* Counts: sent frames never answered, and the measured ones among them. */
    for (int i = 0; i < cfg->streams; i++) {
        struct stream *s = &r.st[i];
        for (uint64_t k = 0; k < s->next; k++) {
            int m = measured(&r, s, k);
            if (m)
                out->m_sent++;
            if (s->state[k] == F_ANSWERED)
                continue;
            out->unanswered++;
            if (m) {
                out->m_unanswered++;
                add_sample(&r, (float)((double)(start_time(&r, s, k) - r.t0) / 1e6), 0,
                           FW_OUT_UNANSWERED);
            }
        }
    }
    out->throughput = cfg->duration_s > 0 ? (double)out->w_results / cfg->duration_s : 0;
    out->offered = cfg->closed_loop
                       ? (cfg->duration_s > 0 ? (double)out->m_sent / cfg->duration_s : 0)
                       : cfg->fps * cfg->streams;
    int best = -1;
    for (int i = 0; i < cfg->streams; i++) {
        out->clock_samples += r.st[i].cs.samples;
        if (r.st[i].cs.samples && (best < 0 || r.st[i].cs.rtt < r.st[best].cs.rtt))
            best = i;
    }
    if (best >= 0) {
        out->clock_offset_us = r.st[best].cs.offset;
        out->clock_rtt_us = r.st[best].cs.rtt;
    }
    rc = 0;
done:
    if (rc != 0 && !out->error[0])
        snprintf(out->error, sizeof out->error, "%s",
                 r.setup_error[0] ? r.setup_error : "interrupted");
    fw_pool_free(r.pool); /* closes the sessions: the server stops counting for them */
    if (rc == 0 && cfg->fetch_metrics && have_before) {
        fetch_metrics(cfg, after, &have_after);
        if (have_after) {
            out->have_metrics = 1;
            out->metrics.received = after[0] - before[0];
            out->metrics.result = after[1] - before[1];
            out->metrics.error = after[2] - before[2];
            out->metrics.dropped_superseded = after[3] - before[3];
            out->metrics.dropped_stale = after[4] - before[4];
            out->metrics.dropped_shutdown = after[5] - before[5];
        }
    }
    for (int i = 0; i < cfg->streams; i++) {
        free(r.st[i].state);
        free(r.st[i].sent_mono);
        free(r.st[i].sent_wall);
    }
    free(r.st);
    return rc;
}

void fw_step_free(fw_step *s)
{
    free(s->h);
    free(s->samples);
    s->h = NULL;
    s->samples = NULL;
}

double fw_step_loss(const fw_step *s)
{
    if (!s->m_sent)
        return 0;
    return (double)(s->m_sent - s->m_results) / (double)s->m_sent;
}
