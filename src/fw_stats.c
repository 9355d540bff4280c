/* fw_stats.c - per-session counters and rolling window (see fw_stats.h). */
#include "fw_stats.h"

#include <stdlib.h>
#include <string.h>

void fw_stats_init(fw_stats *st, int64_t now_us)
{
    memset(st, 0, sizeof *st);
    st->window_start_us = now_us;
}

void fw_stats_frame(fw_stats *st)
{
    st->frames++;
    st->win_frames++;
}

void fw_stats_answer(fw_stats *st, fw_answer_kind kind, int64_t total_us)
{
    switch (kind) {
    case FW_ANS_RESULT:
        st->results++;
        st->win_results++;
        if (st->nsamples < FW_STATS_SAMPLES)
            st->samples[st->nsamples++] = total_us;
        break;
    case FW_ANS_ERROR:
        st->errors++;
        break;
    case FW_ANS_DROPPED_SUPERSEDED:
        st->dropped_superseded++;
        break;
    case FW_ANS_DROPPED_STALE:
        st->dropped_stale++;
        break;
    default:
        break;
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static int64_t percentile(const int64_t *v, uint32_t n, double q)
{
    uint32_t rank = (uint32_t)(q * n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

void fw_stats_take(fw_stats *st, int64_t now_us, fw_stats_info *out)
{
    int64_t span = now_us - st->window_start_us;
    if (span < 1)
        span = 1;
    out->window_ms = (int)(span / 1000);
    out->fps_in = st->win_frames * 1e6 / (double)span;
    out->fps_out = st->win_results * 1e6 / (double)span;
    if (st->nsamples) {
        qsort(st->samples, st->nsamples, sizeof st->samples[0], cmp_i64);
        out->server_p50_us = percentile(st->samples, st->nsamples, 0.50);
        out->server_p99_us = percentile(st->samples, st->nsamples, 0.99);
    } else {
        out->server_p50_us = out->server_p99_us = -1;
    }
    out->frames = st->frames;
    out->results = st->results;
    out->errors = st->errors;
    out->dropped_superseded = st->dropped_superseded;
    out->dropped_stale = st->dropped_stale;
    st->window_start_us = now_us;
    st->win_frames = st->win_results = 0;
    st->nsamples = 0;
}
