/*
 * heap_direct.h
 *		session_internal.sessions read and written through the table and
 *		index access methods, without SQL: what runs on every request.
 */
#ifndef SESSION_HEAP_DIRECT_H
#define SESSION_HEAP_DIRECT_H

#include "access/tableam.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/* Columns of session_internal.sessions, as the install script makes them. */
enum
{
	COL_ID_HASH = 1,
	COL_KEY_ID,
	COL_USER_ID,
	COL_DATA,
	COL_CREATED_AT,
	COL_EXPIRES_AT,
	COL_ABSOLUTE_EXPIRES_AT,
	COL_IDLE_TIMEOUT,
	NUM_COLUMNS = COL_IDLE_TIMEOUT
};

/* One live session, as the API shows it. */
typedef struct SessionRecord
{
	Datum		user_id;		/* text */
	bool		user_id_null;
	Datum		data;			/* jsonb */
	TimestampTz created_at;
	TimestampTz expires_at;
	TimestampTz absolute_expires_at;
	bool		absolute_null;
} SessionRecord;

/* How a write to the table must be done, for the table as it is now. */
typedef enum SessionWritePath
{
	WRITE_DIRECT,				/* through the access methods */
	WRITE_SQL,					/* through SQL, which writes only the row */
	WRITE_SQL_MORE				/* through SQL, which may write more (a
								 * trigger or a rule) */
} SessionWritePath;

extern Relation session_direct_open(CmdType cmd);
extern SessionWritePath session_write_path(Relation rel, CmdType cmd);
extern bool session_direct_read(const uint8 *hash, SessionRecord *rec,
								Interval **idle, HeapTuple *stored);
extern TM_Result session_direct_update_expiry(Relation rel, HeapTuple stored,
											  TimestampTz target);
extern TM_Result session_direct_lock(Relation rel, HeapTuple stored);
extern void session_direct_insert(Relation rel, Datum *values, bool *isnull);
extern Datum session_hash_datum(const uint8 *hash);

#endif							/* SESSION_HEAP_DIRECT_H */
