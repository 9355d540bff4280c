/* fw_recording.c - the recording format: CRC-32, record headers, and the reader (see
 * fw_recording.h and docs/recording.md). */
#include "fw_recording.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint32_t crc_table[256]; /* filled once (pthread_once), read-only afterwards */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t fw_crc32(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void fw_rec_file_header(uint8_t out[FW_REC_FILE_HEADER_LEN], uint64_t session_id,
                        int64_t created_us)
{
    memcpy(out, FW_REC_MAGIC, 8);
    put_u32(out + 8, FW_REC_VERSION);
    put_u32(out + 12, FW_REC_FILE_HEADER_LEN);
    put_u64(out + 16, session_id);
    put_u64(out + 24, (uint64_t)created_us);
}

void fw_rec_record_header(uint8_t out[FW_REC_HEADER_LEN], int type, int64_t ts_us,
                          uint64_t frame_id, uint64_t capture_us, const void *payload, size_t len)
{
    out[0] = 0x46;
    out[1] = 0x52;
    out[2] = (uint8_t)type;
    out[3] = 0;
    put_u32(out + 4, (uint32_t)len);
    put_u64(out + 8, (uint64_t)ts_us);
    put_u64(out + 16, frame_id);
    put_u64(out + 24, capture_us);
    put_u32(out + 32, 0);
    uint32_t crc = fw_crc32(0, out, 36);
    crc = fw_crc32(crc, payload, len);
    put_u32(out + 36, crc);
}

struct fw_rec_reader {
    FILE *f;
    uint64_t session_id;
    int64_t created_us;
    uint64_t offset; /* of the next record */
    uint8_t *buf;
    size_t cap;
    int torn;
    char reason[200];
};

fw_rec_reader *fw_rec_open(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    uint8_t h[FW_REC_FILE_HEADER_LEN];
    if (fread(h, 1, sizeof h, f) != sizeof h || memcmp(h, FW_REC_MAGIC, 8) != 0) {
        snprintf(err, errlen, "%s: not a framewire recording (no %s header)", path, "FWREC01");
        fclose(f);
        return NULL;
    }
    uint32_t version = get_u32(h + 8), hlen = get_u32(h + 12);
    if (version != FW_REC_VERSION || hlen < FW_REC_FILE_HEADER_LEN) {
        snprintf(err, errlen, "%s: recording format version %u (header %u bytes) is not supported",
                 path, version, hlen);
        fclose(f);
        return NULL;
    }
    if (hlen > FW_REC_FILE_HEADER_LEN && fseek(f, (long)hlen, SEEK_SET) != 0) {
        snprintf(err, errlen, "%s: truncated file header", path);
        fclose(f);
        return NULL;
    }
    fw_rec_reader *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        fclose(f);
        return NULL;
    }
    r->f = f;
    r->session_id = get_u64(h + 16);
    r->created_us = (int64_t)get_u64(h + 24);
    r->offset = hlen;
    return r;
}

uint64_t fw_rec_session_id(const fw_rec_reader *r)
{
    return r->session_id;
}

int64_t fw_rec_created_us(const fw_rec_reader *r)
{
    return r->created_us;
}

static int stop(fw_rec_reader *r, const char *why)
{
    r->torn = 1;
    snprintf(r->reason, sizeof r->reason, "record at offset %llu: %s",
             (unsigned long long)r->offset, why);
    return 0;
}

int fw_rec_next(fw_rec_reader *r, fw_rec_record *rec, char *err, size_t errlen)
{
    if (r->torn)
        return 0;
    uint8_t h[FW_REC_HEADER_LEN];
    size_t n = fread(h, 1, sizeof h, r->f);
    if (n == 0 && feof(r->f))
        return 0; /* clean end */
    if (ferror(r->f)) {
        snprintf(err, errlen, "read error at offset %llu: %s", (unsigned long long)r->offset,
                 strerror(errno));
        return -1;
    }
    if (n < sizeof h)
        return stop(r, "incomplete record header (torn tail)");
    if (h[0] != 0x46 || h[1] != 0x52)
        return stop(r, "no record sync bytes (damaged)");
    uint32_t len = get_u32(h + 4);
    if (len > FW_REC_MAX_PAYLOAD)
        return stop(r, "length field out of range (damaged)");
    /* Compare with the file's size before allocating: a damaged length must not cost memory. */
    struct stat st;
    if (fstat(fileno(r->f), &st) == 0 &&
        r->offset + FW_REC_HEADER_LEN + (uint64_t)len > (uint64_t)st.st_size)
        return stop(r, "payload runs past the end of the file (torn tail)");
    if (len + 1 > r->cap) {
        size_t ncap = r->cap ? r->cap : 65536;
        while (ncap < (size_t)len + 1)
            ncap *= 2;
        uint8_t *b = realloc(r->buf, ncap);
        if (!b) {
            snprintf(err, errlen, "out of memory for a %u-byte record", len);
            return -1;
        }
        r->buf = b;
        r->cap = ncap;
    }
    if (fread(r->buf, 1, len, r->f) != len) {
        if (ferror(r->f)) {
            snprintf(err, errlen, "read error at offset %llu: %s", (unsigned long long)r->offset,
                     strerror(errno));
            return -1;
        }
        return stop(r, "payload runs past the end of the file (torn tail)");
    }
    r->buf[len] = 0; /* text payloads can be used as C strings */
    uint32_t crc = fw_crc32(0, h, 36);
    crc = fw_crc32(crc, r->buf, len);
    if (crc != get_u32(h + 36))
        return stop(r, "checksum mismatch (damaged or torn)");
    rec->type = h[2];
    rec->flags = h[3];
    rec->ts_us = (int64_t)get_u64(h + 8);
    rec->frame_id = get_u64(h + 16);
    rec->capture_us = get_u64(h + 24);
    rec->payload = r->buf;
    rec->len = len;
    rec->offset = r->offset;
    r->offset += FW_REC_HEADER_LEN + (uint64_t)len;
    return 1;
}

int fw_rec_torn(const fw_rec_reader *r)
{
    return r->torn;
}

const char *fw_rec_stop_reason(const fw_rec_reader *r)
{
    return r->torn ? r->reason : "end of file";
}

void fw_rec_close(fw_rec_reader *r)
{
    if (!r)
        return;
    fclose(r->f);
    free(r->buf);
    free(r);
}

int fw_rec_is_recording(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char m[8];
    int ok = fread(m, 1, 8, f) == 8 && memcmp(m, FW_REC_MAGIC, 8) == 0;
    fclose(f);
    return ok;
}
