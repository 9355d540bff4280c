/* fw_metrics.c - Prometheus counters and histograms, text exposition format 0.0.4. */
#include "fw_metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

/* Upper bounds: seconds for stages (100 us .. 10 s), frames for batch sizes. */
static const double stage_le[FW_HIST_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                 0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                 1,      2.5,     5,      10};
static const double batch_le[FW_HIST_BUCKETS] = {1,  2,  3,  4,  5,  6,  8,   10,
                                                 12, 16, 24, 32, 48, 64, 128, 256};

static const char *const stage_names[FW_STAGE__COUNT] = {"queue", "decode", "preprocess",
                                                         "wait",  "infer",  "total"};

static const char *const outcome_names[FW_ANS__COUNT] = {
    [FW_ANS_RESULT] = "result",
    [FW_ANS_ERROR] = "error",
    [FW_ANS_DROPPED_SUPERSEDED] = "dropped_superseded",
    [FW_ANS_DROPPED_STALE] = "dropped_stale",
    [FW_ANS_DROPPED_SHUTDOWN] = "dropped_shutdown",
};

static void observe(fw_hist *h, const double *le, double v)
{
    int i = 0;
    while (i < FW_HIST_BUCKETS && v > le[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

void fw_metrics_answer(fw_metrics *m, const fw_outmsg *msg)
{
    if (msg->kind <= FW_ANS_NONE || msg->kind >= FW_ANS__COUNT)
        return;
    m->answers[msg->kind]++;
    if (msg->kind != FW_ANS_RESULT)
        return;
    const fw_timing *t = &msg->timing;
    const int64_t us[FW_STAGE__COUNT] = {t->queue_us, t->decode_us, t->preprocess_us,
                                         t->wait_us,  t->infer_us,  t->total_us};
    for (int i = 0; i < FW_STAGE__COUNT; i++)
        observe(&m->stage[i], stage_le, us[i] / 1e6);
    observe(&m->batch, batch_le, t->batch_size);
}

struct out {
    char *buf;
    size_t cap, len;
    int overflow;
};

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->overflow = 1;
    else
        o->len += (size_t)n;
}

static void put_hist(struct out *o, const char *name, const char *label, const fw_hist *h,
                     const double *le)
{
    uint64_t cum = 0;
    const char *sep = label[0] ? "," : "";
    for (int i = 0; i < FW_HIST_BUCKETS; i++) {
        cum += h->counts[i];
        put(o, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, label, sep, le[i], cum);
    }
    cum += h->counts[FW_HIST_BUCKETS];
    put(o, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, label, sep, cum);
    if (label[0]) {
        put(o, "%s_sum{%s} %.9g\n", name, label, h->sum);
        put(o, "%s_count{%s} %" PRIu64 "\n", name, label, h->count);
    } else {
        put(o, "%s_sum %.9g\n", name, h->sum);
        put(o, "%s_count %" PRIu64 "\n", name, h->count);
    }
}

/* A label value with \\, \" and newlines escaped, truncated to fit. */
static const char *label_value(const char *in, char *buf, size_t cap)
{
    size_t n = 0;
    for (; in && *in && n + 3 < cap; in++) {
        if (*in == '\\' || *in == '"') {
            buf[n++] = '\\';
            buf[n++] = *in;
        } else if (*in == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        } else {
            buf[n++] = *in;
        }
    }
    buf[n] = 0;
    return buf;
}

size_t fw_metrics_render(const fw_metrics *m, const fw_metrics_gauges *g, char *buf, size_t cap)
{
    char name[256], dev[64];
    struct out o = {buf, cap, 0, 0};
    put(&o, "# HELP framewire_frames_received_total Frames taken in (WebSocket binary messages "
            "and REST classify bodies).\n# TYPE framewire_frames_received_total counter\n");
    put(&o, "framewire_frames_received_total %" PRIu64 "\n", m->frames_received);
    put(&o, "# HELP framewire_frames_total Frames answered, by outcome.\n"
            "# TYPE framewire_frames_total counter\n");
    for (int k = FW_ANS_RESULT; k < FW_ANS__COUNT; k++)
        put(&o, "framewire_frames_total{outcome=\"%s\"} %" PRIu64 "\n", outcome_names[k],
            m->answers[k]);
    put(&o, "# HELP framewire_stage_seconds Server time per stage of each classified frame.\n"
            "# TYPE framewire_stage_seconds histogram\n");
    for (int i = 0; i < FW_STAGE__COUNT; i++) {
        char label[32];
        snprintf(label, sizeof label, "stage=\"%s\"", stage_names[i]);
        put_hist(&o, "framewire_stage_seconds", label, &m->stage[i], stage_le);
    }
    put(&o, "# HELP framewire_batch_size Frames per forward pass, observed once per result.\n"
            "# TYPE framewire_batch_size histogram\n");
    put_hist(&o, "framewire_batch_size", "", &m->batch, batch_le);
    put(&o,
        "# HELP framewire_queue_depth Frames waiting for a decode thread.\n"
        "# TYPE framewire_queue_depth gauge\nframewire_queue_depth %d\n",
        g->queue_depth);
    put(&o,
        "# HELP framewire_frames_in_pipeline Frames being decoded or waiting for or in "
        "inference.\n# TYPE framewire_frames_in_pipeline gauge\n"
        "framewire_frames_in_pipeline %d\n",
        g->in_pipeline);
    put(&o,
        "# HELP framewire_open_connections Open WebSocket sessions and pending REST "
        "requests.\n# TYPE framewire_open_connections gauge\nframewire_open_connections %d\n",
        g->open_connections);
    put(&o,
        "# HELP framewire_connections_total WebSocket sessions accepted.\n"
        "# TYPE framewire_connections_total counter\nframewire_connections_total %" PRIu64 "\n",
        m->connections_total);
    put(&o,
        "# HELP framewire_ready 1 while serving, 0 while shutting down.\n"
        "# TYPE framewire_ready gauge\nframewire_ready %d\n",
        g->ready);
    put(&o,
        "# HELP framewire_model_info The model being served.\n"
        "# TYPE framewire_model_info gauge\nframewire_model_info{model=\"%s\",device=\"%s\"} 1\n",
        label_value(g->model_name, name, sizeof name), label_value(g->device, dev, sizeof dev));
    return o.overflow ? 0 : o.len;
}
