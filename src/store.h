/*
 * store.h
 *		Sessions in session_internal.sessions: what api.c reads and writes.
 *		session_store_get, session_store_touch and session_store_insert hand
 *		back values in the caller's memory and take an SQL scope themselves
 *		when they need one; the other functions run SPI plans prepared once
 *		per backend, need a session_sql_begin() scope, and hand back values
 *		that live in SPI memory until session_sql_end().
 */
#ifndef SESSION_STORE_H
#define SESSION_STORE_H

#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "heap_direct.h"
#include "keys.h"
#include "token.h"

/* What a read or a touch found. */
typedef enum SessionLookup
{
	LOOKUP_NOT_FOUND,			/* unknown, or ended meanwhile */
	LOOKUP_EXPIRED,				/* stored but past its expiry */
	LOOKUP_READ,				/* live; nothing written */
	LOOKUP_WROTE				/* live; expiry extended */
} SessionLookup;

extern SessionLookup session_store_get(const uint8 *hash, TimestampTz now,
									   SessionRecord *rec);
extern SessionLookup session_store_touch(const uint8 *hash, TimestampTz now,
										 SessionRecord *rec);
extern void session_store_insert(const uint8 *hash, SessionKeyId key_id,
								 text *user_id, Jsonb *data, TimestampTz now,
								 TimestampTz expires_at,
								 TimestampTz absolute_expires_at,
								 bool absolute_null, Interval *idle_timeout);
extern bool session_store_regenerate(const uint8 *old_hash,
									 const uint8 *new_hash,
									 SessionKeyId key_id, text *user_id,
									 TimestampTz now);
extern bool session_store_set(const uint8 *hash, Jsonb *data, TimestampTz now);
extern bool session_store_merge(const uint8 *hash, Jsonb *patch,
								Datum removed_keys, TimestampTz now,
								Datum *result);
extern bool session_store_set_idle_timeout(const uint8 *hash, Interval *idle,
										   TimestampTz target, TimestampTz now,
										   TimestampTz *expires_at);
extern bool session_store_destroy(const uint8 *hash, TimestampTz now);
extern int64 session_store_destroy_user(text *user_id,
										const uint8 *except_hash,
										TimestampTz now);
extern bool session_store_destroy_handle(const uint8 *hash, text *user_id,
										 TimestampTz now);

/* The columns of session_store_list's rows (SPI attribute numbers). */
typedef enum StoreListColumn
{
	LIST_ID_HASH = 1,
	LIST_CREATED_AT,
	LIST_LAST_USED_AT,
	LIST_EXPIRES_AT,
	LIST_ABSOLUTE_EXPIRES_AT,
	LIST_DATA
} StoreListColumn;

extern uint64 session_store_list(text *user_id, TimestampTz now);

/* The columns of session_store_user_live's rows (SPI attribute numbers). */
typedef enum StoreLiveColumn
{
	LIVE_ID_HASH = 1,
	LIVE_LAST_USED_AT,
	LIVE_CREATED_AT
} StoreLiveColumn;

extern uint64 session_store_user_live(text *user_id, TimestampTz now);
extern void session_store_evict(const uint8 *hash, TimestampTz now);

#endif							/* SESSION_STORE_H */
