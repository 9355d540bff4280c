/* fw_sessions.h - the table that maps (slot, generation) to a live WebSocket session.
 *
 * Answers from the pipeline carry a slot and a generation instead of a wsi. A slot's generation
 * changes when its session closes, so an answer for a closed session finds no session and is
 * freed, even when the slot has been reused by a new connection.
 * Threads: the lws service thread only. */
#ifndef FW_SESSIONS_H
#define FW_SESSIONS_H

#include <stdint.h>

typedef struct fw_sessions fw_sessions;

/* A table for at most `capacity` concurrent sessions. NULL when out of memory. */
fw_sessions *fw_sessions_new(uint32_t capacity);
void fw_sessions_free(fw_sessions *t);

/* Registers `session`; fills its slot and generation. Returns 0, or -1 when the table is full. */
int fw_sessions_add(fw_sessions *t, void *session, uint32_t *slot, uint32_t *gen);

/* Unregisters the session in `slot` (its generation moves on). */
void fw_sessions_remove(fw_sessions *t, uint32_t slot);

/* The session registered under (slot, gen), or NULL when it has closed. */
void *fw_sessions_get(const fw_sessions *t, uint32_t slot, uint32_t gen);

/* The number of registered sessions. */
uint32_t fw_sessions_count(const fw_sessions *t);

/* The table's capacity, and the session in `slot` (NULL when free): for visiting every session. */
uint32_t fw_sessions_capacity(const fw_sessions *t);
void *fw_sessions_at(const fw_sessions *t, uint32_t slot);

#endif /* FW_SESSIONS_H */
