/* fw_messages.c - build the server's JSON messages with cJSON and parse the client's. */
#include "fw_messages.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <libwebsockets.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fw_outmsg *fw_outmsg_new(const char *text, size_t len)
{
    fw_outmsg *m = malloc(sizeof *m + LWS_PRE + len + 1);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->payload = m->data + LWS_PRE;
    memcpy(m->payload, text, len);
    m->payload[len] = 0;
    m->len = len;
    return m;
}

void fw_outmsg_free(fw_outmsg *m)
{
    free(m);
}

/* Prints and frees the tree; NULL when any step ran out of memory. */
static fw_outmsg *finish(cJSON *root)
{
    if (!root)
        return NULL;
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!s)
        return NULL;
    fw_outmsg *m = fw_outmsg_new(s, strlen(s));
    cJSON_free(s);
    return m;
}

/* Adds a u64 exactly (a JSON number, not rounded through a double). */
static void add_u64(cJSON *o, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    cJSON_AddRawToObject(o, key, buf);
}

fw_outmsg *fw_msg_hello(const fw_hello_info *h)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", "hello");
    cJSON_AddStringToObject(root, "protocol", FW_PROTOCOL_NAME);
    cJSON_AddNumberToObject(root, "version", FW_PROTOCOL_VERSION);
    cJSON_AddStringToObject(root, "server", h->server_version);
    add_u64(root, "session", h->session_id);
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "name", h->model_name);
    cJSON_AddNumberToObject(model, "input_width", h->input_width);
    cJSON_AddNumberToObject(model, "input_height", h->input_height);
    cJSON_AddNumberToObject(model, "labels", h->num_labels);
    cJSON_AddStringToObject(model, "output", h->output_kind);
    cJSON_AddStringToObject(model, "device", h->device);
    cJSON *lim = cJSON_AddObjectToObject(root, "limits");
    add_u64(lim, "max_message_bytes", h->max_message_bytes);
    add_u64(lim, "max_pixels", h->max_pixels);
    cJSON_AddNumberToObject(lim, "max_inflight", h->max_inflight);
    cJSON_AddNumberToObject(lim, "max_top_k", FW_TOPK_MAX);
    cJSON *cfg = cJSON_AddObjectToObject(root, "config");
    cJSON_AddNumberToObject(cfg, "top_k", h->top_k);
    cJSON_AddStringToObject(cfg, "policy", fw_policy_name(h->policy));
    cJSON_AddNumberToObject(cfg, "max_age_ms", h->max_age_ms);
    cJSON_AddNumberToObject(cfg, "stats_interval_ms", h->stats_interval_ms);
    return finish(root);
}

static double round6(float p)
{
    return round((double)p * 1e6) / 1e6;
}

fw_outmsg *fw_msg_result(uint64_t frame_id, uint64_t capture_us, const fw_class_score *scores,
                         int n, const char *const *labels, const fw_timing *t, int64_t rx_wall_us,
                         int64_t tx_wall_us)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", "result");
    add_u64(root, "frame_id", frame_id);
    add_u64(root, "capture_ts_us", capture_us);
    cJSON *top = cJSON_AddArrayToObject(root, "top");
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "label", labels[scores[i].index]);
        cJSON_AddNumberToObject(e, "index", scores[i].index);
        cJSON_AddNumberToObject(e, "prob", isfinite(scores[i].prob) ? round6(scores[i].prob) : 0);
        cJSON_AddItemToArray(top, e);
    }
    cJSON *tm = cJSON_AddObjectToObject(root, "timing_us");
    cJSON_AddNumberToObject(tm, "queue", (double)t->queue_us);
    cJSON_AddNumberToObject(tm, "decode", (double)t->decode_us);
    cJSON_AddNumberToObject(tm, "preprocess", (double)t->preprocess_us);
    cJSON_AddNumberToObject(tm, "wait", (double)t->wait_us);
    cJSON_AddNumberToObject(tm, "infer", (double)t->infer_us);
    cJSON_AddNumberToObject(tm, "total", (double)t->total_us);
    cJSON_AddNumberToObject(root, "batch", t->batch_size);
    add_u64(root, "server_rx_ts_us", (uint64_t)rx_wall_us);
    add_u64(root, "server_tx_ts_us", (uint64_t)tx_wall_us);
    fw_outmsg *m = finish(root);
    if (m) {
        m->kind = FW_ANS_RESULT;
        m->frame_id = frame_id;
        m->timing = *t;
    }
    return m;
}

fw_outmsg *fw_msg_error(int has_frame_id, uint64_t frame_id, fw_err code, const char *message)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", "error");
    if (has_frame_id)
        add_u64(root, "frame_id", frame_id);
    else
        cJSON_AddNullToObject(root, "frame_id");
    cJSON_AddStringToObject(root, "code", fw_error_name(code));
    cJSON_AddStringToObject(root, "message", message ? message : fw_error_name(code));
    fw_outmsg *m = finish(root);
    if (m && has_frame_id) {
        m->kind = FW_ANS_ERROR;
        m->frame_id = frame_id;
    }
    return m;
}

fw_outmsg *fw_msg_dropped(uint64_t frame_id, fw_answer_kind kind)
{
    const char *reason = kind == FW_ANS_DROPPED_SUPERSEDED ? "superseded"
                         : kind == FW_ANS_DROPPED_STALE    ? "stale"
                                                           : "shutdown";
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", "dropped");
    add_u64(root, "frame_id", frame_id);
    cJSON_AddStringToObject(root, "reason", reason);
    fw_outmsg *m = finish(root);
    if (m) {
        m->kind = kind;
        m->frame_id = frame_id;
    }
    return m;
}

fw_outmsg *fw_msg_pong(int64_t client_ts_us, int64_t server_rx_us, int64_t server_tx_us)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", "pong");
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, client_ts_us);
    cJSON_AddRawToObject(root, "client_ts_us", buf);
    add_u64(root, "server_rx_ts_us", (uint64_t)server_rx_us);
    add_u64(root, "server_tx_ts_us", (uint64_t)server_tx_us);
    return finish(root);
}

fw_outmsg *fw_msg_stats(const fw_stats_info *st)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", "stats");
    cJSON_AddNumberToObject(root, "window_ms", st->window_ms);
    cJSON_AddNumberToObject(root, "fps_in", round(st->fps_in * 100) / 100);
    cJSON_AddNumberToObject(root, "fps_out", round(st->fps_out * 100) / 100);
    if (st->server_p50_us >= 0) {
        cJSON_AddNumberToObject(root, "server_p50_us", (double)st->server_p50_us);
        cJSON_AddNumberToObject(root, "server_p99_us", (double)st->server_p99_us);
    } else {
        cJSON_AddNullToObject(root, "server_p50_us");
        cJSON_AddNullToObject(root, "server_p99_us");
    }
    add_u64(root, "frames", st->frames);
    add_u64(root, "results", st->results);
    add_u64(root, "errors", st->errors);
    add_u64(root, "dropped_superseded", st->dropped_superseded);
    add_u64(root, "dropped_stale", st->dropped_stale);
    return finish(root);
}

fw_outmsg *fw_msg_config(int top_k, fw_policy policy, int max_age_ms)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", "config");
    cJSON_AddNumberToObject(root, "top_k", top_k);
    cJSON_AddStringToObject(root, "policy", fw_policy_name(policy));
    cJSON_AddNumberToObject(root, "max_age_ms", max_age_ms);
    return finish(root);
}

const char *fw_policy_name(fw_policy p)
{
    return p == FW_POLICY_LOSSLESS ? "lossless" : "realtime";
}

/* An integer field in [lo, hi]; -1 with a message otherwise. */
static int int_field(const cJSON *it, double lo, double hi, long long *out, char *err,
                     size_t errlen)
{
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || v != floor(v) || v < lo || v > hi) {
        snprintf(err, errlen, "\"%s\" must be an integer from %.0f to %.0f", it->string, lo, hi);
        return -1;
    }
    *out = (long long)v;
    return 0;
}

int fw_client_msg_parse(const char *text, size_t len, fw_client_msg *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(text, len);
    int rc = -1;
    long long v;
    if (!root) {
        snprintf(err, errlen, "text message is not valid JSON");
        return -1;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!cJSON_IsObject(root) || !cJSON_IsString(type)) {
        snprintf(err, errlen, "text message must be a JSON object with a string \"type\"");
        goto done;
    }
    if (strcmp(type->valuestring, "ping") == 0) {
        out->type = FW_CMSG_PING;
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "client_ts_us");
        if (!ts) {
            snprintf(err, errlen, "ping: \"client_ts_us\" (integer microseconds) is required");
            goto done;
        }
        if (int_field(ts, -9007199254740991.0, 9007199254740991.0, &v, err, errlen))
            goto done;
        out->client_ts_us = v;
        rc = 0;
        goto done;
    }
    if (strcmp(type->valuestring, "config") != 0) {
        snprintf(err, errlen, "unknown message type \"%.40s\"", type->valuestring);
        goto done;
    }
    out->type = FW_CMSG_CONFIG;
    out->policy = -1;
    out->max_age_ms = -1;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "type") == 0)
            continue;
        if (strcmp(it->string, "top_k") == 0) {
            if (int_field(it, 1, FW_TOPK_MAX, &v, err, errlen))
                goto done;
            out->top_k = (int)v;
        } else if (strcmp(it->string, "max_age_ms") == 0) {
            if (int_field(it, 0, 3600000, &v, err, errlen))
                goto done;
            out->max_age_ms = (int)v;
        } else if (strcmp(it->string, "policy") == 0) {
            if (cJSON_IsString(it) && strcmp(it->valuestring, "realtime") == 0) {
                out->policy = FW_POLICY_REALTIME;
            } else if (cJSON_IsString(it) && strcmp(it->valuestring, "lossless") == 0) {
                out->policy = FW_POLICY_LOSSLESS;
            } else {
                snprintf(err, errlen, "\"policy\" must be \"realtime\" or \"lossless\"");
                goto done;
            }
        } else {
            snprintf(err, errlen, "config: unknown field \"%.40s\"", it->string);
            goto done;
        }
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}
