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
    return finish(root);
}

static double round6(float p)
{
    return round((double)p * 1e6) / 1e6;
}

fw_outmsg *fw_msg_result(uint64_t frame_id, uint64_t capture_us, const fw_class_score *scores,
                         int n, const char *const *labels, const fw_timing *t)
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
    return finish(root);
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
    return finish(root);
}

fw_outmsg *fw_msg_config(int top_k)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "type", "config");
    cJSON_AddNumberToObject(root, "top_k", top_k);
    return finish(root);
}

int fw_client_msg_parse(const char *text, size_t len, fw_client_msg *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(text, len);
    int rc = -1;
    if (!root) {
        snprintf(err, errlen, "text message is not valid JSON");
        return -1;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!cJSON_IsObject(root) || !cJSON_IsString(type)) {
        snprintf(err, errlen, "text message must be a JSON object with a string \"type\"");
        goto done;
    }
    if (strcmp(type->valuestring, "config") != 0) {
        snprintf(err, errlen, "unknown message type \"%.40s\"", type->valuestring);
        goto done;
    }
    out->type = FW_CMSG_CONFIG;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "type") == 0)
            continue;
        if (strcmp(it->string, "top_k") == 0) {
            double k = it->valuedouble;
            if (!cJSON_IsNumber(it) || k != floor(k) || k < 1 || k > FW_TOPK_MAX) {
                snprintf(err, errlen, "config: \"top_k\" must be an integer from 1 to %d",
                         FW_TOPK_MAX);
                goto done;
            }
            out->top_k = (int)k;
            continue;
        }
        snprintf(err, errlen, "config: unknown field \"%.40s\"", it->string);
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}
