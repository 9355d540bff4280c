/* fw_http.c - HTTP endpoints answered by code on the WebSocket port: GET /healthz, /readyz,
 * /metrics, and a short page at "/" when the server has no static directory. Service thread
 * only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fw_server_priv.h"

#define METRICS_CAP 32768

struct fw_http_pss {
    char *body; /* malloc'd */
    size_t len, sent;
    int status;
    const char *type;
};

size_t fw_http_session_size(void)
{
    return sizeof(struct fw_http_pss);
}

static void set_body(struct fw_http_pss *hp, int status, const char *type, const char *text,
                     size_t len)
{
    free(hp->body);
    hp->body = malloc(len + 1);
    hp->status = status;
    hp->type = type;
    hp->len = hp->body ? len : 0;
    hp->sent = 0;
    if (hp->body)
        memcpy(hp->body, text, len);
    else
        hp->status = HTTP_STATUS_INTERNAL_SERVER_ERROR;
}

static void set_text(struct fw_http_pss *hp, int status, const char *text)
{
    set_body(hp, status, "text/plain", text, strlen(text));
}

static void status_json(struct fw_server *s, struct fw_http_pss *hp, int ready_check)
{
    int ready = !s->draining;
    const fw_model_info *mi = fw_pipeline_model(s->pipe);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", ready_check && !ready ? "draining" : "ok");
    cJSON_AddStringToObject(o, "model", mi->name);
    cJSON_AddNumberToObject(o, "sessions", fw_sessions_count(s->sessions));
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt) {
        set_text(hp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "out of memory\n");
        return;
    }
    set_body(hp, ready_check && !ready ? HTTP_STATUS_SERVICE_UNAVAILABLE : HTTP_STATUS_OK,
             "application/json", txt, strlen(txt));
    cJSON_free(txt);
}

static void metrics(struct fw_server *s, struct fw_http_pss *hp)
{
    const fw_model_info *mi = fw_pipeline_model(s->pipe);
    fw_metrics_gauges g = {
        .open_connections = (int)fw_sessions_count(s->sessions),
        .ready = !s->draining,
        .model_name = mi->name,
        .device = mi->device,
    };
    fw_pipeline_depth(s->pipe, &g.queue_depth, &g.in_pipeline);
    char *buf = malloc(METRICS_CAP);
    size_t n = buf ? fw_metrics_render(&s->metrics, &g, buf, METRICS_CAP) : 0;
    if (n)
        set_body(hp, HTTP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", buf, n);
    else
        set_text(hp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "metrics did not fit\n");
    free(buf);
}

int fw_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    struct fw_http_pss *hp = user;
    struct fw_server *s = fw_server_of(wsi);
    uint8_t buf[LWS_PRE + 4096], *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof buf - 1];

    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        memset(hp, 0, sizeof *hp);
        char uri[128];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
            set_text(hp, HTTP_STATUS_METHOD_NOT_ALLOWED, "only GET is served here\n");
        else if (strcmp(uri, "/healthz") == 0)
            status_json(s, hp, 0);
        else if (strcmp(uri, "/readyz") == 0)
            status_json(s, hp, 1);
        else if (strcmp(uri, "/metrics") == 0)
            metrics(s, hp);
        else if (strcmp(uri, "/") == 0 && !s->cfg.static_dir)
            set_text(hp, HTTP_STATUS_OK,
                     "framewire is running. No --static-dir was given, so there is no page "
                     "here.\nWebSocket: subprotocol " FW_PROTOCOL_NAME
                     " on this port; see docs/protocol.md.\n");
        else
            set_text(hp, HTTP_STATUS_NOT_FOUND, "not found\n");
        if (lws_add_http_common_headers(wsi, (unsigned int)hp->status, hp->type, hp->len, &p,
                                        end) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                         (const unsigned char *)"no-store", 8, &p, end) ||
            lws_finalize_write_http_header(wsi, start, &p, end))
            return 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (!hp || !hp->type)
            break;
        size_t chunk = hp->len - hp->sent;
        if (chunk > sizeof buf - LWS_PRE - 1)
            chunk = sizeof buf - LWS_PRE - 1;
        int last = hp->sent + chunk == hp->len;
        memcpy(start, hp->body + hp->sent, chunk);
        if (lws_write(wsi, start, chunk, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
            (int)chunk)
            return 1;
        hp->sent += chunk;
        if (!last) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        hp->type = NULL;
        free(hp->body);
        hp->body = NULL;
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
        if (hp) {
            free(hp->body);
            hp->body = NULL;
        }
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
