/* fw_client.h - a framewire WebSocket client on libwebsockets: connect, send frames (or any raw
 * message, fragmented if asked), receive the server's JSON messages. Used by the integration
 * tests and the tools, so they speak exactly the server's protocol.
 *
 * Threads: a client and everything it returns belong to the thread that created it; each client
 * has its own lws context and is serviced only inside these calls. */
#ifndef FW_CLIENT_H
#define FW_CLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct fw_client fw_client;

/* Connects to ws://host:port/ with the framewire subprotocol and waits up to timeout_ms for the
 * handshake. Returns the client, or NULL with a message in err. */
fw_client *fw_client_connect(const char *host, int port, int timeout_ms, char *err, size_t errlen);

typedef struct fw_client_opts {
    const char *host;
    int port;
    const char *path;   /* request path, default "/" (may carry ?token=...) */
    int tls;            /* wss:// */
    int tls_insecure;   /* accept self-signed certificates and any host name */
    const char *origin; /* Origin header, "http://HOST[:PORT]" (libwebsockets 4.1 clients can only
                         * send http:// origins); default http://host */
    const char *token;  /* sent as "Authorization: Bearer TOKEN" when set */
    int timeout_ms;
} fw_client_opts;

/* fw_client_connect with every option. */
fw_client *fw_client_connect_opts(const fw_client_opts *o, char *err, size_t errlen);

/* Queues one message (copied). binary: 1 binary, 0 text. fragment > 0 splits it into WebSocket
 * fragments of at most that many bytes. Sent by fw_client_service / fw_client_recv. Returns 0,
 * or -1 when closed or out of memory. */
int fw_client_send(fw_client *c, const void *data, size_t len, int binary, size_t fragment);

/* Queues a framed JPEG (fw_frame.h header + bytes). */
int fw_client_send_frame(fw_client *c, uint64_t frame_id, uint64_t capture_us, const void *jpeg,
                         size_t len);

/* Services the connection (sending what is queued) until a text message is available, the
 * connection closes, or timeout_ms passes. Returns the next received text message, NUL-terminated
 * and owned by the caller (free()), or NULL. */
char *fw_client_recv(fw_client *c, int timeout_ms);

/* Services the connection for up to timeout_ms or until the send queue is empty. lws may still
 * hold the tail of the last message: fw_client_service finishes it. */
void fw_client_flush(fw_client *c, int timeout_ms);

/* Services the connection (sending and receiving) for timeout_ms or until it closes; received
 * messages stay queued for fw_client_recv. */
void fw_client_service(fw_client *c, int timeout_ms);

/* 1 when the connection has closed; *code gets the close code the server sent (0 if none). */
int fw_client_closed(const fw_client *c, int *code);

/* Closes the connection (if open) and frees the client. */
void fw_client_free(fw_client *c);

#endif /* FW_CLIENT_H */
