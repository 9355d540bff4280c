/* fw_server.h - the framewire server: one lws service thread serving WebSocket sessions and HTTP on
 * one port, in front of the decode/inference pipeline.
 *
 * Threads: fw_server_new, fw_server_run and fw_server_free on one thread (which becomes the lws
 * service thread while fw_server_run runs); fw_server_request_stop from any thread or from a
 * signal handler. */
#ifndef FW_SERVER_H
#define FW_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "fw_pipeline.h"

typedef struct fw_server fw_server;

typedef struct fw_server_config {
    const char *host;         /* interface address to listen on, e.g. "127.0.0.1"; NULL = all */
    int port;                 /* 0 = any free port (see fw_server_port) */
    const char *static_dir;   /* files served under "/", NULL for none */
    int top_k;                /* default k of a new session, 1..FW_TOPK_MAX */
    size_t max_message_bytes; /* a binary message over this closes the connection with 1009 */
    int max_inflight;         /* per session: frames answered-but-unsent plus in the pipeline
                               * before the server stops reading that socket */
    int max_clients;          /* concurrent WebSocket sessions plus pending REST requests */
    int policy;               /* default fw_policy of a new session */
    int max_age_ms;           /* default freshness budget of a new session, 0 = none */
    int stats_interval_ms;    /* periodic `stats` per session, 0 = never */
    int drain_timeout_ms;     /* on stop: longest wait for in-flight frames */
    const char *tls_cert;     /* PEM files: serve wss/https when both are set */
    const char *tls_key;
    const char *token; /* bearer token required for WebSocket and /v1/, NULL = none */
    const char *const *allow_origins; /* NULL-terminated Origin allow-list, NULL = any */
    int log_level;                    /* lws log level bitmask (LLL_ERR | LLL_WARN ...) */
    const char *record_dir; /* --record: write every session into this directory; NULL = off */
    fw_pipeline_config pipeline;
} fw_server_config;

/* Defaults for everything but pipeline.manifest_path. */
fw_server_config fw_server_default_config(void);

/* Loads the model (through the pipeline) and opens the listening socket. Returns NULL with one
 * line in err on failure: nothing is left running. */
fw_server *fw_server_new(const fw_server_config *cfg, char *err, size_t errlen);

/* The port actually listened on (useful with port 0). */
int fw_server_port(const fw_server *s);

const fw_model_info *fw_server_model(const fw_server *s);

/* Serves until fw_server_request_stop, then drains: refuses new connections and frames, waits up
 * to drain_timeout_ms for every in-flight frame to be answered and sent, and closes each
 * WebSocket with 1001. Returns 0 when everything in flight was answered, 1 when the drain timed
 * out. */
int fw_server_run(fw_server *s);

/* Async-signal-safe: asks fw_server_run to return. */
void fw_server_request_stop(fw_server *s);

/* Closes every connection, stops the pipeline, frees everything. */
void fw_server_free(fw_server *s);

#endif /* FW_SERVER_H */
