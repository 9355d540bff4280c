/* fw_client_pool.c - many framewire WebSocket connections on one lws context (see
 * fw_client_pool.h). Everything here runs on the pool owner's thread. */
#include "fw_client_pool.h"

#include "fw_buf.h"

#include <inttypes.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_frame.h"
#include "fw_messages.h"
#include "fw_time.h"

#define MAX_RX_MESSAGE (4u << 20)

enum kind { TX_TEXT, TX_PING, TX_FRAME };

struct tx {
    struct tx *next;
    enum kind kind;
    uint64_t frame_id, capture_us;
    const uint8_t *data; /* TX_FRAME: the caller's JPEG; TX_TEXT: text[] */
    size_t len;
    void (*release)(void *);
    void *arg;
    char text[]; /* TX_TEXT */
};

enum state { CONNECTING, OPEN, CLOSED };

struct conn {
    fw_pool *pool;
    int idx;
    struct lws *wsi;
    enum state state;
    int close_code;
    int want_close;
    struct tx *head, *tail;
    size_t backlog;
    uint8_t *scratch; /* LWS_PRE + the message being written (lws masks it in place) */
    size_t scratch_cap;
    fw_buf rx; /* message being reassembled */
};

struct fw_pool {
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    char host[256];
    int port;
    fw_pool_callbacks cb;
    void *user;
    struct conn **conns;
    int nconns, cap;
    lws_sorted_usec_list_t sul; /* bounds the wait of fw_pool_service */
    int rearmed;
};

static void tx_free(struct tx *t)
{
    if (t->kind == TX_FRAME && t->release)
        t->release(t->arg);
    free(t);
}

static void drop_queue(struct conn *c)
{
    while (c->head) {
        struct tx *t = c->head;
        c->head = t->next;
        tx_free(t);
    }
    c->tail = NULL;
    c->backlog = 0;
}

static int ensure_scratch(struct conn *c, size_t len)
{
    if (LWS_PRE + len <= c->scratch_cap)
        return 0;
    size_t n = c->scratch_cap ? c->scratch_cap : 65536;
    while (n < LWS_PRE + len)
        n *= 2;
    uint8_t *b = realloc(c->scratch, n);
    if (!b)
        return -1;
    c->scratch = b;
    c->scratch_cap = n;
    return 0;
}

/* Writes the head of c's queue. 0, or -1 when the connection must close. */
static int write_one(struct conn *c)
{
    struct tx *t = c->head;
    fw_pool *p = c->pool;
    if (!t)
        return 0;
    c->head = t->next;
    if (!c->head)
        c->tail = NULL;
    c->backlog--;

    size_t len;
    int binary = 0;
    uint64_t capture = t->capture_us;
    if (t->kind == TX_FRAME) {
        len = FW_FRAME_HEADER_LEN + t->len;
        binary = 1;
    } else if (t->kind == TX_PING) {
        len = 80;
    } else {
        len = t->len;
    }
    if (ensure_scratch(c, len) != 0) {
        tx_free(t);
        return -1;
    }
    uint8_t *buf = c->scratch + LWS_PRE;
    if (t->kind == TX_FRAME) {
        if (capture == FW_POOL_STAMP_AT_SEND)
            capture = (uint64_t)fw_wall_us();
        fw_frame_write_header(buf, t->frame_id, capture, 0);
        memcpy(buf + FW_FRAME_HEADER_LEN, t->data, t->len);
    } else if (t->kind == TX_PING) {
        len = (size_t)snprintf((char *)buf, 80, "{\"type\":\"ping\",\"client_ts_us\":%" PRId64 "}",
                               fw_wall_us());
    } else {
        memcpy(buf, t->text, len);
    }
    int n = lws_write(c->wsi, buf, len, binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    if (n < (int)len) {
        tx_free(t);
        return -1;
    }
    if (t->kind == TX_FRAME && p->cb.on_frame_sent)
        p->cb.on_frame_sent(p->user, c->idx, t->frame_id, capture, fw_now_us(), fw_wall_us());
    tx_free(t);
    return 0;
}

static void closed(struct conn *c)
{
    fw_pool *p = c->pool;
    int was_open = c->state == OPEN;
    c->state = CLOSED;
    c->wsi = NULL;
    drop_queue(c);
    if (was_open && p->cb.on_close)
        p->cb.on_close(p->user, c->idx, c->close_code);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    struct conn *c = lws_get_opaque_user_data(wsi);
    if (!c)
        return 0;
    fw_pool *p = c->pool;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c->state == CONNECTING) {
            c->state = CLOSED;
            c->wsi = NULL;
            drop_queue(c);
            if (p->cb.on_connect)
                p->cb.on_connect(p->user, c->idx, 0,
                                 in && len ? (const char *)in : "connection failed");
        } else {
            closed(c);
        }
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->state = OPEN;
        if (p->cb.on_connect)
            p->cb.on_connect(p->user, c->idx, 1, NULL);
        if (c->head && c->wsi)
            lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (fw_buf_append(&c->rx, in, len, MAX_RX_MESSAGE) != 0)
            return -1;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
            break;
        int64_t mono = fw_now_us(), wall = fw_wall_us();
        size_t n = c->rx.len;
        c->rx.len = 0; /* the buffer is kept for the next message */
        if (p->cb.on_text && !lws_frame_is_binary(wsi))
            p->cb.on_text(p->user, c->idx, (const char *)c->rx.data, n, mono, wall);
        break;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c->want_close) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
            return -1;
        }
        if (write_one(c) != 0)
            return -1;
        if (c->head)
            lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2)
            c->close_code = ((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1];
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        closed(c);
        break;
    default:
        break;
    }
    return 0;
}

fw_pool *fw_pool_new(const char *host, int port, const fw_pool_callbacks *cb, void *user, char *err,
                     size_t errlen)
{
    fw_pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(p->host, sizeof p->host, "%s", host);
    p->port = port;
    if (cb)
        p->cb = *cb;
    p->user = user;
    p->protocols[0] = (struct lws_protocols){FW_PROTOCOL_NAME, callback, 0, 65536, 0, NULL, 0};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = p->protocols;
    info.user = p;
    info.fd_limit_per_thread = 4096;
    p->ctx = lws_create_context(&info);
    if (!p->ctx) {
        snprintf(err, errlen, "cannot create an lws client context");
        free(p);
        return NULL;
    }
    return p;
}

int fw_pool_connect(fw_pool *p, char *err, size_t errlen)
{
    if (p->nconns == p->cap) {
        int ncap = p->cap ? p->cap * 2 : 8;
        struct conn **n = realloc(p->conns, (size_t)ncap * sizeof *n);
        if (!n) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        p->conns = n;
        p->cap = ncap;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->pool = p;
    c->idx = p->nconns;
    c->state = CONNECTING;
    p->conns[p->nconns++] = c;

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = p->ctx;
    ci.address = p->host;
    ci.port = p->port;
    ci.path = "/";
    ci.host = p->host;
    ci.origin = p->host;
    ci.protocol = FW_PROTOCOL_NAME;
    ci.pwsi = &c->wsi;
    ci.opaque_user_data = c;
    if (!lws_client_connect_via_info(&ci)) {
        c->state = CLOSED;
        c->wsi = NULL;
        snprintf(err, errlen, "cannot start a connection to %s:%d", p->host, p->port);
        return -1;
    }
    return c->idx;
}

static struct conn *get(const fw_pool *p, int conn)
{
    return conn >= 0 && conn < p->nconns ? p->conns[conn] : NULL;
}

static int push(fw_pool *p, int conn, struct tx *t)
{
    struct conn *c = get(p, conn);
    if (!c || c->state == CLOSED) {
        tx_free(t);
        return -1;
    }
    t->next = NULL;
    if (c->tail)
        c->tail->next = t;
    else
        c->head = t;
    c->tail = t;
    c->backlog++;
    if (c->state == OPEN && c->wsi)
        lws_callback_on_writable(c->wsi);
    return 0;
}

int fw_pool_send_text(fw_pool *p, int conn, const char *text, size_t len)
{
    struct tx *t = calloc(1, sizeof *t + len + 1);
    if (!t)
        return -1;
    t->kind = TX_TEXT;
    memcpy(t->text, text, len);
    t->len = len;
    return push(p, conn, t);
}

int fw_pool_send_ping(fw_pool *p, int conn)
{
    struct tx *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->kind = TX_PING;
    return push(p, conn, t);
}

int fw_pool_send_frame(fw_pool *p, int conn, uint64_t frame_id, uint64_t capture_us,
                       const uint8_t *jpeg, size_t len, void (*release)(void *), void *arg)
{
    struct tx *t = calloc(1, sizeof *t);
    if (!t) {
        if (release)
            release(arg);
        return -1;
    }
    t->kind = TX_FRAME;
    t->frame_id = frame_id;
    t->capture_us = capture_us;
    t->data = jpeg;
    t->len = len;
    t->release = release;
    t->arg = arg;
    return push(p, conn, t);
}

size_t fw_pool_backlog(const fw_pool *p, int conn)
{
    const struct conn *c = get(p, conn);
    return c ? c->backlog : 0;
}

int fw_pool_is_open(const fw_pool *p, int conn)
{
    const struct conn *c = get(p, conn);
    return c && c->state == OPEN;
}

int fw_pool_count(const fw_pool *p)
{
    return p->nconns;
}

void fw_pool_close(fw_pool *p, int conn)
{
    struct conn *c = get(p, conn);
    if (!c || c->state != OPEN || !c->wsi)
        return;
    c->want_close = 1;
    lws_callback_on_writable(c->wsi);
}

/* The timer that bounds lws_service's wait. lws 4.1 services timers that are already due
 * before it polls and then waits for the next timer or a network event: a timer due before the
 * poll would leave the poll unbounded. So when it fires it arms itself again 1 ms later (once),
 * which bounds the wait either way. */
static void wake(lws_sorted_usec_list_t *sul)
{
    fw_pool *p = lws_container_of(sul, fw_pool, sul);
    if (!p->rearmed) {
        p->rearmed = 1;
        lws_sul_schedule(p->ctx, 0, &p->sul, wake, 1000);
    }
}

void fw_pool_service(fw_pool *p, int64_t until_us)
{
    int64_t left = until_us - fw_now_us();
    if (left <= 0) {
        lws_service(p->ctx, -1); /* handle what is pending, do not wait */
        return;
    }
    p->rearmed = 0;
    lws_sul_schedule(p->ctx, 0, &p->sul, wake, left);
    lws_service(p->ctx, 0);
    lws_sul_cancel(&p->sul);
}

void fw_pool_free(fw_pool *p)
{
    if (!p)
        return;
    /* Destroying the context closes the connections; no callbacks to the user from here on. */
    memset(&p->cb, 0, sizeof p->cb);
    if (p->ctx)
        lws_context_destroy(p->ctx);
    for (int i = 0; i < p->nconns; i++) {
        struct conn *c = p->conns[i];
        drop_queue(c);
        free(c->scratch);
        fw_buf_free(&c->rx);
        free(c);
    }
    free(p->conns);
    free(p);
}
