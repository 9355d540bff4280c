/* fw_buf.h - a growable byte buffer with a hard cap, for reassembling messages that arrive in
 * pieces (WebSocket fragments, HTTP bodies). Not thread-safe: one owner. */
#ifndef FW_BUF_H
#define FW_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct fw_buf {
    uint8_t *data; /* NUL-terminated after data[len] once anything was appended */
    size_t len, cap;
} fw_buf;

/* Appends n bytes, growing by doubling (from 4 KiB). Fails, leaving the buffer as it was, when
 * len + n would exceed max (returns -1) or memory runs out (returns -2). */
int fw_buf_append(fw_buf *b, const void *p, size_t n, size_t max);

/* Hands the data over to the caller (to free()) and leaves the buffer empty. */
uint8_t *fw_buf_take(fw_buf *b);

void fw_buf_free(fw_buf *b);

#endif /* FW_BUF_H */
