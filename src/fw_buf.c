/* fw_buf.c - growable byte buffer with a hard cap (see fw_buf.h). */
#include "fw_buf.h"

#include <stdlib.h>
#include <string.h>

int fw_buf_append(fw_buf *b, const void *p, size_t n, size_t max)
{
    if (n > max - b->len || b->len > max)
        return -1;
    if (!b->data || b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > max + 1)
            cap = max + 1;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            return -2;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

uint8_t *fw_buf_take(fw_buf *b)
{
    uint8_t *d = b->data;
    memset(b, 0, sizeof *b);
    return d;
}

void fw_buf_free(fw_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
