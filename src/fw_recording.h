/* fw_recording.h - framewire's recording format (docs/recording.md): one file per WebSocket
 * session holding the frames the server received, the text messages the client sent and every
 * message the server sent, each with its timestamps. Encoding and a reader that recovers every
 * complete record of a file whose writer was killed mid-write.
 *
 * Layout (little-endian):
 *   file header, 32 bytes:
 *     0   8  magic "FWREC01\n"
 *     8   4  format version (1)
 *     12  4  header length (32; a reader skips what it does not know)
 *     16  8  session id (the server's number for the session)
 *     24  8  created, microseconds since the Unix epoch
 *   then records, each a 40-byte header followed by `length` payload bytes:
 *     0   2  sync "FR" (0x46 0x52)
 *     2   1  type (FW_REC_*)
 *     3   1  flags (0)
 *     4   4  payload length
 *     8   8  timestamp: wall clock in microseconds (arrival for received messages, the moment of
 *            the write for sent ones)
 *     16  8  frame id (FW_REC_FRAME: the id the server used; 0 otherwise)
 *     24  8  capture timestamp from the frame header (FW_REC_FRAME; 0 otherwise)
 *     32  4  reserved (0)
 *     36  4  CRC-32 (IEEE, as zlib) of header bytes 0..35 followed by the payload
 * A record is complete when its whole payload is in the file and its CRC matches. A reader stops
 * at the first incomplete record (a torn tail after a kill) and reports where.
 *
 * Pure functions and a reader object owned by one thread. */
#ifndef FW_RECORDING_H
#define FW_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#define FW_REC_MAGIC "FWREC01\n"
#define FW_REC_VERSION 1
#define FW_REC_FILE_HEADER_LEN 32
#define FW_REC_HEADER_LEN 40
#define FW_REC_MAX_PAYLOAD (256u << 20) /* a larger length field means a damaged file */
#define FW_REC_SUFFIX ".fwrec"

typedef enum fw_rec_type {
    FW_REC_META = 1,        /* JSON: server, model, session; the first record of a file */
    FW_REC_FRAME = 2,       /* a binary message as received (frame header included, if any) */
    FW_REC_CLIENT_TEXT = 3, /* a text message the client sent */
    FW_REC_SERVER_TEXT = 4, /* a text message the server sent (hello, result, error, ...) */
    FW_REC_CLOSE = 5,       /* the session closed; no payload */
    FW_REC_GAP = 6,         /* the recorder lost records (queue full); payload: JSON counts */
} fw_rec_type;

typedef struct fw_rec_record {
    int type; /* fw_rec_type (a reader passes on unknown types too) */
    uint32_t flags;
    int64_t ts_us;
    uint64_t frame_id;
    uint64_t capture_us;
    const uint8_t *payload; /* valid until the next fw_rec_next / fw_rec_close */
    size_t len;
    uint64_t offset; /* of the record header in the file */
} fw_rec_record;

/* CRC-32 (IEEE 802.3 polynomial, reflected, as zlib's crc32). Start with crc = 0. */
uint32_t fw_crc32(uint32_t crc, const void *data, size_t len);

/* Fills out[FW_REC_FILE_HEADER_LEN]. */
void fw_rec_file_header(uint8_t out[FW_REC_FILE_HEADER_LEN], uint64_t session_id,
                        int64_t created_us);

/* Fills out[FW_REC_HEADER_LEN] for a record with this payload (the CRC covers both). */
void fw_rec_record_header(uint8_t out[FW_REC_HEADER_LEN], int type, int64_t ts_us,
                          uint64_t frame_id, uint64_t capture_us, const void *payload, size_t len);

typedef struct fw_rec_reader fw_rec_reader;

/* Opens a recording and reads its file header. NULL with a message in err when the file cannot
 * be read or is not a framewire recording. */
fw_rec_reader *fw_rec_open(const char *path, char *err, size_t errlen);

uint64_t fw_rec_session_id(const fw_rec_reader *r);
int64_t fw_rec_created_us(const fw_rec_reader *r);

/* Reads the next record. Returns 1 with *rec filled; 0 at the end of the records. The end is
 * either the end of the file (fw_rec_torn() == 0) or the first incomplete or damaged record
 * (fw_rec_torn() == 1, fw_rec_stop_reason() says why and at which offset): every record before
 * it was complete and is returned. Returns -1 on a read error (message in err). */
int fw_rec_next(fw_rec_reader *r, fw_rec_record *rec, char *err, size_t errlen);

/* After fw_rec_next returned 0: 1 when the file ended in an incomplete or damaged record. */
int fw_rec_torn(const fw_rec_reader *r);
const char *fw_rec_stop_reason(const fw_rec_reader *r);

void fw_rec_close(fw_rec_reader *r);

/* 1 when path names a file that starts with FW_REC_MAGIC. */
int fw_rec_is_recording(const char *path);

#endif /* FW_RECORDING_H */
