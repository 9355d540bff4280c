/* fw_loadgen.h - one profiling run of `framewire-profile`: N concurrent streams on one
 * libwebsockets context (fw_client_pool), each sending frames at a target rate.
 *
 * DESIGN
 * Open loop (the default): frame k of stream i is due at T0 + i*period/N + k*period, whatever
 * the server does; it is queued at that moment and its latency is measured from that intended
 * time to its answer. A server that stalls therefore cannot hide behind fewer sends: the frames
 * that should have gone out during the stall wait (in the client queue, the socket or the server)
 * and all show the stall (no "coordinated omission"). The capture timestamp in each frame header
 * is its intended time too, so the server's freshness budget judges it as a camera frame.
 * Closed loop (--closed-loop) is the naive measurement, kept for contrast: one frame in flight per
 * stream, the next sent when the answer arrives, latency from the actual send.
 * Frames due during the warm-up are sent and counted but not measured. After the last due frame
 * the run waits up to `drain_s` for the answers still missing; those never answered are counted.
 * Clock sync: pings at the start and every second; the best (least rtt) exchange per stream gives
 * the offset that splits each result's latency into uplink, server and downlink.
 *
 * One thread: everything runs inside fw_load_run. */
#ifndef FW_LOADGEN_H
#define FW_LOADGEN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_histogram.h"

typedef struct fw_load_config {
    const char *host;
    int port;
    int streams;        /* >= 1 */
    double fps;         /* per stream (open loop) */
    double warmup_s;    /* sent, not measured */
    double duration_s;  /* measured */
    double drain_s;     /* longest wait for missing answers after the last send */
    const char *policy; /* "realtime" or "lossless" */
    int max_age_ms;     /* -1: the server's default */
    int top_k;          /* 0: the server's default */
    int closed_loop;
    int fetch_metrics; /* read /metrics before and after, for the server's own counts */
    int progress;      /* a progress line on stderr */
    /* The frames to send, cycled (borrowed: valid during the run). */
    const uint8_t *const *frames;
    const size_t *frame_lens;
    int nframes;
} fw_load_config;

/* What happened to a measured frame, for the plots. */
enum { FW_OUT_RESULT = 0, FW_OUT_DROPPED, FW_OUT_ERROR, FW_OUT_UNANSWERED };

typedef struct fw_sample {
    float t_s;        /* intended send time (open loop) or send time (closed), seconds from T0 */
    float latency_ms; /* results only; else 0 */
    uint8_t outcome;
} fw_sample;

/* The histograms of a run, in microseconds (batch: frames per forward). */
typedef struct fw_step_hists {
    fw_hist latency;  /* open loop: intended send -> answer received; closed: send -> answer */
    fw_hist send_lag; /* intended send -> handed to the socket */
    fw_hist uplink;   /* handed to the socket -> arrived at the server (clock-synced) */
    fw_hist server;   /* arrived -> result built (server_tx - server_rx) */
    fw_hist downlink; /* result built -> received (clock-synced) */
    fw_hist queue, decode, preprocess, wait, infer; /* the server's timing_us */
    fw_hist batch;
} fw_step_hists;

typedef struct fw_step {
    /* the settings it ran with */
    int streams;
    double fps;
    double warmup_s, duration_s;
    char policy[16];
    int closed_loop;
    char model[128];

    /* counts over the whole run, warm-up included (what the server saw) */
    uint64_t sent, results, errors, dropped_superseded, dropped_stale, dropped_other, unanswered;
    /* counts of the measured frames */
    uint64_t m_sent, m_results, m_errors, m_dropped, m_unanswered;
    uint64_t w_results; /* results that arrived within the measured window (any frame) */
    double throughput;  /* results that arrived per second of the measured window (all streams):
                         * past saturation, results of measured frames may arrive after it */
    double offered;    /* frames per second offered (all streams; closed loop: measured sends) */

    fw_step_hists *h;
    int have_split; /* the server sent server_rx/tx and the clocks were synced */
    int64_t clock_offset_us, clock_rtt_us; /* of the stream with the best sample */
    int clock_samples;

    int have_metrics; /* the server's /metrics counters, after minus before */
    struct {
        double received, result, error, dropped_superseded, dropped_stale, dropped_shutdown;
    } metrics;

    fw_sample *samples; /* measured frames, in send order per stream */
    size_t nsamples;

    int pass;        /* set by the sweep */
    char error[300]; /* why the run could not be made (then the rest is empty) */
} fw_step;

/* Runs one step. Returns 0, or -1 with out->error set (cannot connect, session refused, ...).
 * Free with fw_step_free either way. stop (may be NULL) ends the run early when it becomes
 * non-zero (e.g. from a signal handler). */
int fw_load_run(const fw_load_config *cfg, fw_step *out, volatile sig_atomic_t *stop);

void fw_step_free(fw_step *s);

/* The measured frames that were not answered with a result, as a share of measured sends (0..1). */
double fw_step_loss(const fw_step *s);

#endif /* FW_LOADGEN_H */
