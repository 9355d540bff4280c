/* fw_server_priv.h - the server's internal state, shared by fw_server.c (setup and loop),
 * fw_ws.c (WebSocket sessions) and fw_http.c (HTTP endpoints). Not for other modules. */
#ifndef FW_SERVER_PRIV_H
#define FW_SERVER_PRIV_H

#include <libwebsockets.h>
#include <signal.h>

#include "fw_recorder.h"
#include "fw_server.h"
#include "fw_sessions.h"

/* Largest text (JSON) message a client may send. */
#define FW_MAX_TEXT_BYTES 65536

struct fw_server {
    fw_server_config cfg; /* constant after fw_server_new */
    fw_pipeline *pipe;    /* created before the lws context, stopped after it */
    fw_recorder *rec;     /* --record (NULL when off); closed after the lws context */
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    int port;
    volatile sig_atomic_t stop; /* set by fw_server_request_stop (any thread, signals) */

    /* Service thread only: */
    fw_sessions *sessions;
    uint64_t next_session_id;
    uint64_t frames_received, answers_sent;

    struct lws_protocols protocols[4];
    struct lws_http_mount mounts[2];
    struct lws_protocol_vhost_options mimetypes[4];
};

/* The server that owns a wsi's context. */
static inline struct fw_server *fw_server_of(struct lws *wsi)
{
    return (struct fw_server *)lws_context_user(lws_get_context(wsi));
}

/* WebSocket protocol FW_PROTOCOL_NAME (fw_ws.c). */
int fw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);
size_t fw_ws_session_size(void);

/* HTTP endpoints mounted as callbacks (fw_http.c): /healthz, and "/" when there is no static
 * directory. */
#define FW_HTTP_PROTOCOL_NAME "fw-http"
int fw_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);
size_t fw_http_session_size(void);

#endif /* FW_SERVER_PRIV_H */
