/* fw_histogram.h - a log-linear histogram of non-negative integer values (microseconds), like
 * HdrHistogram with about two significant digits: values below 128 are counted exactly, larger
 * ones in buckets 1/64 of their power of two wide (relative error under 1.6%). Fixed size (about
 * 30 KB), no allocation, O(1) add; percentiles walk the buckets.
 *
 * Not thread-safe: one owner per histogram (merge copies into another). */
#ifndef FW_HISTOGRAM_H
#define FW_HISTOGRAM_H

#include <stdint.h>

#define FW_HIST_SUB_BITS 6                    /* 64 buckets per power of two */
#define FW_HIST_EXACT (2 << FW_HIST_SUB_BITS) /* 128: values below are exact */
#define FW_HIST_BUCKETS ((62 - FW_HIST_SUB_BITS) * 64 + 128)

typedef struct fw_hist {
    uint64_t counts[FW_HIST_BUCKETS];
    uint64_t total;
    int64_t min, max; /* exact; 0 when empty */
    double sum;       /* for the mean */
    uint64_t clamped; /* negative values recorded as 0 */
} fw_hist;

void fw_hist_init(fw_hist *h);

/* Records v (a negative v counts as 0 and in `clamped`). */
void fw_hist_add(fw_hist *h, int64_t v);

/* dst += src. */
void fw_hist_merge(fw_hist *dst, const fw_hist *src);

/* The value at percentile pct (0..100): the smallest recorded value v such that at least pct%
 * of the values are <= v, to the histogram's precision (the bucket's highest value, never above
 * max). 0 when empty. pct 100 gives max, pct 0 gives min. */
int64_t fw_hist_percentile(const fw_hist *h, double pct);

double fw_hist_mean(const fw_hist *h);

/* Bucket arithmetic, exposed for tests: the bucket of v, and the first value of bucket i. */
int fw_hist_bucket(int64_t v);
int64_t fw_hist_bucket_low(int i);
int64_t fw_hist_bucket_high(int i); /* last value in bucket i */

#endif /* FW_HISTOGRAM_H */
