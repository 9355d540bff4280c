/* fw_client.c - framewire WebSocket client on libwebsockets (see fw_client.h). */
#include "fw_client.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_buf.h"
#include "fw_frame.h"
#include "fw_messages.h"
#include "fw_time.h"

#define MAX_RX_MESSAGE (4u << 20)

struct txmsg {
    struct txmsg *next;
    size_t len, sent, fragment;
    int binary;
    unsigned char *data; /* after LWS_PRE headroom */
    unsigned char buf[];
};

struct rxmsg {
    struct rxmsg *next;
    char *text;
};

struct fw_client {
    struct lws_context *ctx;
    struct lws *wsi;
    struct lws_protocols protocols[2];
    int connected, closed, close_code, failed;
    char fail_msg[256];
    struct txmsg *tx_head, *tx_tail;
    struct rxmsg *rx_head, *rx_tail;
    fw_buf cur; /* message being reassembled */
    lws_sorted_usec_list_t sul;
    char auth[320]; /* "Bearer TOKEN", or empty */
    int rearmed;    /* the wake timer has re-armed itself once */
};

/* Only there to make lws_service return. lws 4.1 runs a timer that is already due before it
 * polls and then polls without a limit: so the timer re-arms itself once, 1 ms later. */
static void wake(lws_sorted_usec_list_t *sul)
{
    fw_client *c = lws_container_of(sul, fw_client, sul);
    if (!c->rearmed) {
        c->rearmed = 1;
        lws_sul_schedule(c->ctx, 0, &c->sul, wake, 1000);
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    fw_client *c = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        c->failed = 1;
        c->closed = 1;
        snprintf(c->fail_msg, sizeof c->fail_msg, "%s",
                 in ? (const char *)in : "connection failed");
        c->wsi = NULL;
        break;
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        if (!c->auth[0])
            break;
        unsigned char **p = (unsigned char **)in, *end = (*p) + len;
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                         (const unsigned char *)c->auth, (int)strlen(c->auth), p,
                                         end))
            return -1;
        break;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->connected = 1;
        if (c->tx_head)
            lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (fw_buf_append(&c->cur, in, len, MAX_RX_MESSAGE) != 0)
            return -1;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
            break;
        struct rxmsg *m = malloc(sizeof *m);
        if (!m)
            return -1;
        m->text = (char *)fw_buf_take(&c->cur);
        m->next = NULL;
        if (c->rx_tail)
            c->rx_tail->next = m;
        else
            c->rx_head = m;
        c->rx_tail = m;
        break;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        struct txmsg *m = c->tx_head;
        if (!m)
            break;
        size_t chunk = m->len - m->sent;
        if (m->fragment && chunk > m->fragment)
            chunk = m->fragment;
        int first = m->sent == 0, last = m->sent + chunk == m->len;
        int flags =
            first ? (m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) : LWS_WRITE_CONTINUATION;
        if (!last)
            flags |= LWS_WRITE_NO_FIN;
        /* lws masks the payload in place: the bytes are sent once, so that is fine. */
        if (lws_write(wsi, m->data + m->sent, chunk, (enum lws_write_protocol)flags) < (int)chunk)
            return -1;
        m->sent += chunk;
        if (last) {
            c->tx_head = m->next;
            if (!c->tx_head)
                c->tx_tail = NULL;
            free(m);
        }
        if (c->tx_head)
            lws_callback_on_writable(wsi);
        break;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2)
            c->close_code = ((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1];
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        c->closed = 1;
        c->wsi = NULL;
        break;
    default:
        break;
    }
    return 0;
}

/* Runs the event loop until done(c) or the deadline; at least one pass even with timeout 0, so
 * that queued messages go out and what has arrived is read. */
static void service_until(fw_client *c, int timeout_ms, int (*done)(const fw_client *))
{
    int64_t deadline = fw_now_us() + (int64_t)timeout_ms * 1000;
    int passes = 0;
    while (!done(c) && !(c->closed && !c->rx_head)) {
        int64_t left = deadline - fw_now_us();
        if (left <= 0) {
            if (passes)
                break;
            lws_service(c->ctx, -1); /* one pass that does not wait */
            passes++;
            continue;
        }
        c->rearmed = 0;
        lws_sul_schedule(c->ctx, 0, &c->sul, wake, left);
        lws_service(c->ctx, 0);
        passes++;
    }
    lws_sul_cancel(&c->sul);
}

static int is_connected(const fw_client *c)
{
    return c->connected;
}

fw_client *fw_client_connect(const char *host, int port, int timeout_ms, char *err, size_t errlen)
{
    fw_client_opts o = {.host = host, .port = port, .timeout_ms = timeout_ms};
    return fw_client_connect_opts(&o, err, errlen);
}

fw_client *fw_client_connect_opts(const fw_client_opts *o, char *err, size_t errlen)
{
    fw_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (o->token)
        snprintf(c->auth, sizeof c->auth, "Bearer %s", o->token);
    c->protocols[0] = (struct lws_protocols){FW_PROTOCOL_NAME, callback, 0, 65536, 0, NULL, 0};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = c->protocols;
    info.user = c;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    if (o->tls)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    c->ctx = lws_create_context(&info);
    if (!c->ctx) {
        snprintf(err, errlen, "cannot create an lws client context");
        free(c);
        return NULL;
    }
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = c->ctx;
    ci.address = o->host;
    ci.port = o->port;
    ci.path = o->path ? o->path : "/";
    ci.host = o->host;
    /* lws 4.1 sends "Origin: http://" followed by this: give it the rest. */
    const char *origin = o->origin ? o->origin : o->host;
    if (strncmp(origin, "http://", 7) == 0)
        origin += 7;
    ci.origin = origin;
    ci.protocol = FW_PROTOCOL_NAME;
    ci.pwsi = &c->wsi;
    if (o->tls) {
        ci.ssl_connection = LCCSCF_USE_SSL;
        if (o->tls_insecure)
            ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                 LCCSCF_ALLOW_EXPIRED;
    }
    if (!lws_client_connect_via_info(&ci)) {
        snprintf(err, errlen, "cannot start a connection to %s:%d", o->host, o->port);
        fw_client_free(c);
        return NULL;
    }
    service_until(c, o->timeout_ms, is_connected);
    if (!c->connected) {
        snprintf(err, errlen, "cannot connect to %s://%s:%d%s: %s", o->tls ? "wss" : "ws", o->host,
                 o->port, ci.path, c->failed ? c->fail_msg : "timed out");
        fw_client_free(c);
        return NULL;
    }
    return c;
}

int fw_client_send(fw_client *c, const void *data, size_t len, int binary, size_t fragment)
{
    if (c->closed)
        return -1;
    struct txmsg *m = malloc(sizeof *m + LWS_PRE + len + 1);
    if (!m)
        return -1;
    m->next = NULL;
    m->len = len;
    m->sent = 0;
    m->fragment = fragment;
    m->binary = binary;
    m->data = m->buf + LWS_PRE;
    if (len)
        memcpy(m->data, data, len);
    if (c->tx_tail)
        c->tx_tail->next = m;
    else
        c->tx_head = m;
    c->tx_tail = m;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
    return 0;
}

int fw_client_send_frame(fw_client *c, uint64_t frame_id, uint64_t capture_us, const void *jpeg,
                         size_t len)
{
    uint8_t *buf = malloc(FW_FRAME_HEADER_LEN + len);
    if (!buf)
        return -1;
    fw_frame_write_header(buf, frame_id, capture_us, 0);
    if (len)
        memcpy(buf + FW_FRAME_HEADER_LEN, jpeg, len);
    int rc = fw_client_send(c, buf, FW_FRAME_HEADER_LEN + len, 1, 0);
    free(buf);
    return rc;
}

static int has_message(const fw_client *c)
{
    return c->rx_head != NULL;
}

char *fw_client_recv(fw_client *c, int timeout_ms)
{
    service_until(c, timeout_ms, has_message);
    struct rxmsg *m = c->rx_head;
    if (!m)
        return NULL;
    c->rx_head = m->next;
    if (!c->rx_head)
        c->rx_tail = NULL;
    char *t = m->text;
    free(m);
    return t;
}

static int tx_empty(const fw_client *c)
{
    return c->tx_head == NULL;
}

void fw_client_flush(fw_client *c, int timeout_ms)
{
    service_until(c, timeout_ms, tx_empty);
}

void fw_client_service(fw_client *c, int timeout_ms)
{
    int64_t deadline = fw_now_us() + (int64_t)timeout_ms * 1000;
    while (!c->closed && fw_now_us() < deadline) {
        c->rearmed = 0;
        lws_sul_schedule(c->ctx, 0, &c->sul, wake, deadline - fw_now_us());
        lws_service(c->ctx, 0);
    }
    lws_sul_cancel(&c->sul);
}

int fw_client_closed(const fw_client *c, int *code)
{
    if (code)
        *code = c->close_code;
    return c->closed;
}

void fw_client_free(fw_client *c)
{
    if (!c)
        return;
    if (c->ctx)
        lws_context_destroy(c->ctx);
    while (c->tx_head) {
        struct txmsg *m = c->tx_head;
        c->tx_head = m->next;
        free(m);
    }
    while (c->rx_head) {
        struct rxmsg *m = c->rx_head;
        c->rx_head = m->next;
        free(m->text);
        free(m);
    }
    fw_buf_free(&c->cur);
    free(c);
}
