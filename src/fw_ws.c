/* fw_ws.c - WebSocket sessions: reassemble messages, parse frames, apply the session's policy,
 * hand jobs to the pipeline, answer config/ping, send periodic stats, and send each session its
 * answers. Runs on the lws service thread only.
 *
 * Accounting: every binary message that completes on a live session is answered exactly once:
 * here (frame header or payload errors, overload, superseded, stale on arrival, shutdown) or by
 * the pipeline (result, decode/inference error, stale at decode). Memory per session is bounded:
 * in lossless mode frames in the pipeline plus unsent answers reach max_inflight and the server
 * stops reading the socket until answers have gone out (that is what makes it lossless); in
 * realtime mode newer frames supersede waiting ones, and only unsent answers (a client that does
 * not read) pause the socket (see pending()). A lossless frame that finds the pipeline's queue
 * (all sessions together) full is not refused: the session holds it, stops reading, and hands it
 * over again when answers come back (fw_ws_retry_held), so lossless means no drops and no
 * `overloaded` errors, only back-pressure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_buf.h"
#include "fw_frame.h"
#include "fw_messages.h"
#include "fw_server_priv.h"
#include "fw_stats.h"
#include "fw_time.h"

/* Per-session state, allocated by lws. Service thread only. */
struct fw_pss {
    fw_endpoint ep; /* first: the session table points here */
    uint64_t session_id;
    int top_k;
    fw_policy policy;
    int max_age_ms;

    fw_buf rx; /* message being reassembled */
    int rx_active, rx_binary;

    uint64_t next_frame_no; /* numbers bare JPEGs */
    uint64_t *ids;          /* frame ids in the pipeline (ep.inflight of them) */
    int ids_cap;
    fw_outmsg *out_head, *out_tail;
    int out_len;    /* messages queued to send */
    int rx_paused;  /* lws_rx_flow_control(wsi, 0) in force */
    fw_job *held;   /* lossless: a frame the full queue could not take yet (counted in ids) */
    int close_code; /* close with this at the next WRITEABLE (0: none) */
    char close_reason[64];

    /* Freshness: the smallest (server arrival wall clock - client capture stamp) seen, an estimate
     * of the clock offset plus the fastest uplink; a frame's age is measured beyond it. */
    int have_offset;
    int64_t min_offset_us;

    fw_stats stats;
    lws_sorted_usec_list_t stats_sul;
    int stats_scheduled;
};

size_t fw_ws_session_size(void)
{
    return sizeof(struct fw_pss);
}

static struct fw_pss *pss_of(fw_endpoint *ep)
{
    return (struct fw_pss *)ep;
}

/* What counts against max_inflight. Lossless: frames in the pipeline plus answers not yet sent,
 * so a fast sender is held back by TCP. Realtime: only answers not yet sent (a client that does
 * not read); frames in the pipeline are bounded by superseding (one waiting per session) and the
 * ring, and pausing for them would make frames wait in socket buffers, unseen and unsuperseded:
 * exactly the growing latency realtime mode exists to avoid. */
static int pending(const struct fw_pss *pss)
{
    return pss->policy == FW_POLICY_LOSSLESS ? pss->ep.inflight + pss->out_len : pss->out_len;
}

static void update_flow(struct fw_server *s, struct fw_pss *pss)
{
    if (pss->close_code)
        return; /* closing: reads and discards */
    int pending_now = pending(pss);
    if (!pss->rx_paused && (pending_now >= s->cfg.max_inflight || pss->held)) {
        pss->rx_paused = 1;
        lws_rx_flow_control(pss->ep.wsi, 0);
    } else if (pss->rx_paused && pending_now < s->cfg.max_inflight && !pss->held) {
        pss->rx_paused = 0;
        lws_rx_flow_control(pss->ep.wsi, 1);
    }
}

static void enqueue(struct fw_server *s, struct fw_pss *pss, fw_outmsg *m)
{
    if (!m) {
        lwsl_err("framewire: out of memory: a message to session %llu was lost\n",
                 (unsigned long long)pss->session_id);
        return;
    }
    if (m->kind != FW_ANS_NONE)
        fw_stats_answer(&pss->stats, m->kind, m->timing.total_us);
    m->next = NULL;
    if (pss->out_tail)
        pss->out_tail->next = m;
    else
        pss->out_head = m;
    pss->out_tail = m;
    pss->out_len++;
    update_flow(s, pss);
    lws_callback_on_writable(pss->ep.wsi);
}

/* An answer made here on the service thread: counted in the metrics, then queued. */
static void answer(struct fw_server *s, struct fw_pss *pss, fw_outmsg *m)
{
    if (m)
        fw_metrics_answer(&s->metrics, m);
    enqueue(s, pss, m);
}

static int ids_add(struct fw_pss *pss, uint64_t id)
{
    if (pss->ep.inflight >= pss->ids_cap) {
        int ncap = pss->ids_cap ? 2 * pss->ids_cap : 16;
        uint64_t *n = realloc(pss->ids, sizeof *n * (size_t)ncap);
        if (!n)
            return -1;
        pss->ids = n;
        pss->ids_cap = ncap;
    }
    pss->ids[pss->ep.inflight++] = id;
    return 0;
}

/* Removes one instance of id; 0 when it was not in flight. */
static int ids_remove(struct fw_pss *pss, uint64_t id)
{
    for (int i = 0; i < pss->ep.inflight; i++)
        if (pss->ids[i] == id) {
            pss->ids[i] = pss->ids[--pss->ep.inflight];
            return 1;
        }
    return 0;
}

void fw_ws_deliver(struct fw_server *s, fw_endpoint *ep, fw_outmsg *m)
{
    struct fw_pss *pss = pss_of(ep);
    if (!ids_remove(pss, m->frame_id) || pss->close_code) {
        /* Already answered (dropped/shutdown when the drain timed out) or closing. */
        fw_outmsg_free(m);
        return;
    }
    enqueue(s, pss, m);
}

int fw_ws_idle(const fw_endpoint *ep)
{
    const struct fw_pss *pss = (const struct fw_pss *)ep;
    return ep->inflight == 0 && pss->out_len == 0;
}

void fw_ws_close_later(fw_endpoint *ep, int code, const char *reason)
{
    struct fw_pss *pss = pss_of(ep);
    if (pss->close_code)
        return;
    pss->close_code = code;
    snprintf(pss->close_reason, sizeof pss->close_reason, "%s", reason);
    /* Closing: send what is queued, then the close frame. Keep reading (and discarding) what
     * the client still sends, so its close reply arrives and the socket closes cleanly instead
     * of being reset with unread data. */
    if (pss->rx_paused) {
        pss->rx_paused = 0;
        lws_rx_flow_control(ep->wsi, 1);
    }
    lws_callback_on_writable(ep->wsi);
}

/* Frees the held frame, if any (its id stays in ids: whoever calls this answers it). */
static void drop_held(struct fw_server *s, struct fw_pss *pss)
{
    if (!pss->held)
        return;
    fw_job_free(pss->held);
    pss->held = NULL;
    s->held_sessions--;
}

int fw_ws_retry_held(struct fw_server *s, fw_endpoint *ep)
{
    struct fw_pss *pss = pss_of(ep);
    if (!pss->held)
        return 0;
    fw_job *none = NULL;
    if (fw_pipeline_submit(s->pipe, pss->held, 0, &none) != FW_OK)
        return -1;
    pss->held = NULL;
    s->held_sessions--;
    update_flow(s, pss);
    return 0;
}

void fw_ws_abandon_inflight(struct fw_server *s, fw_endpoint *ep)
{
    struct fw_pss *pss = pss_of(ep);
    drop_held(s, pss);
    while (ep->inflight > 0) {
        uint64_t id = pss->ids[--ep->inflight];
        answer(s, pss, fw_msg_dropped(id, FW_ANS_DROPPED_SHUTDOWN));
    }
}

static void answer_error(struct fw_server *s, struct fw_pss *pss, int has_id, uint64_t id,
                         fw_err code, const char *msg)
{
    answer(s, pss, fw_msg_error(has_id, id, code, msg));
}

/* The monotonic time after which a frame is stale, or 0 for never (see struct fw_pss). */
static int64_t stale_at(struct fw_pss *pss, uint64_t capture_us, int64_t arrival_us,
                        int64_t arrival_wall_us)
{
    if (pss->policy != FW_POLICY_REALTIME || pss->max_age_ms <= 0)
        return 0;
    int64_t age = 0;
    /* Stamps past 2^53 us (what a JavaScript number holds exactly; the year 2255) cannot be a
     * clock reading: such a frame's age is unknown, and the subtraction below cannot overflow. */
    if (capture_us && capture_us <= 9007199254740991ull) {
        int64_t delta = arrival_wall_us - (int64_t)capture_us;
        if (!pss->have_offset || delta < pss->min_offset_us) {
            pss->min_offset_us = delta;
            pss->have_offset = 1;
        }
        age = delta - pss->min_offset_us;
    }
    return arrival_us + (int64_t)pss->max_age_ms * 1000 - age;
}

static void handle_binary(struct fw_server *s, struct fw_pss *pss)
{
    fw_frame f;
    fw_err e = fw_frame_parse(pss->rx.data, pss->rx.len, &f);
    uint64_t id = f.has_header ? f.frame_id : ++pss->next_frame_no;
    s->metrics.frames_received++;
    fw_stats_frame(&pss->stats);
    fw_recorder_frame(s->rec, pss->session_id, id, f.capture_us, fw_wall_us(), pss->rx.data,
                      pss->rx.len);
    if (e != FW_OK) {
        const char *why = e == FW_ERR_EMPTY_FRAME ? "the frame holds no JPEG bytes"
                          : e == FW_ERR_BAD_FRAME_HEADER
                              ? "frame header: wrong magic, version or length"
                              : "payload is not a JPEG (no FF D8 start)";
        answer_error(s, pss, 1, id, e, why);
        return;
    }
    if (s->draining) {
        answer(s, pss, fw_msg_dropped(id, FW_ANS_DROPPED_SHUTDOWN));
        return;
    }
    int64_t now = fw_now_us(), wall = fw_wall_us();
    int64_t deadline = stale_at(pss, f.capture_us, now, wall);
    if (deadline && deadline <= now) {
        answer(s, pss, fw_msg_dropped(id, FW_ANS_DROPPED_STALE));
        return;
    }
    fw_job *job = calloc(1, sizeof *job);
    if (!job || ids_add(pss, id) != 0) {
        free(job);
        answer_error(s, pss, 1, id, FW_ERR_INTERNAL, "out of memory");
        return;
    }
    job->slot = pss->ep.slot;
    job->gen = pss->ep.gen;
    job->frame_id = id;
    job->capture_us = f.capture_us;
    job->top_k = pss->top_k;
    job->arrival_us = now;
    job->arrival_wall_us = wall;
    job->stale_at_us = deadline;
    job->jpeg_len = f.jpeg_len;
    /* The job takes the reassembly buffer: no copy of the JPEG. */
    job->jpeg = f.jpeg;
    job->buf = fw_buf_take(&pss->rx);
    fw_job *old = NULL;
    if (fw_pipeline_submit(s->pipe, job, pss->policy == FW_POLICY_REALTIME, &old) != FW_OK) {
        if (pss->policy == FW_POLICY_LOSSLESS && !pss->held) {
            /* Back-pressure instead of an error: hold it, stop reading, retry on answers. */
            pss->held = job;
            s->held_sessions++;
            update_flow(s, pss);
            return;
        }
        ids_remove(pss, id);
        fw_job_free(job);
        answer_error(s, pss, 1, id, FW_ERR_OVERLOADED, "the server's decode queue is full");
        return;
    }
    if (old) {
        /* Latest frame wins: the one it replaced is answered here. */
        ids_remove(pss, old->frame_id);
        answer(s, pss, fw_msg_dropped(old->frame_id, FW_ANS_DROPPED_SUPERSEDED));
        fw_job_free(old);
    }
    update_flow(s, pss);
}

static void handle_text(struct fw_server *s, struct fw_pss *pss)
{
    int64_t rx_wall = fw_wall_us();
    fw_client_msg cm;
    char err[160];
    fw_recorder_client_text(s->rec, pss->session_id, rx_wall, pss->rx.data, pss->rx.len);
    if (fw_client_msg_parse((const char *)pss->rx.data, pss->rx.len, &cm, err, sizeof err) != 0) {
        answer_error(s, pss, 0, 0, FW_ERR_BAD_MESSAGE, err);
        return;
    }
    if (cm.type == FW_CMSG_CONFIG) {
        if (cm.top_k > 0)
            pss->top_k = cm.top_k;
        if (cm.policy >= 0)
            pss->policy = (fw_policy)cm.policy;
        if (cm.max_age_ms >= 0)
            pss->max_age_ms = cm.max_age_ms;
        enqueue(s, pss, fw_msg_config(pss->top_k, pss->policy, pss->max_age_ms));
        update_flow(s, pss); /* the policy decides what counts */
    } else if (cm.type == FW_CMSG_PING) {
        int64_t delta = rx_wall - cm.client_ts_us;
        if (!pss->have_offset || delta < pss->min_offset_us) {
            pss->min_offset_us = delta;
            pss->have_offset = 1;
        }
        enqueue(s, pss, fw_msg_pong(cm.client_ts_us, rx_wall, fw_wall_us()));
    }
}

/* Appends a chunk to the message being reassembled. Returns -1 (after setting a close reason)
 * when the connection must close. */
static int receive_chunk(struct fw_server *s, struct fw_pss *pss, const void *in, size_t len)
{
    if (!pss->rx_active) {
        pss->rx_active = 1;
        pss->rx.len = 0;
        pss->rx_binary = lws_frame_is_binary(pss->ep.wsi);
    }
    size_t cap = pss->rx_binary ? s->cfg.max_message_bytes : FW_MAX_TEXT_BYTES;
    int rc = fw_buf_append(&pss->rx, in, len, cap);
    if (rc == -1) {
        static const char why[] = "message too large";
        lws_close_reason(pss->ep.wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
                         sizeof why - 1);
        return -1;
    }
    if (rc != 0) {
        static const char why[] = "out of memory";
        lws_close_reason(pss->ep.wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, (unsigned char *)why,
                         sizeof why - 1);
        return -1;
    }
    return 0;
}

static void stats_tick(lws_sorted_usec_list_t *sul)
{
    struct fw_pss *pss = lws_container_of(sul, struct fw_pss, stats_sul);
    struct fw_server *s = fw_server_of(pss->ep.wsi);
    /* A client that does not read its answers gets no more stats until it does (they would
     * pile up while its socket is paused); the next one covers the time since the last. */
    if (pss->out_len < s->cfg.max_inflight) {
        fw_stats_info st;
        fw_stats_take(&pss->stats, fw_now_us(), &st);
        enqueue(s, pss, fw_msg_stats(&st));
    }
    lws_sul_schedule(lws_get_context(pss->ep.wsi), 0, &pss->stats_sul, stats_tick,
                     (lws_usec_t)s->cfg.stats_interval_ms * 1000);
}

int fw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct fw_pss *pss = user;
    struct fw_server *s = fw_server_of(wsi);

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* Before the handshake completes: refusing here answers the upgrade with an error. */
        if (s->draining || !fw_server_origin_ok(s, wsi) || !fw_server_token_ok(s, wsi))
            return 1;
        break;

    case LWS_CALLBACK_ESTABLISHED: {
        memset(pss, 0, sizeof *pss);
        pss->top_k = s->cfg.top_k;
        pss->policy = (fw_policy)s->cfg.policy;
        pss->max_age_ms = s->cfg.max_age_ms;
        pss->session_id = ++s->next_session_id;
        fw_stats_init(&pss->stats, fw_now_us());
        s->metrics.connections_total++;
        if (fw_server_register(s, &pss->ep, FW_EP_WS, wsi) != 0) {
            pss->ep.wsi = wsi;
            /* A close reason is sent only from WRITEABLE: returning -1 here would close with
             * 1002. */
            fw_ws_close_later(&pss->ep, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                              "server full, try again later");
            break;
        }
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
            .policy = pss->policy,
            .max_age_ms = pss->max_age_ms,
            .stats_interval_ms = s->cfg.stats_interval_ms,
            .max_message_bytes = s->cfg.max_message_bytes,
            .max_pixels = s->cfg.pipeline.limits.max_pixels,
            .max_inflight = s->cfg.max_inflight,
        };
        enqueue(s, pss, fw_msg_hello(&h));
        if (s->cfg.stats_interval_ms > 0) {
            lws_sul_schedule(lws_get_context(wsi), 0, &pss->stats_sul, stats_tick,
                             (lws_usec_t)s->cfg.stats_interval_ms * 1000);
            pss->stats_scheduled = 1;
        }
        break;
    }

    case LWS_CALLBACK_RECEIVE:
        if (pss->close_code)
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
        pss->rx.len = 0;
        /* A client that never reads its answers must not make the server buffer without end:
         * flow control stops reading at max_inflight; past four times that, give up on it. */
        if (pending(pss) > 4 * s->cfg.max_inflight + 16) {
            static const char why[] = "client is not reading answers";
            lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)why,
                             sizeof why - 1);
            return -1;
        }
        break;

    case LWS_CALLBACK_SERVER_WRITEABLE: {
        fw_outmsg *m = pss->out_head;
        if (!m) {
            if (pss->close_code) {
                lws_close_reason(wsi, (enum lws_close_status)pss->close_code,
                                 (unsigned char *)pss->close_reason, strlen(pss->close_reason));
                return -1;
            }
            break;
        }
        pss->out_head = m->next;
        if (!pss->out_head)
            pss->out_tail = NULL;
        pss->out_len--;
        int n = lws_write(wsi, m->payload, m->len, LWS_WRITE_TEXT);
        int ok = n >= (int)m->len;
        if (ok) /* a server's frames are not masked: the payload is intact after lws_write */
            fw_recorder_server_text(s->rec, pss->session_id, fw_wall_us(), m->payload, m->len);
        fw_outmsg_free(m);
        if (!ok)
            return -1;
        if (!pss->close_code)
            update_flow(s, pss);
        if (pss->out_head || pss->close_code)
            lws_callback_on_writable(wsi);
        break;
    }

    case LWS_CALLBACK_CLOSED:
        if (pss->stats_scheduled)
            lws_sul_cancel(&pss->stats_sul);
        if (pss->ep.registered && s->pipe)
            fw_pipeline_cancel_session(s->pipe, pss->ep.slot, pss->ep.gen);
        drop_held(s, pss);
        if (pss->ep.registered)
            fw_recorder_session_close(s->rec, pss->session_id);
        fw_server_unregister(s, &pss->ep);
        while (pss->out_head) {
            fw_outmsg *m = pss->out_head;
            pss->out_head = m->next;
            fw_outmsg_free(m);
        }
        pss->out_tail = NULL;
        fw_buf_free(&pss->rx);
        free(pss->ids);
        pss->ids = NULL;
        break;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Wakes coalesce and come once per protocol: drain everything. */
        if (s && s->pipe && s->sessions)
            fw_server_deliver(s);
        break;

    default:
        break;
    }
    return 0;
}
