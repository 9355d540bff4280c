/* fw_histogram.c - log-linear histogram (see fw_histogram.h). */
#include "fw_histogram.h"

#include <math.h>
#include <string.h>

void fw_hist_init(fw_hist *h)
{
    memset(h, 0, sizeof *h);
}

static int floor_log2(uint64_t v)
{
    return 63 - __builtin_clzll(v);
}

int fw_hist_bucket(int64_t v)
{
    if (v < FW_HIST_EXACT)
        return v < 0 ? 0 : (int)v;
    int k = floor_log2((uint64_t)v); /* >= SUB_BITS + 1 */
    int shift = k - FW_HIST_SUB_BITS;
    int sub = (int)((uint64_t)v >> shift); /* in [64, 128) */
    return (k - FW_HIST_SUB_BITS) * 64 + sub;
}

int64_t fw_hist_bucket_low(int i)
{
    if (i < FW_HIST_EXACT)
        return i;
    int k = i / 64 + FW_HIST_SUB_BITS - 1;
    int sub = i % 64 + 64;
    return (int64_t)sub << (k - FW_HIST_SUB_BITS);
}

int64_t fw_hist_bucket_high(int i)
{
    if (i < FW_HIST_EXACT)
        return i;
    int k = i / 64 + FW_HIST_SUB_BITS - 1;
    return fw_hist_bucket_low(i) + ((int64_t)1 << (k - FW_HIST_SUB_BITS)) - 1;
}

void fw_hist_add(fw_hist *h, int64_t v)
{
    if (v < 0) {
        h->clamped++;
        v = 0;
    }
    h->counts[fw_hist_bucket(v)]++;
    if (h->total == 0 || v < h->min)
        h->min = v;
    if (h->total == 0 || v > h->max)
        h->max = v;
    h->total++;
    h->sum += (double)v;
}

void fw_hist_merge(fw_hist *dst, const fw_hist *src)
{
    if (!src->total)
        return;
    for (int i = 0; i < FW_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    if (dst->total == 0 || src->min < dst->min)
        dst->min = src->min;
    if (dst->total == 0 || src->max > dst->max)
        dst->max = src->max;
    dst->total += src->total;
    dst->sum += src->sum;
    dst->clamped += src->clamped;
}

int64_t fw_hist_percentile(const fw_hist *h, double pct)
{
    if (!h->total)
        return 0;
    if (pct <= 0)
        return h->min;
    if (pct >= 100)
        return h->max;
    /* The guard keeps 99% of 100 values at rank 99 despite rounding. */
    uint64_t rank = (uint64_t)ceil(pct * (double)h->total / 100.0 - 1e-9);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < FW_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            int64_t v = fw_hist_bucket_high(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double fw_hist_mean(const fw_hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}
