/* fw_frame.h - the binary frame header of framewire's WebSocket protocol (docs/protocol.md).
 *
 * A binary message is either
 *   - a framed JPEG: a fixed little-endian header followed by the JPEG bytes
 *       offset  size  field
 *       0       2     magic "FW" (0x46 0x57)
 *       2       1     version (1)
 *       3       1     header length in bytes (24 for version 1; a reader skips what it
 *                     does not know, so later versions may append fields)
 *       4       4     flags (u32; none defined in version 1, ignored)
 *       8       8     frame id (u64, chosen by the client)
 *       16      8     capture timestamp (u64, microseconds since the Unix epoch on the client's
 *                     clock; 0 = unknown)
 *   - or a bare JPEG (first bytes FF D8): the server numbers it.
 * Pure functions: safe from any thread. */
#ifndef FW_FRAME_H
#define FW_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "fw_error.h"

#define FW_FRAME_MAGIC0 0x46 /* 'F' */
#define FW_FRAME_MAGIC1 0x57 /* 'W' */
#define FW_FRAME_VERSION 1
#define FW_FRAME_HEADER_LEN 24

typedef struct fw_frame {
    int has_header; /* 0 for a bare JPEG */
    uint32_t flags;
    uint64_t frame_id;   /* meaningful only when has_header */
    uint64_t capture_us; /* 0 when unknown */
    const uint8_t *jpeg; /* points into the parsed message */
    size_t jpeg_len;
} fw_frame;

/* Parses one complete binary message. On success fills *f (pointers into msg) and returns FW_OK.
 * Errors: FW_ERR_EMPTY_FRAME (len 0), FW_ERR_BAD_FRAME_HEADER (wrong magic, unknown version,
 * header length < 24 or beyond the message), FW_ERR_NOT_JPEG (neither a header nor FF D8).
 * When the header was readable but the payload is bad, f->frame_id is still filled, so the error
 * can name the frame: check f->has_header. */
fw_err fw_frame_parse(const uint8_t *msg, size_t len, fw_frame *f);

/* Writes a version-1 header for (frame_id, capture_us, flags) into out[FW_FRAME_HEADER_LEN]. */
void fw_frame_write_header(uint8_t out[FW_FRAME_HEADER_LEN], uint64_t frame_id, uint64_t capture_us,
                           uint32_t flags);

#endif /* FW_FRAME_H */
