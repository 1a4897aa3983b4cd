/*
 * limit.c
 *		The limit on live sessions per user: which limit a call has
 *		(session.max_sessions_per_user and session.on_session_limit, or
 *		the call's own arguments), and keeping a user within it whenever a
 *		session becomes theirs.
 *
 * A session becomes a user's when session_create makes it with a user id
 * and when session_regenerate gives it one.  Right after writing it, the
 * call takes a transaction-level advisory lock on the user id, so that
 * parallel logins of one user pass this point one at a time, each after
 * the one before has committed or aborted; then it counts the user's other
 * live sessions, committed ones included even where the caller's snapshot
 * is older (store.c).  Past the limit it either ends the least recently
 * used of them (evict) or fails with SQLSTATE 53400 (refuse), which undoes
 * the write it made.  Without a limit, or for a session without a user,
 * nothing is locked or read.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "limit.h"
#include "owner.h"
#include "store.h"
#include "token.h"

/*
 * The advisory lock of a user id is (SESSION_LIMIT_LOCK_CLASS, a hash of
 * the id), as pg_advisory_xact_lock(int4, int4) takes it: an app that takes
 * the same pair only waits for a login, or makes one wait.
 */
#define SESSION_LIMIT_LOCK_CLASS	0x73657373	/* "sess" */

/*
 * The limit of a call: its max_sessions argument (NULL: the setting; 0: no
 * limit) at maxarg and its on_limit argument ('evict' or 'refuse'; NULL:
 * the setting) after it, where the call has them, else the settings.  Bad
 * arguments are errors here, before anything is written.
 */
void
session_limit_of_call(FunctionCallInfo fcinfo, int maxarg, SessionLimit *limit)
{
	limit->max = session_max_sessions_per_user;
	limit->action = (SessionLimitAction) session_on_session_limit;

	if (PG_NARGS() > maxarg && !PG_ARGISNULL(maxarg))
	{
		int32		max = PG_GETARG_INT32(maxarg);

		if (max < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_sessions must not be negative")));
		limit->max = max;
	}
	if (PG_NARGS() > maxarg + 1 && !PG_ARGISNULL(maxarg + 1))
	{
		char	   *action = text_to_cstring(PG_GETARG_TEXT_PP(maxarg + 1));

		if (strcmp(action, "evict") == 0)
			limit->action = SESSION_LIMIT_EVICT;
		else if (strcmp(action, "refuse") == 0)
			limit->action = SESSION_LIMIT_REFUSE;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("on_limit must be \"evict\" or \"refuse\"")));
	}
}

/* Wait for, then hold to the end of the transaction, the user's lock. */
static void
lock_user(text *user_id)
{
	uint32		h = hash_bytes((const unsigned char *) VARDATA_ANY(user_id),
							   VARSIZE_ANY_EXHDR(user_id));

	DirectFunctionCall2(pg_advisory_xact_lock_int4,
						Int32GetDatum(SESSION_LIMIT_LOCK_CLASS),
						Int32GetDatum((int32) h));
}

/* One of the user's other live sessions, as the limit weighs them. */
typedef struct OtherSession
{
	TimestampTz last_used;
	TimestampTz created;
	uint8		hash[SESSION_HASH_BYTES];
} OtherSession;

/* Least recently used first; then the oldest; then by hash, for a total order. */
static int
lru_first(const void *a, const void *b)
{
	const OtherSession *x = a;
	const OtherSession *y = b;

	if (x->last_used != y->last_used)
		return x->last_used < y->last_used ? -1 : 1;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return memcmp(x->hash, y->hash, SESSION_HASH_BYTES);
}

/*
 * The session whose hash is given has just become user_id's: keep the user
 * within limit, counting that session as one of theirs.  Evicting, the
 * least recently used of the others end until, with it, the user has
 * limit->max.
 */
void
session_limit_keep(const SessionLimit *limit, text *user_id,
				   const uint8 *hash, TimestampTz now)
{
	OwnerScope	scope;
	OtherSession *others;
	uint64		n;
	uint64		i;
	int64		count = 0;
	int64		excess;

	if (limit->max == 0 || user_id == NULL)
		return;

	lock_user(user_id);
	session_sql_begin(&scope);
	n = session_store_user_live(user_id, now);
	others = palloc(sizeof(OtherSession) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		bytea	   *h;

		CHECK_FOR_INTERRUPTS();
		h = DatumGetByteaPP(SPI_getbinval(row, desc, LIVE_ID_HASH, &isnull));
		/* the session itself, and a row written by hand with another hash */
		if (VARSIZE_ANY_EXHDR(h) != SESSION_HASH_BYTES ||
			memcmp(VARDATA_ANY(h), hash, SESSION_HASH_BYTES) == 0)
			continue;
		memcpy(others[count].hash, VARDATA_ANY(h), SESSION_HASH_BYTES);
		others[count].last_used =
			DatumGetTimestampTz(SPI_getbinval(row, desc, LIVE_LAST_USED_AT, &isnull));
		others[count].created =
			DatumGetTimestampTz(SPI_getbinval(row, desc, LIVE_CREATED_AT, &isnull));
		count++;
	}

	excess = count - (limit->max - 1);
	if (excess > 0 && limit->action == SESSION_LIMIT_REFUSE)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("the user already has the most live sessions allowed (%d)",
						limit->max),
				 errhint("End one of the user's sessions first, or let a login end the least recently used one (on_limit 'evict').")));
	if (excess > 0)
	{
		qsort(others, count, sizeof(OtherSession), lru_first);
		for (i = 0; i < (uint64) excess; i++)
		{
			CHECK_FOR_INTERRUPTS();
			session_store_evict(others[i].hash, now);
		}
	}
	session_sql_end(&scope);
}
