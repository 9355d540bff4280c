/* fw_server.c - server setup, the service loop and teardown (see fw_server.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_messages.h"
#include "fw_server_priv.h"

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
        .log_level = LLL_ERR | LLL_WARN,
        .pipeline =
            {
                .device = "cpu",
                .optimize = 1,
                .decode_threads = 1,
                .max_batch = 4,
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

fw_server *fw_server_new(const fw_server_config *cfg, char *err, size_t errlen)
{
    if (cfg->top_k < 1 || cfg->top_k > FW_TOPK_MAX || cfg->max_inflight < 1 ||
        cfg->max_clients < 1 || cfg->max_message_bytes < 64) {
        snprintf(err, errlen, "invalid server limits (top-k 1..%d, inflight, clients >= 1)",
                 FW_TOPK_MAX);
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
    s->pipe = fw_pipeline_start(&pc, err, errlen);
    if (!s->pipe)
        goto err;

    if (cfg->record_dir) {
        const fw_model_info *mi = fw_pipeline_model(s->pipe);
        char *info = fw_recorder_info_json("framewire " FW_VERSION, mi->name, mi->input_width,
                                           mi->input_height, mi->num_labels, mi->output_kind,
                                           mi->device);
        s->rec = fw_recorder_open(cfg->record_dir, info, 0, err, errlen);
        free(info);
        if (!s->rec)
            goto err;
    }

    lws_set_log_level(cfg->log_level, NULL);

    s->protocols[0] = (struct lws_protocols){"http", lws_callback_http_dummy, 0, 0, 0, NULL, 0};
    s->protocols[1] = (struct lws_protocols){
        FW_HTTP_PROTOCOL_NAME, fw_http_callback, fw_http_session_size(), 0, 0, NULL, 0};
    s->protocols[2] = (struct lws_protocols){
        FW_PROTOCOL_NAME, fw_ws_callback, fw_ws_session_size(), 65536, 0, NULL, 0};
    s->protocols[3] = (struct lws_protocols){NULL, NULL, 0, 0, 0, NULL, 0};

    /* "/healthz" is answered by code; "/" by the static directory, or by code when there is
     * none. */
    struct lws_http_mount *health = &s->mounts[0], *root = &s->mounts[1];
    memset(s->mounts, 0, sizeof s->mounts);
    health->mountpoint = "/healthz";
    health->mountpoint_len = 8;
    health->origin = FW_HTTP_PROTOCOL_NAME;
    health->origin_protocol = LWSMPRO_CALLBACK;
    health->mount_next = root;
    root->mountpoint = "/";
    root->mountpoint_len = 1;
    if (cfg->static_dir) {
        root->origin = cfg->static_dir;
        root->def = "index.html";
        root->origin_protocol = LWSMPRO_FILE;
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
        root->origin = FW_HTTP_PROTOCOL_NAME;
        root->origin_protocol = LWSMPRO_CALLBACK;
    }

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
    info.vhost_name = "framewire";

    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
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

int fw_server_run(fw_server *s)
{
    while (!s->stop)
        if (lws_service(s->ctx, 0) < 0)
            break;
    return 0;
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
