/* fw_frame.c - parse and write the binary frame header (see fw_frame.h for the layout). */
#include "fw_frame.h"

#include <string.h>

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

fw_err fw_frame_parse(const uint8_t *msg, size_t len, fw_frame *f)
{
    memset(f, 0, sizeof *f);
    if (!msg || len == 0)
        return FW_ERR_EMPTY_FRAME;
    if (len >= 2 && msg[0] == 0xFF && msg[1] == 0xD8) {
        f->jpeg = msg;
        f->jpeg_len = len;
        return FW_OK;
    }
    if (msg[0] != FW_FRAME_MAGIC0 || (len >= 2 && msg[1] != FW_FRAME_MAGIC1))
        return FW_ERR_NOT_JPEG;
    if (len < FW_FRAME_HEADER_LEN)
        return FW_ERR_BAD_FRAME_HEADER;
    if (msg[2] != FW_FRAME_VERSION)
        return FW_ERR_BAD_FRAME_HEADER;
    size_t hlen = msg[3];
    f->flags = (uint32_t)get_le(msg + 4, 4);
    f->frame_id = get_le(msg + 8, 8);
    f->capture_us = get_le(msg + 16, 8);
    f->has_header = 1;
    if (hlen < FW_FRAME_HEADER_LEN || hlen > len)
        return FW_ERR_BAD_FRAME_HEADER;
    f->jpeg = msg + hlen;
    f->jpeg_len = len - hlen;
    if (f->jpeg_len == 0)
        return FW_ERR_EMPTY_FRAME;
    if (f->jpeg_len < 2 || f->jpeg[0] != 0xFF || f->jpeg[1] != 0xD8)
        return FW_ERR_NOT_JPEG;
    return FW_OK;
}

void fw_frame_write_header(uint8_t out[FW_FRAME_HEADER_LEN], uint64_t frame_id, uint64_t capture_us,
                           uint32_t flags)
{
    out[0] = FW_FRAME_MAGIC0;
    out[1] = FW_FRAME_MAGIC1;
    out[2] = FW_FRAME_VERSION;
    out[3] = FW_FRAME_HEADER_LEN;
    put_le(out + 4, flags, 4);
    put_le(out + 8, frame_id, 8);
    put_le(out + 16, capture_us, 8);
}
