/* fw_metrics.h - the server's Prometheus metrics: frames by outcome, stage-latency and batch-size
 * histograms; rendered in the text exposition format for GET /metrics.
 * Threads: the lws service thread only (answers are counted as they reach it). */
#ifndef FW_METRICS_H
#define FW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "fw_messages.h"

#define FW_HIST_BUCKETS 16

typedef struct fw_hist {
    uint64_t counts[FW_HIST_BUCKETS + 1]; /* per bucket (not cumulative); last = +Inf */
    double sum;
    uint64_t count;
} fw_hist;

enum {
    FW_STAGE_QUEUE,
    FW_STAGE_DECODE,
    FW_STAGE_PREPROCESS,
    FW_STAGE_WAIT,
    FW_STAGE_INFER,
    FW_STAGE_TOTAL,
    FW_STAGE__COUNT
};

typedef struct fw_metrics {
    uint64_t frames_received;        /* binary messages and REST bodies taken in */
    uint64_t answers[FW_ANS__COUNT]; /* by kind (FW_ANS_NONE unused) */
    fw_hist stage[FW_STAGE__COUNT];  /* seconds */
    fw_hist batch;                   /* frames per forward, one observation per result */
    uint64_t connections_total;
} fw_metrics;

typedef struct fw_metrics_gauges {
    int queue_depth; /* jobs waiting for a decode worker */
    int in_pipeline; /* frames claimed in the ring */
    int open_connections;
    int ready; /* 1 while serving, 0 while draining */
    const char *model_name;
    const char *device;
} fw_metrics_gauges;

/* Counts an answer on its way to a client (any kind but FW_ANS_NONE). */
void fw_metrics_answer(fw_metrics *m, const fw_outmsg *msg);

/* Renders the text format into buf (cap bytes). Returns the length, or 0 when cap is too small. */
size_t fw_metrics_render(const fw_metrics *m, const fw_metrics_gauges *g, char *buf, size_t cap);

#endif /* FW_METRICS_H */
