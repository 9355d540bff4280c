/* fw_stats.h - one session's counters and rolling window, for its periodic `stats` message.
 * Threads: the lws service thread only (one per session). */
#ifndef FW_STATS_H
#define FW_STATS_H

#include <stdint.h>

#include "fw_messages.h"

#define FW_STATS_SAMPLES 1024

typedef struct fw_stats {
    uint64_t frames, results, errors, dropped_superseded, dropped_stale;
    /* The current window: */
    int64_t window_start_us;
    uint32_t win_frames, win_results;
    uint32_t nsamples;                 /* server times kept (the first FW_STATS_SAMPLES) */
    int64_t samples[FW_STATS_SAMPLES]; /* server total_us of results in the window */
} fw_stats;

void fw_stats_init(fw_stats *st, int64_t now_us);

/* A binary message arrived. */
void fw_stats_frame(fw_stats *st);

/* An answer (kind != FW_ANS_NONE) was sent; total_us is the server time of a result. */
void fw_stats_answer(fw_stats *st, fw_answer_kind kind, int64_t total_us);

/* Fills *out from the window that ends now (rates, p50/p99 of server time) and the cumulative
 * counts, and starts a new window. */
void fw_stats_take(fw_stats *st, int64_t now_us, fw_stats_info *out);

#endif /* FW_STATS_H */
