/* fw_rest.c - the REST endpoints, for clients that want one answer per request rather than a
 * stream (the classic Flask `/predict` shape), served by the same pipeline:
 *   GET  /v1/models              the model being served
 *   POST /v1/classify[?top_k=N]  body: one JPEG; answer: the same JSON as a stream `result`,
 *                                or an `error` with 400 (bad image), 413 (too large),
 *                                503 (overloaded or shutting down), 401 (token), 500.
 * A pending classification is registered in the session table like a WebSocket session, so the
 * answer finds its request by (slot, generation). Service thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fw_buf.h"
#include "fw_messages.h"
#include "fw_server_priv.h"
#include "fw_time.h"

struct fw_rest_pss {
    fw_endpoint ep; /* first: registered while a classification is pending */
    int is_classify;
    fw_buf body; /* request body being received */
    int too_large;
    int top_k;
    uint64_t id;

    char *resp; /* the answer: JSON */
    size_t resp_len, sent;
    int status;
    int headers_sent, ready;
};

size_t fw_rest_session_size(void)
{
    return sizeof(struct fw_rest_pss);
}

static void respond(struct fw_rest_pss *rp, int status, const char *json, size_t len)
{
    free(rp->resp);
    rp->resp = malloc(len ? len : 1);
    rp->resp_len = rp->resp ? len : 0;
    if (rp->resp)
        memcpy(rp->resp, json, len);
    rp->status = rp->resp ? status : HTTP_STATUS_INTERNAL_SERVER_ERROR;
    rp->sent = 0;
    rp->headers_sent = 0;
    rp->ready = 1;
    lws_callback_on_writable(rp->ep.wsi);
}

/* Answers with an error message; counted as an answer to a frame when it answers a body. */
static void respond_error(struct fw_server *s, struct fw_rest_pss *rp, int status, fw_err code,
                          const char *msg)
{
    fw_outmsg *m = fw_msg_error(rp->is_classify, rp->id, code, msg);
    if (!m) {
        respond(rp, HTTP_STATUS_INTERNAL_SERVER_ERROR, "", 0);
        return;
    }
    if (rp->is_classify)
        fw_metrics_answer(&s->metrics, m);
    respond(rp, status, (const char *)m->payload, m->len);
    fw_outmsg_free(m);
}

static int status_for(const fw_outmsg *m, const char *payload)
{
    if (m->kind == FW_ANS_RESULT)
        return HTTP_STATUS_OK;
    if (m->kind != FW_ANS_ERROR)
        return HTTP_STATUS_SERVICE_UNAVAILABLE; /* dropped: shutdown */
    if (strstr(payload, "\"code\":\"overloaded\""))
        return HTTP_STATUS_SERVICE_UNAVAILABLE;
    if (strstr(payload, "\"code\":\"internal\"") ||
        strstr(payload, "\"code\":\"inference_failed\""))
        return HTTP_STATUS_INTERNAL_SERVER_ERROR;
    return HTTP_STATUS_BAD_REQUEST;
}

void fw_rest_deliver(struct fw_server *s, fw_endpoint *ep, fw_outmsg *m)
{
    struct fw_rest_pss *rp = (struct fw_rest_pss *)ep;
    if (!ep->inflight) { /* already answered: the drain ran out of time (fw_rest_abandon) */
        fw_outmsg_free(m);
        return;
    }
    ep->inflight = 0;
    fw_server_unregister(s, ep);
    respond(rp, status_for(m, (const char *)m->payload), (const char *)m->payload, m->len);
    fw_outmsg_free(m);
}

void fw_rest_abandon(struct fw_server *s, fw_endpoint *ep)
{
    struct fw_rest_pss *rp = (struct fw_rest_pss *)ep;
    if (!ep->inflight)
        return;
    ep->inflight = 0;
    /* Stays registered until the answer is written, so the server's last loop waits for it. */
    respond_error(s, rp, HTTP_STATUS_SERVICE_UNAVAILABLE, FW_ERR_OVERLOADED,
                  "the server is shutting down (its drain timed out before this image's turn)");
}

static void models_json(struct fw_server *s, struct fw_rest_pss *rp)
{
    const fw_model_info *mi = fw_pipeline_model(s->pipe);
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "models");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddItemToArray(arr, m);
    cJSON_AddStringToObject(m, "name", mi->name);
    cJSON_AddNumberToObject(m, "input_width", mi->input_width);
    cJSON_AddNumberToObject(m, "input_height", mi->input_height);
    cJSON_AddItemToObject(m, "labels", cJSON_CreateStringArray(mi->labels, mi->num_labels));
    cJSON_AddStringToObject(m, "output", mi->output_kind);
    cJSON_AddStringToObject(m, "device", mi->device);
    char *txt = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (txt) {
        respond(rp, HTTP_STATUS_OK, txt, strlen(txt));
        cJSON_free(txt);
    } else {
        respond_error(s, rp, HTTP_STATUS_INTERNAL_SERVER_ERROR, FW_ERR_INTERNAL, "out of memory");
    }
}

/* The whole body is in: classify it. */
static void classify(struct fw_server *s, struct fw_rest_pss *rp)
{
    s->metrics.frames_received++;
    if (rp->too_large) {
        respond_error(s, rp, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, FW_ERR_MESSAGE_TOO_LARGE,
                      "the body is larger than the server's --max-message-bytes");
        return;
    }
    if (rp->body.len == 0) {
        respond_error(s, rp, HTTP_STATUS_BAD_REQUEST, FW_ERR_EMPTY_FRAME, "the body is empty");
        return;
    }
    if (rp->body.len < 2 || rp->body.data[0] != 0xFF || rp->body.data[1] != 0xD8) {
        respond_error(s, rp, HTTP_STATUS_BAD_REQUEST, FW_ERR_NOT_JPEG,
                      "the body is not a JPEG (no FF D8 start)");
        return;
    }
    if (s->draining) {
        respond_error(s, rp, HTTP_STATUS_SERVICE_UNAVAILABLE, FW_ERR_OVERLOADED,
                      "the server is shutting down");
        return;
    }
    if (fw_server_register(s, &rp->ep, FW_EP_REST, rp->ep.wsi) != 0) {
        respond_error(s, rp, HTTP_STATUS_SERVICE_UNAVAILABLE, FW_ERR_OVERLOADED,
                      "too many connections (--max-clients)");
        return;
    }
    fw_job *job = calloc(1, sizeof *job);
    if (!job) {
        fw_server_unregister(s, &rp->ep);
        respond_error(s, rp, HTTP_STATUS_INTERNAL_SERVER_ERROR, FW_ERR_INTERNAL, "out of memory");
        return;
    }
    job->slot = rp->ep.slot;
    job->gen = rp->ep.gen;
    job->frame_id = rp->id;
    job->top_k = rp->top_k;
    job->arrival_us = fw_now_us();
    job->arrival_wall_us = fw_wall_us();
    job->jpeg_len = rp->body.len;
    job->buf = fw_buf_take(&rp->body);
    job->jpeg = job->buf;
    fw_job *none;
    if (fw_pipeline_submit(s->pipe, job, 0, &none) != FW_OK) {
        fw_job_free(job);
        fw_server_unregister(s, &rp->ep);
        respond_error(s, rp, HTTP_STATUS_SERVICE_UNAVAILABLE, FW_ERR_OVERLOADED,
                      "the server's decode queue is full");
        return;
    }
    rp->ep.inflight = 1;
}

static int append_body(struct fw_server *s, struct fw_rest_pss *rp, const void *in, size_t len)
{
    if (rp->too_large)
        return 0;
    int rc = fw_buf_append(&rp->body, in, len, s->cfg.max_message_bytes);
    if (rc == -1) {
        rp->too_large = 1; /* keep reading, answer 413 at the end */
        fw_buf_free(&rp->body);
        return 0;
    }
    return rc;
}

/* Parses ?top_k=; 0 when absent, -1 when invalid. */
static int top_k_arg(struct lws *wsi)
{
    char buf[32];
    const char *v = lws_get_urlarg_by_name(wsi, "top_k=", buf, sizeof buf);
    if (!v)
        return 0;
    char *end;
    long k = strtol(v, &end, 10);
    return (*v && !*end && k >= 1 && k <= FW_TOPK_MAX) ? (int)k : -1;
}

int fw_rest_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    struct fw_rest_pss *rp = user;
    struct fw_server *s = fw_server_of(wsi);
    uint8_t buf[LWS_PRE + 4096], *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof buf - 1];

    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        fw_buf_free(&rp->body);
        free(rp->resp);
        memset(rp, 0, sizeof *rp);
        rp->ep.wsi = wsi;
        char uri[128] = "";
        int is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
        lws_hdr_copy(wsi, uri, sizeof uri, is_post ? WSI_TOKEN_POST_URI : WSI_TOKEN_GET_URI);
        /* An answer made here, before the body: lws still reads the body (by Content-Length or
         * chunks) before the next request on the connection (tested in test_realtime). */
        if (!fw_server_token_ok(s, wsi)) {
            respond_error(s, rp, HTTP_STATUS_UNAUTHORIZED, FW_ERR_UNAUTHORIZED,
                          "a bearer token is required (Authorization: Bearer ... or ?token=)");
        } else if (strcmp(uri, "/v1/models") == 0 && !is_post) {
            models_json(s, rp);
        } else if (strcmp(uri, "/v1/classify") == 0 && is_post) {
            rp->is_classify = 1;
            rp->id = ++s->next_rest_id;
            rp->top_k = top_k_arg(wsi);
            if (rp->top_k < 0) {
                respond_error(s, rp, HTTP_STATUS_BAD_REQUEST, FW_ERR_BAD_MESSAGE,
                              "top_k must be an integer from 1 to 100");
                return 0;
            }
            if (!rp->top_k)
                rp->top_k = s->cfg.top_k;
            char cl[32];
            int has_len = lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
            unsigned long long n = has_len ? strtoull(cl, NULL, 10) : 0;
            if (n > s->cfg.max_message_bytes)
                rp->too_large = 1; /* answered when the body has been read */
            if (n == 0 && !lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING)) {
                /* No body is coming, and lws need not announce its end: answer now. */
                classify(s, rp);
                return 0;
            }
            return 0; /* the body follows */
        } else if (strcmp(uri, "/v1/classify") == 0 || strcmp(uri, "/v1/models") == 0) {
            respond_error(s, rp, HTTP_STATUS_METHOD_NOT_ALLOWED, FW_ERR_NOT_FOUND,
                          is_post ? "use GET for /v1/models" : "use POST for /v1/classify");
        } else {
            respond_error(s, rp, HTTP_STATUS_NOT_FOUND, FW_ERR_NOT_FOUND, "no such endpoint");
        }
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY:
        if (rp->is_classify && !rp->ready && append_body(s, rp, in, len) != 0)
            return -1;
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (rp->is_classify && !rp->ready)
            classify(s, rp);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!rp || !rp->ready)
            break;
        if (!rp->headers_sent) {
            if (lws_add_http_common_headers(wsi, (unsigned int)rp->status, "application/json",
                                            rp->resp_len, &p, end) ||
                lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                             (const unsigned char *)"no-store", 8, &p, end) ||
                lws_finalize_write_http_header(wsi, start, &p, end))
                return 1;
            rp->headers_sent = 1;
            lws_callback_on_writable(wsi);
            return 0;
        } else {
            size_t chunk = rp->resp_len - rp->sent;
            if (chunk > sizeof buf - LWS_PRE - 1)
                chunk = sizeof buf - LWS_PRE - 1;
            int last = rp->sent + chunk == rp->resp_len;
            memcpy(start, rp->resp + rp->sent, chunk);
            if (lws_write(wsi, start, chunk, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
                (int)chunk)
                return 1;
            rp->sent += chunk;
            if (!last) {
                lws_callback_on_writable(wsi);
                return 0;
            }
            rp->ready = 0;
            free(rp->resp); /* sent: a keep-alive connection may now wait long for its next */
            rp->resp = NULL;
            fw_server_unregister(s, &rp->ep); /* answered at shutdown (fw_rest_abandon) */
            /* A body we did not read (413 before it arrived) leaves the connection unusable. */
            if (rp->too_large || lws_http_transaction_completed(wsi))
                return -1;
            return 0;
        }
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL: /* a keep-alive connection leaves this protocol */
    case LWS_CALLBACK_CLOSED_HTTP:
        if (rp) {
            if (rp->ep.registered && s->pipe)
                fw_pipeline_cancel_session(s->pipe, rp->ep.slot, rp->ep.gen);
            fw_server_unregister(s, &rp->ep);
            fw_buf_free(&rp->body);
            free(rp->resp);
            rp->resp = NULL;
        }
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
