/* fw_toolutil.h - small things both tools need: number options, a progress line on stderr, and a
 * plain HTTP GET (for the server's /metrics). One thread. */
#ifndef FW_TOOLUTIL_H
#define FW_TOOLUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Parses a whole number / a decimal in [lo, hi]; on failure prints "PROG: --OPT: ..." and exits
 * with status 2. */
long long fwtool_int_arg(const char *prog, const char *opt, const char *s, long long lo,
                         long long hi);
double fwtool_double_arg(const char *prog, const char *opt, const char *s, double lo, double hi);

/* A progress line on stderr: rewritten in place on a terminal (at most 4 times a second), a new
 * line every 2 seconds otherwise. force: write now. fwtool_progress_end() ends the line. */
void fwtool_progress(int force, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fwtool_progress_end(void);

/* GET http://host:port/path; the body (NUL-terminated, malloc'd) in *body. Returns the HTTP
 * status, or -1 with a message in err. Waits at most timeout_ms. */
int fwtool_http_get(const char *host, int port, const char *path, char **body, int timeout_ms,
                    char *err, size_t errlen);

/* The value of the Prometheus sample `name` (e.g. framewire_frames_total{outcome="result"}) in a
 * /metrics text, or -1 when absent. */
double fwtool_prom_value(const char *text, const char *name);

/* A JSON object with fields added around a server message, keeping the server's text as it was
 * sent (numbers and all): "{" head "," <obj's fields> "," tail "}". obj must be a JSON object
 * text; head and tail are "key":value lists (either may be NULL or empty). Returns a malloc'd
 * string, or NULL (not an object, out of memory). */
char *fwtool_splice_json(const char *obj, size_t len, const char *head, const char *tail);

/* Appends a JSON string literal for s (quoted, escaped) to out[cap]. */
void fwtool_json_string(char *out, size_t cap, const char *s);

#endif /* FW_TOOLUTIL_H */
