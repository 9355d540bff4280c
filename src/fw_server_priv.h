/* fw_server_priv.h - the server's internal state, shared by fw_server.c (setup, loop, delivery,
 * drain), fw_ws.c (WebSocket sessions), fw_http.c (health, metrics) and fw_rest.c (REST
 * classification). Not for other modules. */
#ifndef FW_SERVER_PRIV_H
#define FW_SERVER_PRIV_H

#include <libwebsockets.h>
#include <signal.h>

#include "fw_metrics.h"
#include "fw_recorder.h"
#include "fw_server.h"
#include "fw_sessions.h"

/* Largest text (JSON) message a client may send. */
#define FW_MAX_TEXT_BYTES 65536

/* What a session-table entry is. */
typedef enum fw_endpoint_kind { FW_EP_WS = 1, FW_EP_REST = 2 } fw_endpoint_kind;

/* The first member of every per-connection struct registered in the session table, so answers
 * can be routed by (slot, generation). Service thread only. */
typedef struct fw_endpoint {
    fw_endpoint_kind kind;
    struct lws *wsi;
    int registered; /* in the session table under (slot, gen) */
    uint32_t slot, gen;
    int inflight; /* frames handed to the pipeline and not yet answered */
} fw_endpoint;

struct fw_server {
    fw_server_config cfg; /* constant after fw_server_new */
    fw_pipeline *pipe;    /* created before the lws context, stopped after it */
    fw_recorder *rec;     /* --record (NULL when off); closed after the lws context */
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    int port;
    volatile sig_atomic_t stop; /* set by fw_server_request_stop (any thread, signals) */

    /* Service thread only: */
    int draining; /* stop requested: refuse new work, finish what is in flight */
    fw_sessions *sessions;
    uint64_t next_session_id;
    uint64_t next_rest_id;
    int held_sessions;    /* lossless sessions holding a frame the full queue refused */
    uint32_t held_cursor; /* where the next retry round starts, so no session is always last */
    fw_metrics metrics;
    lws_sorted_usec_list_t drain_sul;

    struct lws_protocols protocols[5]; /* four and the terminator */
    struct lws_http_mount mounts[5];
    struct lws_protocol_vhost_options mimetypes[4];
};

/* The server that owns a wsi's context. */
static inline struct fw_server *fw_server_of(struct lws *wsi)
{
    return (struct fw_server *)lws_context_user(lws_get_context(wsi));
}

/* Registers ep in the session table; -1 when full. */
int fw_server_register(struct fw_server *s, fw_endpoint *ep, fw_endpoint_kind kind,
                       struct lws *wsi);
void fw_server_unregister(struct fw_server *s, fw_endpoint *ep);

/* Moves every answer the pipeline has finished to its endpoint (service thread). */
void fw_server_deliver(struct fw_server *s);

/* Checks the bearer token (Authorization header or ?token=) when --token is set. 1 = allowed. */
int fw_server_token_ok(struct fw_server *s, struct lws *wsi);

/* Checks the Origin header against --allow-origin when set. 1 = allowed. */
int fw_server_origin_ok(struct fw_server *s, struct lws *wsi);

/* WebSocket protocol FW_PROTOCOL_NAME (fw_ws.c). */
int fw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);
size_t fw_ws_session_size(void);
/* Hands an answer to a WebSocket session (takes m). */
void fw_ws_deliver(struct fw_server *s, fw_endpoint *ep, fw_outmsg *m);
/* 1 when the session has nothing in flight and nothing left to send. */
int fw_ws_idle(const fw_endpoint *ep);
/* Hands a lossless session's held frame (refused by a full queue) to the pipeline again.
 * 0 when it went in or there was none, -1 when the queue is still full. */
int fw_ws_retry_held(struct fw_server *s, fw_endpoint *ep);
/* Answers every frame still in the pipeline with dropped/shutdown (the drain ran out of time). */
void fw_ws_abandon_inflight(struct fw_server *s, fw_endpoint *ep);
/* Closes the session with `code` at its next WRITEABLE (after what is queued). */
void fw_ws_close_later(fw_endpoint *ep, int code, const char *reason);

/* HTTP endpoints answered by code (fw_http.c): /healthz, /readyz, /metrics, and "/" when there
 * is no static directory. */
#define FW_HTTP_PROTOCOL_NAME "fw-http"
int fw_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);
size_t fw_http_session_size(void);

/* REST (fw_rest.c): GET /v1/models, POST /v1/classify. */
#define FW_REST_PROTOCOL_NAME "fw-rest"
int fw_rest_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);
size_t fw_rest_session_size(void);
void fw_rest_deliver(struct fw_server *s, fw_endpoint *ep, fw_outmsg *m);
/* Answers a pending classification 503 (the drain ran out of time before its result). */
void fw_rest_abandon(struct fw_server *s, fw_endpoint *ep);

#endif /* FW_SERVER_PRIV_H */
