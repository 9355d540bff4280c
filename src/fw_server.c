/* fw_server.c - server setup (lws context, protocols, mounts, TLS), answer delivery, access
 * checks, the service loop and the graceful drain on stop (see fw_server.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_messages.h"
#include "fw_server_priv.h"
#include "fw_time.h"

fw_server_config fw_server_default_config(void)
{
    fw_server_config c = {
        .host = "127.0.0.1",
        .port = 8080,
        .static_dir = NULL,
        .top_k = 5,
        .max_message_bytes = 8u << 20,
        .max_inflight = 4,
        .max_clients = 64,
        .policy = FW_POLICY_REALTIME,
        .max_age_ms = 0,
        .stats_interval_ms = 1000,
        .drain_timeout_ms = 10000,
        .log_level = LLL_ERR | LLL_WARN,
        .pipeline =
            {
                .device = "cpu",
                .optimize = 1,
                .decode_threads = 1,
                .infer_threads = 2,
                .max_batch = 4,
                .max_delay_us = 2000,
                .torch_threads = 1,
                .queue_capacity = 256,
                .limits = {.max_pixels = 4096u * 4096u, .accept_warnings = 0},
            },
    };
    return c;
}

/* Called from pipeline threads: the one lws call allowed off the service thread. */
static void wake_service(void *user)
{
    struct fw_server *s = user;
    if (s->ctx)
        lws_cancel_service(s->ctx);
}

int fw_server_register(struct fw_server *s, fw_endpoint *ep, fw_endpoint_kind kind, struct lws *wsi)
{
    ep->kind = kind;
    ep->wsi = wsi;
    ep->inflight = 0;
    if (fw_sessions_add(s->sessions, ep, &ep->slot, &ep->gen) != 0)
        return -1;
    ep->registered = 1;
    return 0;
}

void fw_server_unregister(struct fw_server *s, fw_endpoint *ep)
{
    if (ep->registered)
        fw_sessions_remove(s->sessions, ep->slot);
    ep->registered = 0;
}

void fw_server_deliver(struct fw_server *s)
{
    fw_outmsg *m = fw_pipeline_take_results(s->pipe);
    while (m) {
        fw_outmsg *next = m->next;
        fw_metrics_answer(&s->metrics, m);
        fw_endpoint *ep = fw_sessions_get(s->sessions, m->slot, m->gen);
        if (!ep) {
            fw_outmsg_free(m); /* its session has closed */
        } else if (ep->kind == FW_EP_WS) {
            fw_ws_deliver(s, ep, m);
        } else {
            fw_rest_deliver(s, ep, m);
        }
        m = next;
    }
    /* Answers came back, so the queue may have room for the frames lossless sessions hold. */
    uint32_t cap = fw_sessions_capacity(s->sessions);
    for (uint32_t k = 0; k < cap && s->held_sessions > 0; k++) {
        uint32_t i = (s->held_cursor + k) % cap;
        fw_endpoint *ep = fw_sessions_at(s->sessions, i);
        if (ep && ep->kind == FW_EP_WS && fw_ws_retry_held(s, ep) != 0) {
            s->held_cursor = i; /* still full: this one goes first next time */
            break;
        }
    }
}

/* Compares without an early exit, so the time taken does not tell how much of a guess was
 * right. */
static int same_secret(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < alen; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)b[i % (blen ? blen : 1)];
    return diff == 0;
}

int fw_server_token_ok(struct fw_server *s, struct lws *wsi)
{
    if (!s->cfg.token)
        return 1;
    char buf[512];
    int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && strncmp(buf, "Bearer ", 7) == 0)
        return same_secret(buf + 7, (size_t)n - 7, s->cfg.token);
    const char *v = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof buf);
    return v && same_secret(v, strlen(v), s->cfg.token);
}

int fw_server_origin_ok(struct fw_server *s, struct lws *wsi)
{
    if (!s->cfg.allow_origins)
        return 1;
    char origin[256];
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
        return 0;
    for (const char *const *o = s->cfg.allow_origins; *o; o++)
        if (strcmp(origin, *o) == 0)
            return 1;
    return 0;
}

/* protocols[0]: plain HTTP (static files) plus the one place lws asks about new TCP
 * connections, refused while draining. */
static int root_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    if (reason == LWS_CALLBACK_FILTER_NETWORK_CONNECTION) {
        struct fw_server *s = fw_server_of(wsi);
        if (s && s->draining)
            return 1;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void mount_callback(struct lws_http_mount *m, const char *point, const char *protocol,
                           struct lws_http_mount *next)
{
    memset(m, 0, sizeof *m);
    m->mountpoint = point;
    m->mountpoint_len = (unsigned char)strlen(point);
    m->origin = protocol;
    m->origin_protocol = LWSMPRO_CALLBACK;
    m->mount_next = next;
}

fw_server *fw_server_new(const fw_server_config *cfg, char *err, size_t errlen)
{
    if (cfg->top_k < 1 || cfg->top_k > FW_TOPK_MAX || cfg->max_inflight < 1 ||
        cfg->max_clients < 1 || cfg->max_message_bytes < 64 || cfg->stats_interval_ms < 0 ||
        cfg->max_age_ms < 0 || cfg->drain_timeout_ms < 0) {
        snprintf(err, errlen, "invalid server limits (top-k 1..%d, inflight, clients >= 1)",
                 FW_TOPK_MAX);
        return NULL;
    }
    if (!cfg->tls_cert != !cfg->tls_key) {
        snprintf(err, errlen, "--tls-cert and --tls-key go together");
        return NULL;
    }
    struct fw_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->sessions = fw_sessions_new((uint32_t)cfg->max_clients);
    if (!s->sessions) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }

    fw_pipeline_config pc = cfg->pipeline;
    pc.notify = wake_service;
    pc.notify_user = s;
    pc.max_sessions = cfg->max_clients;
    s->pipe = fw_pipeline_start(&pc, err, errlen);
    if (!s->pipe)
        goto err;

    if (cfg->record_dir) {
        const fw_model_info *mi = fw_pipeline_model(s->pipe);
        char *info =
            fw_recorder_info_json("framewire " FW_VERSION, mi->name, mi->input_width,
                                  mi->input_height, mi->num_labels, mi->output_kind, mi->device);
        s->rec = fw_recorder_open(cfg->record_dir, info, 0, err, errlen);
        free(info);
        if (!s->rec)
            goto err;
    }

    lws_set_log_level(cfg->log_level, NULL);

    s->protocols[0] = (struct lws_protocols){"http", root_callback, 0, 0, 0, NULL, 0};
    s->protocols[1] = (struct lws_protocols){
        FW_HTTP_PROTOCOL_NAME, fw_http_callback, fw_http_session_size(), 0, 0, NULL, 0};
    s->protocols[2] = (struct lws_protocols){
        FW_REST_PROTOCOL_NAME, fw_rest_callback, fw_rest_session_size(), 0, 0, NULL, 0};
    s->protocols[3] = (struct lws_protocols){
        FW_PROTOCOL_NAME, fw_ws_callback, fw_ws_session_size(), 65536, 0, NULL, 0};
    s->protocols[4] = (struct lws_protocols){NULL, NULL, 0, 0, 0, NULL, 0};
    /* lws lets the last matching callback mount win, and a file mount lose to a callback one:
     * so "/" comes first and the endpoints after it. */
    struct lws_http_mount *root = &s->mounts[0];
    if (cfg->static_dir) {
        memset(root, 0, sizeof *root);
        root->mountpoint = "/";
        root->mountpoint_len = 1;
        root->origin = cfg->static_dir;
        root->def = "index.html";
        root->origin_protocol = LWSMPRO_FILE;
        root->mount_next = &s->mounts[1];
        /* Types lws does not know by itself. */
        s->mimetypes[0] =
            (struct lws_protocol_vhost_options){&s->mimetypes[1], NULL, ".mjs", "text/javascript"};
        s->mimetypes[1] = (struct lws_protocol_vhost_options){&s->mimetypes[2], NULL, ".wasm",
                                                              "application/wasm"};
        s->mimetypes[2] =
            (struct lws_protocol_vhost_options){&s->mimetypes[3], NULL, ".svg", "image/svg+xml"};
        s->mimetypes[3] = (struct lws_protocol_vhost_options){NULL, NULL, ".webmanifest",
                                                              "application/manifest+json"};
        root->extra_mimetypes = &s->mimetypes[0];
    } else {
        mount_callback(root, "/", FW_HTTP_PROTOCOL_NAME, &s->mounts[1]);
    }
    mount_callback(&s->mounts[1], "/healthz", FW_HTTP_PROTOCOL_NAME, &s->mounts[2]);
    mount_callback(&s->mounts[2], "/readyz", FW_HTTP_PROTOCOL_NAME, &s->mounts[3]);
    mount_callback(&s->mounts[3], "/metrics", FW_HTTP_PROTOCOL_NAME, &s->mounts[4]);
    mount_callback(&s->mounts[4], "/v1", FW_REST_PROTOCOL_NAME, NULL);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = cfg->port;
    info.iface = cfg->host;
    info.protocols = s->protocols;
    info.mounts = s->mounts;
    info.user = s;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cfg->host && strchr(cfg->host, ':'))
        info.options &= ~(uint64_t)LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cfg->tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
    }
    info.vhost_name = "framewire";

    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        if (cfg->tls_cert)
            snprintf(err, errlen,
                     "cannot listen on %s port %d with TLS (bad --tls-cert/--tls-key files, "
                     "port in use, or no such address?)",
                     cfg->host ? cfg->host : "*", cfg->port);
        else
            snprintf(err, errlen, "cannot listen on %s port %d (in use, or no such address?)",
                     cfg->host ? cfg->host : "*", cfg->port);
        goto err;
    }
    s->vhost = lws_get_vhost_by_name(s->ctx, "framewire");
    s->port = s->vhost ? lws_get_vhost_listen_port(s->vhost) : cfg->port;
    return s;
err:
    fw_server_free(s);
    return NULL;
}

int fw_server_port(const fw_server *s)
{
    return s->port;
}

const fw_model_info *fw_server_model(const fw_server *s)
{
    return fw_pipeline_model(s->pipe);
}

/* Keeps the loop turning while draining, so deadlines are noticed. */
static void drain_tick(lws_sorted_usec_list_t *sul)
{
    struct fw_server *s = lws_container_of(sul, struct fw_server, drain_sul);
    lws_sul_schedule(s->ctx, 0, &s->drain_sul, drain_tick, 20 * LWS_US_PER_MS);
}

/* 1 when no endpoint has frames in flight or answers left to send. */
static int all_answered(struct fw_server *s)
{
    for (uint32_t i = 0; i < fw_sessions_capacity(s->sessions); i++) {
        fw_endpoint *ep = fw_sessions_at(s->sessions, i);
        if (!ep)
            continue;
        if (ep->kind == FW_EP_WS ? !fw_ws_idle(ep) : ep->inflight > 0)
            return 0;
    }
    return 1;
}

int fw_server_run(fw_server *s)
{
    while (!s->stop)
        if (lws_service(s->ctx, 0) < 0)
            return 1;

    /* Drain: refuse new connections and frames, let in-flight frames finish and be sent. */
    s->draining = 1;
    drain_tick(&s->drain_sul);
    int64_t deadline = fw_now_us() + (int64_t)s->cfg.drain_timeout_ms * 1000;
    while (!all_answered(s) && fw_now_us() < deadline)
        if (lws_service(s->ctx, 0) < 0)
            break;
    int timed_out = !all_answered(s);

    /* Close every WebSocket with 1001 after what is queued; frames still in the pipeline (the
     * drain timed out) are answered dropped/shutdown first, pending REST requests 503. */
    for (uint32_t i = 0; i < fw_sessions_capacity(s->sessions); i++) {
        fw_endpoint *ep = fw_sessions_at(s->sessions, i);
        if (ep && ep->kind == FW_EP_WS) {
            fw_ws_abandon_inflight(s, ep);
            fw_ws_close_later(ep, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
        } else if (ep) {
            fw_rest_abandon(s, ep);
        }
    }
    deadline = fw_now_us() + 2000000;
    while (fw_sessions_count(s->sessions) > 0 && fw_now_us() < deadline)
        if (lws_service(s->ctx, 0) < 0)
            break;
    lws_sul_cancel(&s->drain_sul);
    return timed_out;
}

void fw_server_request_stop(fw_server *s)
{
    s->stop = 1;
    if (s->ctx)
        lws_cancel_service(s->ctx);
}

void fw_server_free(fw_server *s)
{
    if (!s)
        return;
    /* The pipeline's threads call lws_cancel_service(ctx), so they stop first; then the context
     * closes every connection (their unanswered frames went with the pipeline). */
    fw_pipeline *p = s->pipe;
    s->pipe = NULL;
    fw_pipeline_stop(p);
    if (s->ctx)
        lws_context_destroy(s->ctx);
    fw_recorder_close(s->rec); /* after the context: sessions closing write their CLOSE records */
    fw_sessions_free(s->sessions);
    free(s);
}
