/* fw_http_load.h - HTTP load for bench/fw_bench: N client threads, each with one keep-alive
 * connection to 127.0.0.1, POSTing JPEG bodies one after another (the next when the answer is in),
 * either back to back or at a rate (request k of a client is due at k/fps; latency is measured
 * from that intended time, so a slow server cannot hide behind fewer requests). Used to compare
 * framewire's POST /v1/classify with a Flask /predict on the same frames.
 *
 * Threads: fw_http_load_run starts and joins its own threads; nothing is shared with the caller
 * while it runs. */
#ifndef FW_HTTP_LOAD_H
#define FW_HTTP_LOAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct fw_http_load_cfg {
    int port;
    const char *path; /* "/v1/classify", "/predict" */
    int clients;
    double fps;                 /* per client; 0 = back to back */
    double warmup_s, duration_s; /* requests due in [warm-up end, end) are measured */
    uint8_t *const *frames;
    const size_t *frame_len;
    int nframes;
} fw_http_load_cfg;

typedef struct fw_http_load_out {
    long results;    /* 200 answers with a "result", to requests due in the measured window */
    long errors;     /* other answers, failed connections */
    long arrived;    /* results that arrived inside the measured window */
    int64_t *lat_us; /* latency of each measured result (intended time -> answer); free() it */
    size_t nlat;
} fw_http_load_out;

/* Runs the load; 0, or -1 with a message in err when no client could connect. */
int fw_http_load_run(const fw_http_load_cfg *cfg, fw_http_load_out *out, char *err,
                     size_t errlen);

#endif /* FW_HTTP_LOAD_H */
