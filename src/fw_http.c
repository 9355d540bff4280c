/* fw_http.c - HTTP endpoints answered by code on the WebSocket port: GET /healthz, and a short
 * page at "/" when the server has no static directory. Service thread only. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fw_server_priv.h"

struct fw_http_pss {
    char body[1024];
    size_t len;
    int status;
    const char *type;
};

size_t fw_http_session_size(void)
{
    return sizeof(struct fw_http_pss);
}

static void set_body(struct fw_http_pss *hp, int status, const char *type, const char *text)
{
    hp->status = status;
    hp->type = type;
    hp->len = (size_t)snprintf(hp->body, sizeof hp->body, "%s", text);
    if (hp->len >= sizeof hp->body)
        hp->len = sizeof hp->body - 1;
}

static void healthz(struct fw_server *s, struct fw_http_pss *hp)
{
    const fw_model_info *mi = fw_pipeline_model(s->pipe);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    cJSON_AddStringToObject(o, "model", mi->name);
    cJSON_AddNumberToObject(o, "sessions", fw_sessions_count(s->sessions));
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (txt) {
        set_body(hp, HTTP_STATUS_OK, "application/json", txt);
        cJSON_free(txt);
    } else {
        set_body(hp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n");
    }
}

int fw_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    struct fw_http_pss *hp = user;
    struct fw_server *s = fw_server_of(wsi);
    uint8_t buf[LWS_PRE + 1024], *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof buf - 1];

    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        /* `in` is the URL path below the mount point. */
        char uri[128];
        lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
        if (strcmp(uri, "/healthz") == 0)
            healthz(s, hp);
        else if (strcmp(uri, "/") == 0 && !s->cfg.static_dir)
            set_body(hp, HTTP_STATUS_OK, "text/plain",
                     "framewire is running. No --static-dir was given, so there is no page here.\n"
                     "WebSocket: subprotocol " FW_PROTOCOL_NAME " on this port; see "
                     "docs/protocol.md.\n");
        else
            set_body(hp, HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n");
        if (!lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
            set_body(hp, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain", "only GET is served here\n");
        if (lws_add_http_common_headers(wsi, (unsigned int)hp->status, hp->type, hp->len, &p,
                                        end) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                         (const unsigned char *)"no-store", 8, &p, end) ||
            lws_finalize_write_http_header(wsi, start, &p, end))
            return 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!hp || !hp->type)
            break;
        memcpy(start, hp->body, hp->len);
        if (lws_write(wsi, start, hp->len, LWS_WRITE_HTTP_FINAL) != (int)hp->len)
            return 1;
        hp->type = NULL;
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    default:
        break;
    }
    (void)in;
    (void)len;
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
