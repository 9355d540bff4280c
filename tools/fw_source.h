/* fw_source.h - where the tools get their frames: a framewire recording (one session, .fwrec), a
 * directory of JPEG files (sorted by name), an MJPEG file (JPEGs back to back; a single .jpg is an
 * MJPEG of one frame), or any other video, decoded to JPEG frames by `ffmpeg` when it is
 * installed. Frames come one at a time, so memory stays bounded by the largest frame.
 *
 * One owner thread per source. */
#ifndef FW_SOURCE_H
#define FW_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fw_results.h"

typedef enum fw_source_kind {
    FW_SRC_RECORDING,
    FW_SRC_JPEG_DIR,
    FW_SRC_MJPEG,
    FW_SRC_VIDEO,
} fw_source_kind;

typedef struct fw_source_options {
    double fps;             /* timing of sources without timestamps (<= 0: the video's own rate
                             * from ffprobe, else 30) */
    size_t max_frame_bytes; /* a larger frame is an error (0: 64 MiB) */
} fw_source_options;

typedef struct fw_source_frame {
    uint64_t seq;  /* 1, 2, 3, ... in input order */
    uint8_t *data; /* the JPEG (for a recording: the payload after its frame header, or the whole
                    * message when it had none); owned by the caller: free() */
    size_t len;
    int64_t ts_us; /* when the frame was due, relative to the first frame: a recording's arrival
                    * times, else seq-1 frames at fps */
    uint64_t orig_frame_id;   /* recording: the frame id the server used; else 0 */
    uint64_t orig_capture_us; /* recording: capture timestamp in its header; else 0 */
    int top_k;                /* recording: the session's top-k when it arrived (0 unknown) */
    char name[256];           /* JPEG directory: the file name; else empty */
} fw_source_frame;

typedef struct fw_source fw_source;

/* Opens path, detecting its kind. NULL with a message in err (missing, empty directory, not a
 * recording/JPEG and no ffmpeg, ...). */
fw_source *fw_source_open(const char *path, const fw_source_options *opt, char *err, size_t errlen);

fw_source_kind fw_source_get_kind(const fw_source *s);
const char *fw_source_kind_name(fw_source_kind k);

/* The frame rate used for timing (sources without timestamps); 0 for recordings. */
double fw_source_fps(const fw_source *s);

/* Next frame: 1 (frame filled), 0 at the end, -1 with a message in err. For a recording whose
 * file ends in a torn record, the end is the last complete record and fw_source_note() says so. */
int fw_source_next(fw_source *s, fw_source_frame *f, char *err, size_t errlen);

/* A remark about the input worth showing (e.g. "recording ends in a torn record at ..."), or
 * NULL. */
const char *fw_source_note(const fw_source *s);

void fw_source_close(fw_source *s);

/* The answers a recording holds, as JSON lines with "seq" (the frame's position, as
 * fw_source_next numbers it) first: each a result, error or dropped message the server sent for
 * a frame of the session. Calls emit(seq, line, user) in the order they were sent; lines with a
 * frame id that matches no recorded frame are skipped. 0, or -1 with a message in err. */
int fw_recording_answers(const char *path,
                         void (*emit)(uint64_t seq, const char *json_line, void *user), void *user,
                         char *note, size_t notelen, char *err, size_t errlen);

/* Splits a stream of back-to-back JPEGs: reads the next complete JPEG (SOI to EOI, parsing
 * segment lengths and entropy-coded data) from f into *buf (grown as needed, up to max bytes).
 * Returns 1 with *len set, 0 at a clean end of stream, -1 with a message in err (garbage,
 * truncated JPEG, too large). Exposed for tests. */
int fw_mjpeg_next(FILE *f, uint8_t **buf, size_t *cap, size_t *len, size_t max, char *err,
                  size_t errlen);

#endif /* FW_SOURCE_H */
