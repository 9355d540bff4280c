/* fw_client_pool.h - many framewire WebSocket connections on ONE libwebsockets context, serviced
 * by the caller's loop: what the replay tool and the profiler use to drive N concurrent streams
 * without a thread per stream. (fw_client.h is the simpler one-connection, blocking client.)
 *
 * Sending never blocks: messages are queued per connection and written one per WRITEABLE. Frames
 * are queued as a small entry that refers to the caller's JPEG bytes (no copy until the write),
 * so an open-loop sender whose server stalls builds a queue of entries, not of images. Received
 * text messages and the moment each frame was handed to the socket come back through callbacks,
 * with timestamps taken when the event happened.
 *
 * Threads: a pool, and everything it calls back, belong to the thread that created it; callbacks
 * run inside fw_pool_service (and fw_pool_free). Callbacks may call fw_pool_send_* but not
 * fw_pool_free. */
#ifndef FW_CLIENT_POOL_H
#define FW_CLIENT_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct fw_pool fw_pool;

/* capture_us value meaning "stamp the frame with the wall clock at the moment it is written". */
#define FW_POOL_STAMP_AT_SEND UINT64_MAX

typedef struct fw_pool_callbacks {
    /* The handshake of conn completed (ok = 1) or failed (ok = 0, why says how). */
    void (*on_connect)(void *user, int conn, int ok, const char *why);
    /* A complete text message (NUL-terminated, valid during the call), with the monotonic and
     * wall clock times (microseconds) at which its last byte was read. */
    void (*on_text)(void *user, int conn, const char *text, size_t len, int64_t rx_mono_us,
                    int64_t rx_wall_us);
    /* A frame was handed to the socket (its last byte written to the kernel or to lws's buffer),
     * at these times; capture_us is what its header carried. */
    void (*on_frame_sent)(void *user, int conn, uint64_t frame_id, uint64_t capture_us,
                          int64_t mono_us, int64_t wall_us);
    /* conn closed (after a successful connect); code is the close code the server sent, or 0. */
    void (*on_close)(void *user, int conn, int code);
} fw_pool_callbacks;

/* A pool for ws://host:port/ with the framewire subprotocol. cb is copied; any callback may be
 * NULL. Returns NULL with a message in err. */
fw_pool *fw_pool_new(const char *host, int port, const fw_pool_callbacks *cb, void *user, char *err,
                     size_t errlen);

/* Starts one more connection (asynchronously: on_connect reports the outcome). Returns its index
 * (0, 1, 2, ...), or -1 with a message in err. */
int fw_pool_connect(fw_pool *p, char *err, size_t errlen);

/* Queues a text message (copied). 0, or -1 when conn is closed or memory ran out. */
int fw_pool_send_text(fw_pool *p, int conn, const char *text, size_t len);

/* Queues a clock-sync ping whose client_ts_us is taken when it is written. */
int fw_pool_send_ping(fw_pool *p, int conn);

/* Queues a framed JPEG (fw_frame.h header with frame_id, capture_us, then the bytes). The bytes
 * are NOT copied: they must stay valid until release(arg) is called (right after the write, or
 * when the connection or pool goes away); release may be NULL for bytes that outlive the pool.
 * 0, or -1 (then release has been called). */
int fw_pool_send_frame(fw_pool *p, int conn, uint64_t frame_id, uint64_t capture_us,
                       const uint8_t *jpeg, size_t len, void (*release)(void *), void *arg);

/* Messages queued on conn and not yet handed to the socket. */
size_t fw_pool_backlog(const fw_pool *p, int conn);

/* 1 while conn is connected and not closed. */
int fw_pool_is_open(const fw_pool *p, int conn);

/* Connections started so far. */
int fw_pool_count(const fw_pool *p);

/* Asks the server to close conn (normal closure) at the next service. */
void fw_pool_close(fw_pool *p, int conn);

/* Runs the event loop once: waits for network events or until the monotonic time until_us
 * (fw_now_us clock), whichever comes first, and handles them. */
void fw_pool_service(fw_pool *p, int64_t until_us);

/* Closes every connection and frees the pool (queued frames are released). */
void fw_pool_free(fw_pool *p);

#endif /* FW_CLIENT_POOL_H */
