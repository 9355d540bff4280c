/* fw_recorder.h - the server's `--record DIR`: writes each WebSocket session to its own
 * recording file (fw_recording.h, docs/recording.md) from a writer thread of its own.
 *
 * DESIGN
 * The service thread only copies a message into a queue entry and signals the writer (one
 * malloc + memcpy + lock): "cheap on the hot path". The writer thread owns the files: it opens
 * DIR/<run>-s<session>.fwrec at a session's first record, writes each record with one writev()
 * (header with CRC + payload), and closes the file at the session's close record. A record handed
 * to the kernel survives the process being killed; what still waits in the queue (at most
 * `max_queue_bytes`, normally a few milliseconds' worth) does not. When the queue is full a record
 * is dropped, counted, reported on stderr, and the session's file gets a GAP record saying how
 * many records were lost there: nothing is lost silently.
 *
 * Threads: fw_recorder_open / fw_recorder_close on the owner (main) thread; the record calls from
 * any thread (the server calls them on the lws service thread). Every call accepts r == NULL and
 * then does nothing, so hooks need no test. */
#ifndef FW_RECORDER_H
#define FW_RECORDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct fw_recorder fw_recorder;

#define FW_RECORDER_DEFAULT_QUEUE_BYTES (64u << 20)

/* Creates dir (one level) when missing, checks it can hold files, and starts the writer thread.
 * info_json (copied; may be NULL) is a JSON object about the server and model; it goes into each
 * file's META record. Returns NULL with one line in err. */
fw_recorder *fw_recorder_open(const char *dir, const char *info_json, size_t max_queue_bytes,
                              char *err, size_t errlen);

/* The info_json the server passes: {"server":..,"model":{"name":..,"input_width":..,
 * "input_height":..,"labels":N,"output":..,"device":..}}. Caller frees; NULL when out of memory
 * (fw_recorder_open accepts NULL). */
char *fw_recorder_info_json(const char *server, const char *model_name, int input_width,
                            int input_height, int num_labels, const char *output,
                            const char *device);

/* A session opened: its file is created with the META record. */
void fw_recorder_session_open(fw_recorder *r, uint64_t session_id);

/* A complete binary message of the session (frame header included), with the frame id the server
 * gave it, the capture timestamp from its header (0 if none) and its arrival (wall clock, us). */
void fw_recorder_frame(fw_recorder *r, uint64_t session_id, uint64_t frame_id, uint64_t capture_us,
                       int64_t arrival_us, const void *msg, size_t len);

/* A text message the client sent / the server sent, at ts_us (wall clock). */
void fw_recorder_client_text(fw_recorder *r, uint64_t session_id, int64_t ts_us, const void *text,
                             size_t len);
void fw_recorder_server_text(fw_recorder *r, uint64_t session_id, int64_t ts_us, const void *text,
                             size_t len);

/* The session closed: its file gets a CLOSE record and is closed. */
void fw_recorder_session_close(fw_recorder *r, uint64_t session_id);

typedef struct fw_recorder_stats {
    uint64_t records; /* written */
    uint64_t bytes;   /* written, headers included */
    uint64_t lost;    /* records dropped (queue full, or a file that could not be written) */
    uint64_t files;   /* session files created */
} fw_recorder_stats;

void fw_recorder_get_stats(fw_recorder *r, fw_recorder_stats *out);

/* Writes everything still queued, closes the files, stops the thread, frees r. */
void fw_recorder_close(fw_recorder *r);

#endif /* FW_RECORDER_H */
