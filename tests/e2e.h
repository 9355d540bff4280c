/* e2e.h - shared pieces of the end-to-end tests (cmocka): the real photos, the in-process
 * reference classifier, and a JSON view of the server's messages. */
#ifndef FW_E2E_H
#define FW_E2E_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fw_classify.h"
#include "fw_client.h"

#define E2E_MAX_PHOTOS 16
#define E2E_PROB_TOL 2e-6 /* results carry probabilities rounded to 1e-6 */

extern int e2e_nphotos;
extern char *e2e_photo_path[E2E_MAX_PHOTOS];
extern uint8_t *e2e_photo[E2E_MAX_PHOTOS];
extern size_t e2e_photo_len[E2E_MAX_PHOTOS];
extern fw_classifier *e2e_ref;
extern int e2e_stats_seen; /* stats messages skipped by e2e_next */

/* Loads the photos and the reference classifier for `manifest`. 0 or -1 (message printed). */
int e2e_setup(const char *manifest);
void e2e_teardown(void);

/* Connects to 127.0.0.1:port (fails the test otherwise). */
fw_client *e2e_connect(int port);

/* The next message other than `stats`, parsed; fails the test after 20 s. */
cJSON *e2e_next(fw_client *c);

/* The next message of any type, or NULL after timeout_ms. */
cJSON *e2e_next_any(fw_client *c, int timeout_ms);

const char *e2e_type(const cJSON *j);
uint64_t e2e_u64(const cJSON *j, const char *key);

/* Reads the hello (fails otherwise) and returns it. */
cJSON *e2e_hello(fw_client *c);

/* Sends a text message. */
void e2e_send_text(fw_client *c, const char *text);

/* Checks a result message against the in-process classification of the same JPEG bytes. */
void e2e_check_result(const cJSON *r, const uint8_t *jpeg, size_t len, int k);

#endif
