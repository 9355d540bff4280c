/* fw_ws.c - WebSocket sessions: reassemble messages, parse frames, hand jobs to the pipeline,
 * and send each session its answers. Runs on the lws service thread only.
 *
 * Accounting: every binary message that completes on a live session is answered exactly once,
 * either here (frame header or payload errors, server overload) or by the pipeline (result or
 * decode/inference error). A session's `pending` answers (in the pipeline plus queued to send) are
 * bounded: at max_inflight the server stops reading the socket until answers have gone out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_frame.h"
#include "fw_messages.h"
#include "fw_server_priv.h"
#include "fw_time.h"

#define RX_INITIAL_BYTES 65536

/* Per-session state, allocated by lws. Service thread only. */
struct fw_pss {
    struct lws *wsi;
    int registered; /* in the session table under (slot, gen) */
    uint32_t slot, gen;
    uint64_t session_id;
    int top_k;

    uint8_t *rx; /* message being reassembled */
    size_t rx_len, rx_cap;
    int rx_active, rx_binary;

    uint64_t next_frame_no; /* numbers bare JPEGs */
    int inflight;           /* jobs in the pipeline */
    fw_outmsg *out_head, *out_tail;
    int out_len;   /* answers queued to send */
    int rx_paused; /* lws_rx_flow_control(wsi, 0) in force */
    int reject;    /* close with 1008 "server full" at the first WRITEABLE */
};

size_t fw_ws_session_size(void)
{
    return sizeof(struct fw_pss);
}

static void update_flow(struct fw_server *s, struct fw_pss *pss)
{
    int pending = pss->inflight + pss->out_len;
    if (!pss->rx_paused && pending >= s->cfg.max_inflight) {
        pss->rx_paused = 1;
        lws_rx_flow_control(pss->wsi, 0);
    } else if (pss->rx_paused && pending < s->cfg.max_inflight) {
        pss->rx_paused = 0;
        lws_rx_flow_control(pss->wsi, 1);
    }
}

static void enqueue(struct fw_server *s, struct fw_pss *pss, fw_outmsg *m)
{
    if (!m) {
        lwsl_err("framewire: out of memory: a message to session %llu was lost\n",
                 (unsigned long long)pss->session_id);
        return;
    }
    m->next = NULL;
    if (pss->out_tail)
        pss->out_tail->next = m;
    else
        pss->out_head = m;
    pss->out_tail = m;
    pss->out_len++;
    update_flow(s, pss);
    lws_callback_on_writable(pss->wsi);
}

static void answer_error(struct fw_server *s, struct fw_pss *pss, int has_id, uint64_t id,
                         fw_err code, const char *msg)
{
    fw_outmsg *m = fw_msg_error(has_id, id, code, msg);
    if (m)
        m->is_result = has_id;
    enqueue(s, pss, m);
}

static void handle_binary(struct fw_server *s, struct fw_pss *pss)
{
    fw_frame f;
    fw_err e = fw_frame_parse(pss->rx, pss->rx_len, &f);
    uint64_t id = f.has_header ? f.frame_id : ++pss->next_frame_no;
    s->frames_received++;
    fw_recorder_frame(s->rec, pss->session_id, id, f.capture_us, fw_wall_us(), pss->rx,
                      pss->rx_len);
    if (e != FW_OK) {
        const char *why = e == FW_ERR_EMPTY_FRAME ? "the frame holds no JPEG bytes"
                          : e == FW_ERR_BAD_FRAME_HEADER
                              ? "frame header: wrong magic, version or length"
                              : "payload is not a JPEG (no FF D8 start)";
        answer_error(s, pss, 1, id, e, why);
        return;
    }
    fw_job *job = calloc(1, sizeof *job);
    if (!job) {
        answer_error(s, pss, 1, id, FW_ERR_INTERNAL, "out of memory");
        return;
    }
    job->slot = pss->slot;
    job->gen = pss->gen;
    job->frame_id = id;
    job->capture_us = f.capture_us;
    job->top_k = pss->top_k;
    job->arrival_us = fw_now_us();
    job->jpeg_len = f.jpeg_len;
    /* The job takes the reassembly buffer: no copy of the JPEG. */
    job->jpeg = f.jpeg;
    job->buf = pss->rx;
    pss->rx = NULL;
    pss->rx_cap = 0;
    if (fw_pipeline_submit(s->pipe, job) != FW_OK) {
        fw_job_free(job);
        answer_error(s, pss, 1, id, FW_ERR_OVERLOADED, "the server's decode queue is full");
        return;
    }
    pss->inflight++;
    update_flow(s, pss);
}

static void handle_text(struct fw_server *s, struct fw_pss *pss)
{
    fw_client_msg cm;
    char err[160];
    fw_recorder_client_text(s->rec, pss->session_id, fw_wall_us(), pss->rx, pss->rx_len);
    if (fw_client_msg_parse((const char *)pss->rx, pss->rx_len, &cm, err, sizeof err) != 0) {
        answer_error(s, pss, 0, 0, FW_ERR_BAD_MESSAGE, err);
        return;
    }
    if (cm.type == FW_CMSG_CONFIG) {
        if (cm.top_k > 0)
            pss->top_k = cm.top_k;
        enqueue(s, pss, fw_msg_config(pss->top_k));
    }
}

/* Appends a chunk to the message being reassembled. Returns -1 (after setting a close reason)
 * when the connection must close. */
static int receive_chunk(struct fw_server *s, struct fw_pss *pss, const void *in, size_t len)
{
    if (!pss->rx_active) {
        pss->rx_active = 1;
        pss->rx_len = 0;
        pss->rx_binary = lws_frame_is_binary(pss->wsi);
    }
    size_t cap = pss->rx_binary ? s->cfg.max_message_bytes : FW_MAX_TEXT_BYTES;
    if (len > cap - pss->rx_len) {
        static const char why[] = "message too large";
        lws_close_reason(pss->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
                         sizeof why - 1);
        return -1;
    }
    if (pss->rx_len + len > pss->rx_cap || !pss->rx) {
        size_t ncap = pss->rx_cap ? pss->rx_cap : RX_INITIAL_BYTES;
        while (ncap < pss->rx_len + len)
            ncap *= 2;
        if (ncap > cap)
            ncap = cap;
        uint8_t *n = realloc(pss->rx, ncap ? ncap : 1);
        if (!n) {
            static const char why[] = "out of memory";
            lws_close_reason(pss->wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, (unsigned char *)why,
                             sizeof why - 1);
            return -1;
        }
        pss->rx = n;
        pss->rx_cap = ncap;
    }
    if (len)
        memcpy(pss->rx + pss->rx_len, in, len);
    pss->rx_len += len;
    return 0;
}

/* Moves every answer the pipeline has finished to its session's send queue. */
static void deliver_results(struct fw_server *s)
{
    fw_outmsg *m = fw_pipeline_take_results(s->pipe);
    while (m) {
        fw_outmsg *next = m->next;
        struct fw_pss *pss = fw_sessions_get(s->sessions, m->slot, m->gen);
        if (!pss) {
            fw_outmsg_free(m); /* its session has closed */
        } else {
            pss->inflight--;
            enqueue(s, pss, m);
        }
        m = next;
    }
}

static void close_with(struct lws *wsi, enum lws_close_status code, const char *why)
{
    lws_close_reason(wsi, code, (unsigned char *)why, strlen(why));
}

int fw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct fw_pss *pss = user;
    struct fw_server *s = fw_server_of(wsi);

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: {
        memset(pss, 0, sizeof *pss);
        pss->wsi = wsi;
        pss->top_k = s->cfg.top_k;
        pss->session_id = ++s->next_session_id;
        if (fw_sessions_add(s->sessions, pss, &pss->slot, &pss->gen) != 0) {
            /* A close reason is sent only from WRITEABLE: returning -1 here would close with
             * 1002. */
            pss->reject = 1;
            lws_callback_on_writable(wsi);
            break;
        }
        pss->registered = 1;
        fw_recorder_session_open(s->rec, pss->session_id);
        const fw_model_info *mi = fw_pipeline_model(s->pipe);
        fw_hello_info h = {
            .server_version = "framewire " FW_VERSION,
            .model_name = mi->name,
            .input_width = mi->input_width,
            .input_height = mi->input_height,
            .num_labels = mi->num_labels,
            .output_kind = mi->output_kind,
            .device = mi->device,
            .session_id = pss->session_id,
            .top_k = pss->top_k,
            .max_message_bytes = s->cfg.max_message_bytes,
            .max_pixels = s->cfg.pipeline.limits.max_pixels,
            .max_inflight = s->cfg.max_inflight,
        };
        enqueue(s, pss, fw_msg_hello(&h));
        break;
    }

    case LWS_CALLBACK_RECEIVE:
        if (pss->reject)
            break;
        if (receive_chunk(s, pss, in, len) != 0)
            return -1;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0)
            break;
        pss->rx_active = 0;
        if (pss->rx_binary)
            handle_binary(s, pss);
        else
            handle_text(s, pss);
        pss->rx_len = 0;
        /* A client that never reads its answers must not make the server buffer without end:
         * flow control stops reading at max_inflight; past four times that, give up on it. */
        if (pss->inflight + pss->out_len > 4 * s->cfg.max_inflight + 16) {
            close_with(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, "client is not reading answers");
            return -1;
        }
        break;

    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (pss->reject) {
            close_with(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, "server full, try again later");
            return -1;
        }
        fw_outmsg *m = pss->out_head;
        if (!m)
            break;
        pss->out_head = m->next;
        if (!pss->out_head)
            pss->out_tail = NULL;
        pss->out_len--;
        int n = lws_write(wsi, m->payload, m->len, LWS_WRITE_TEXT);
        int ok = n >= (int)m->len;
        if (ok && m->is_result)
            s->answers_sent++;
        if (ok) /* a server's frames are not masked: the payload is intact after lws_write */
            fw_recorder_server_text(s->rec, pss->session_id, fw_wall_us(), m->payload, m->len);
        fw_outmsg_free(m);
        if (!ok)
            return -1;
        update_flow(s, pss);
        if (pss->out_head)
            lws_callback_on_writable(wsi);
        break;
    }

    case LWS_CALLBACK_CLOSED:
        if (pss->registered) {
            fw_sessions_remove(s->sessions, pss->slot);
            fw_recorder_session_close(s->rec, pss->session_id);
        }
        pss->registered = 0;
        while (pss->out_head) {
            fw_outmsg *m = pss->out_head;
            pss->out_head = m->next;
            fw_outmsg_free(m);
        }
        pss->out_tail = NULL;
        free(pss->rx);
        pss->rx = NULL;
        break;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Wakes coalesce and come once per protocol: drain everything. */
        if (s && s->pipe && s->sessions)
            deliver_results(s);
        break;

    default:
        break;
    }
    return 0;
}
