/* fw_sessions.c - slot/generation table of live sessions (service thread only). */
#include "fw_sessions.h"

#include <stdlib.h>

struct entry {
    uint32_t gen;
    void *session; /* NULL when the slot is free */
};

struct fw_sessions {
    struct entry *e;
    uint32_t *free_slots; /* stack of free slot numbers */
    uint32_t nfree, capacity;
};

fw_sessions *fw_sessions_new(uint32_t capacity)
{
    fw_sessions *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->e = calloc(capacity ? capacity : 1, sizeof *t->e);
    t->free_slots = calloc(capacity ? capacity : 1, sizeof *t->free_slots);
    if (!t->e || !t->free_slots) {
        fw_sessions_free(t);
        return NULL;
    }
    t->capacity = capacity;
    for (uint32_t i = 0; i < capacity; i++)
        t->free_slots[i] = capacity - 1 - i;
    t->nfree = capacity;
    return t;
}

void fw_sessions_free(fw_sessions *t)
{
    if (!t)
        return;
    free(t->e);
    free(t->free_slots);
    free(t);
}

int fw_sessions_add(fw_sessions *t, void *session, uint32_t *slot, uint32_t *gen)
{
    if (!t->nfree)
        return -1;
    uint32_t s = t->free_slots[--t->nfree];
    t->e[s].session = session;
    *slot = s;
    *gen = t->e[s].gen;
    return 0;
}

void fw_sessions_remove(fw_sessions *t, uint32_t slot)
{
    if (slot >= t->capacity || !t->e[slot].session)
        return;
    t->e[slot].session = NULL;
    t->e[slot].gen++;
    t->free_slots[t->nfree++] = slot;
}

void *fw_sessions_get(const fw_sessions *t, uint32_t slot, uint32_t gen)
{
    if (slot >= t->capacity || t->e[slot].gen != gen)
        return NULL;
    return t->e[slot].session;
}

uint32_t fw_sessions_count(const fw_sessions *t)
{
    return t->capacity - t->nfree;
}

uint32_t fw_sessions_capacity(const fw_sessions *t)
{
    return t->capacity;
}

void *fw_sessions_at(const fw_sessions *t, uint32_t slot)
{
    return slot < t->capacity ? t->e[slot].session : NULL;
}
