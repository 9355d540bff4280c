/* test_util.h - small helpers shared by framewire's C tests: files, photos, the server process. */
#ifndef FW_TEST_UTIL_H
#define FW_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads a whole file; NULL on failure. *len gets its size. Caller frees. */
uint8_t *tu_read_file(const char *path, size_t *len);

/* Sorted paths of the *.jpg files in dir (at most max); returns the count. Caller frees each. */
int tu_list_jpegs(const char *dir, char **paths, int max);

/* A running framewire server started by tu_server_start. */
typedef struct tu_server {
    pid_t pid;
    int port;
    int out_fd; /* its stdout + stderr */
    char output[8192];
} tu_server;

/* Starts FW_SERVER_BIN with --port 0 and the given extra arguments (NULL-terminated), waits for
 * its 'listening on' line (up to 60 s). Returns 0, or -1 with what it printed in s->output. */
int tu_server_start(tu_server *s, const char *const *args);

/* The same for any server program (prog: a path; args after it, NULL-terminated) that prints
 * 'listening on http://HOST:PORT/' when ready: the bench's Python baselines. */
int tu_program_start(tu_server *s, const char *prog, const char *const *args);

/* Sends sig (none when 0), waits up to timeout_ms; returns the exit status (as waitpid's), or -1 on
 * timeout (then kills it). */
int tu_server_stop(tu_server *s, int sig, int timeout_ms);

/* Kills every server started and not stopped (also run at exit). */
void tu_kill_all(void);

/* Runs FW_SERVER_BIN with args to completion (for start-up failures); returns its exit code and
 * fills out with its output. */
int tu_server_run_to_exit(const char *const *args, char *out, size_t outlen, int timeout_ms);

/* A plain HTTP GET to 127.0.0.1:port; returns the status code, body in body. */
int tu_http_get(int port, const char *path, char *body, size_t bodylen);

/* A TCP connection to 127.0.0.1:port: the socket, or -1. */
int tu_connect_loopback(int port);

/* Sends `len` raw bytes to 127.0.0.1:port (the first `split` of them, then after split_ms the
 * rest; split 0: all at once) and reads what comes back until the server closes or timeout_ms
 * pass without data; returns the bytes read (NUL-terminated in resp), -1 on error. */
long tu_tcp_exchange(int port, const void *req, size_t len, size_t split, int split_ms,
                     char *resp, size_t cap, int timeout_ms);

/* Any HTTP/1.1 request; headers: extra header lines, each ending in \r\n (or NULL). */
int tu_http(int port, const char *method, const char *path, const char *headers,
            const void *req_body, size_t req_len, char *body, size_t bodylen);

#endif
