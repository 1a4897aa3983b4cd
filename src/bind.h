/*
 * bind.h
 *		The session bound to the current transaction (bind.c).
 */
#ifndef SESSION_BIND_H
#define SESSION_BIND_H

#include "utils/jsonb.h"

#include "heap_direct.h"

extern void session_bind_init(void);
extern void session_bind_set(const SessionRecord *rec);
extern bool session_bind_get(text **user_id, Jsonb **data);

#endif							/* SESSION_BIND_H */
