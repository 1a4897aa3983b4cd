/*
 * store.c
 *		Storage of sessions: the entry points api.c calls for every read and
 *		write of session_internal.sessions, and the SQL statements behind
 *		the ones that are not on the request path.
 *
 * Rows are keyed by the SHA-256 of the id, never the id itself.  Only
 * id_hash and user_id are indexed, so a touch that moves expires_at is a HOT
 * update.  What runs on every request (the read, a touch's expiry write,
 * the insert of a new session) goes through heap_direct.c whenever the
 * table allows it; everything else is SQL through SPI, run as the
 * extension's owner (owner.c), prepared once per backend and kept, with
 * every schema and operator named so that nothing planted in a search_path
 * is ever used.  session_store_get, session_store_touch and
 * session_store_insert take an SQL scope themselves when they need one;
 * callers of the other functions hold a session_sql_begin() scope, and get
 * values that live in SPI memory until session_sql_end().
 *
 * Every row keeps expires_at <= absolute_expires_at (a table constraint),
 * so "expires_at > now" alone decides whether a session is live.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/snapmgr.h"

#include "heap_direct.h"
#include "owner.h"
#include "relations.h"
#include "settings.h"
#include "store.h"
#include "touch_commit.h"

#define SESSIONS	SESSION_INTERNAL_SCHEMA ".sessions"
#define OP(o)		" OPERATOR(pg_catalog." o ") "

/* expiry after activity at $now: rolled forward, capped, never moved back */
#define ROLLED_EXPIRY(now) \
	"GREATEST(expires_at, LEAST(" now OP("+") "idle_timeout, absolute_expires_at))"

/*
 * When a session was last used: when a touch last wrote its expiry (its
 * idle timeout before that expiry), and no earlier than its creation.
 */
#define LAST_USED \
	"GREATEST(created_at, expires_at" OP("-") "idle_timeout)"

typedef enum StoreQueryId
{
	Q_EXTEND,
	Q_INSERT,
	Q_REGENERATE,
	Q_SET,
	Q_MERGE,
	Q_SET_IDLE,
	Q_DESTROY,
	Q_DESTROY_USER,
	Q_DESTROY_HANDLE,
	Q_LIST,
	Q_USER_LIVE,
	NUM_QUERIES
} StoreQueryId;

typedef struct StoreQuery
{
	const char *sql;
	int			nargs;
	Oid			argtypes[8];
	int			cursor_options; /* for session_sql_prepare */
} StoreQuery;

static const StoreQuery queries[NUM_QUERIES] = {
	[Q_EXTEND] = {
		"UPDATE " SESSIONS " SET expires_at = GREATEST(expires_at, $2)"
		" WHERE id_hash" OP("=") "$1 AND expires_at" OP(">") "$3"
		" RETURNING user_id, data, expires_at",
		3, {BYTEAOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
	},
	[Q_INSERT] = {
		"INSERT INTO " SESSIONS " (id_hash, key_id, user_id, data, created_at,"
		" expires_at, absolute_expires_at, idle_timeout)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		8, {BYTEAOID, INT8OID, TEXTOID, JSONBOID, TIMESTAMPTZOID,
		TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID}
	},
	[Q_REGENERATE] = {
		"UPDATE " SESSIONS " SET id_hash = $2, key_id = $3,"
		" user_id = COALESCE($4, user_id), expires_at = " ROLLED_EXPIRY("$5")
		" WHERE id_hash" OP("=") "$1 AND expires_at" OP(">") "$5",
		5, {BYTEAOID, BYTEAOID, INT8OID, TEXTOID, TIMESTAMPTZOID}
	},
	[Q_SET] = {
		"UPDATE " SESSIONS " SET data = $2, expires_at = " ROLLED_EXPIRY("$3")
		" WHERE id_hash" OP("=") "$1 AND expires_at" OP(">") "$3",
		3, {BYTEAOID, JSONBOID, TIMESTAMPTZOID}
	},
	[Q_MERGE] = {
		/* evaluated against the newest row version, so merges compose */
		"UPDATE " SESSIONS " SET data = (data" OP("||") "$2)" OP("-") "$3,"
		" expires_at = " ROLLED_EXPIRY("$4")
		" WHERE id_hash" OP("=") "$1 AND expires_at" OP(">") "$4"
		" RETURNING data",
		4, {BYTEAOID, JSONBOID, TEXTARRAYOID, TIMESTAMPTZOID}
	},
	[Q_SET_IDLE] = {
		/* LEAST ignores a NULL absolute_expires_at */
		"UPDATE " SESSIONS " SET idle_timeout = $2, expires_at = LEAST($3, absolute_expires_at)"
		" WHERE id_hash" OP("=") "$1 AND expires_at" OP(">") "$4"
		" RETURNING expires_at",
		4, {BYTEAOID, INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
	},
	[Q_DESTROY] = {
		"DELETE FROM " SESSIONS " WHERE id_hash" OP("=") "$1"
		" RETURNING expires_at" OP(">") "$2",
		2, {BYTEAOID, TIMESTAMPTZOID}
	},
	[Q_DESTROY_USER] = {
		"WITH ended AS (DELETE FROM " SESSIONS
		" WHERE user_id" OP("=") "$1"
		" AND ($2 IS NULL OR id_hash" OP("<>") "$2)"
		" RETURNING expires_at)"
		" SELECT pg_catalog.count(*) FILTER (WHERE expires_at" OP(">") "$3)"
		" FROM ended",
		3, {TEXTOID, BYTEAOID, TIMESTAMPTZOID}
	},
	[Q_DESTROY_HANDLE] = {
		"DELETE FROM " SESSIONS " WHERE id_hash" OP("=") "$1"
		" AND user_id" OP("=") "$2"
		" RETURNING expires_at" OP(">") "$3",
		3, {BYTEAOID, TEXTOID, TIMESTAMPTZOID}
	},
	/* the columns of StoreListColumn, in its order */
	[Q_LIST] = {
		"SELECT id_hash, created_at, " LAST_USED ","
		" expires_at, absolute_expires_at, data FROM " SESSIONS
		" WHERE user_id" OP("=") "$1 AND expires_at" OP(">") "$2"
		" ORDER BY created_at, expires_at",
		2, {TEXTOID, TIMESTAMPTZOID}
	},
	/* the columns of StoreLiveColumn, in its order */
	[Q_USER_LIVE] = {
		"SELECT id_hash, " LAST_USED ", created_at FROM " SESSIONS
		" WHERE user_id" OP("=") "$1 AND expires_at" OP(">") "$2",
		2, {TEXTOID, TIMESTAMPTZOID},
		/* on every login under a limit: one plan, the user_id index */
		CURSOR_OPT_GENERIC_PLAN
	},
};

static SPIPlanPtr plans[NUM_QUERIES];

/* Query q's plan, prepared on its first use. */
static SPIPlanPtr
plan_of(StoreQueryId q)
{
	if (plans[q] == NULL)
		plans[q] = session_sql_prepare(queries[q].sql, queries[q].nargs,
									   (Oid *) queries[q].argtypes,
									   queries[q].cursor_options);
	return plans[q];
}

/* Run query q with the given arguments; returns SPI's result code. */
static int
run_query(StoreQueryId q, Datum *values, const char *nulls, bool read_only,
		  long count)
{
	return SPI_execute_plan(plan_of(q), values, nulls, read_only, count);
}

/*
 * Run query q as run_query does, but seeing every committed row even where
 * the transaction's snapshot is older (REPEATABLE READ and SERIALIZABLE),
 * as foreign-key checks do: a row that snapshot does not show and that the
 * query would delete is a serialization failure.
 */
static int
run_query_latest(StoreQueryId q, Datum *values, const char *nulls)
{
	Snapshot	test = InvalidSnapshot;
	Snapshot	crosscheck = InvalidSnapshot;
	SPIPlanPtr	plan = plan_of(q);

	if (IsolationUsesXactSnapshot())
	{
		CommandCounterIncrement();
		test = GetLatestSnapshot();
		crosscheck = GetTransactionSnapshot();
	}
	return SPI_execute_snapshot(plan, values, nulls, test, crosscheck,
								false, true, 0);
}

static void
expect(int rc, int expected)
{
	if (rc != expected)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
}

/*
 * Where a touch at now moves the expiry of a live session: its idle
 * timeout on from now, capped by the absolute expiry.  0 when the touch
 * should not write: the move is less than the write throttle, or none.
 *
 * A touch that does not write leaves the session ending up to the
 * throttle earlier than its idle timeout after this request, so the
 * throttle is session.touch_interval but never more than a tenth of the
 * session's idle timeout: a session always stays live at least 0.9 of its
 * idle timeout after its last request, and never longer than the timeout.
 */
static TimestampTz
touch_target(const SessionRecord *rec, Interval *idle, TimestampTz now)
{
	TimestampTz target;
	int64		throttle;

	target = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													 TimestampTzGetDatum(now),
													 IntervalPGetDatum(idle)));
	throttle = Min((int64) session_touch_interval * USECS_PER_SEC,
				   (target - now) / 10);
	if (!rec->absolute_null && target > rec->absolute_expires_at)
		target = rec->absolute_expires_at;
	if (target <= rec->expires_at || target - rec->expires_at < throttle)
		return 0;
	return target;
}

/*
 * Move the expiry of the session read as stored (rec) to target, with the
 * touch-commit bookkeeping around the write: the one place a touch writes,
 * so the bookkeeping cannot be half done.  A commit may skip the WAL flush
 * only if this write's own row update was all the statement wrote (no
 * trigger or rule ran with it) and nothing else wrote before (touch_commit.c).
 *
 * A session changed by a transaction that committed after this one's
 * snapshot: under READ COMMITTED the UPDATE follows it to its newest
 * version, as it always did.  A REPEATABLE READ or SERIALIZABLE
 * transaction may not write a row version it cannot see, so there the
 * touch answers as a read of what its snapshot shows (the session was
 * live, and another request has just extended or changed it) or, if it was
 * deleted, as not found; never a serialization error.
 */
static SessionLookup
touch_update(const uint8 *hash, HeapTuple stored, TimestampTz target,
			 TimestampTz now, SessionRecord *rec)
{
	bool		clean = session_touch_commit_clean();
	Relation	rel = session_direct_open(CMD_UPDATE);
	SessionWritePath path = session_write_path(rel, CMD_UPDATE);
	TM_Result	result = TM_Ok;
	Datum		args[3];
	OwnerScope	scope;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;

	if (path == WRITE_DIRECT)
		result = session_direct_update_expiry(rel, stored, target);
	else if (IsolationUsesXactSnapshot())
		result = session_direct_lock(rel, stored);
	table_close(rel, NoLock);

	if (path == WRITE_DIRECT && result == TM_Ok)
	{
		session_touch_commit_wrote(clean);
		rec->expires_at = target;
		return LOOKUP_WROTE;
	}
	if (result == TM_Deleted)
		return LOOKUP_NOT_FOUND;
	if (result == TM_Updated && IsolationUsesXactSnapshot())
		return LOOKUP_READ;

	/* through SQL: it runs what the table has, or follows a newer version */
	args[0] = session_hash_datum(hash);
	args[1] = TimestampTzGetDatum(target);
	args[2] = TimestampTzGetDatum(now);

	session_sql_begin(&scope);
	expect(run_query(Q_EXTEND, args, NULL, false, 1), SPI_OK_UPDATE_RETURNING);
	session_touch_commit_wrote(clean && path != WRITE_SQL_MORE);

	/* destroyed or regenerated since we looked: it stays gone */
	if (SPI_processed == 0)
	{
		session_sql_end(&scope);
		return LOOKUP_NOT_FOUND;
	}

	/* what the update saw: a set or merge may have come in between */
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	rec->user_id = SPI_getbinval(tup, desc, 1, &rec->user_id_null);
	if (!rec->user_id_null)
		rec->user_id = SPI_datumTransfer(rec->user_id, false, -1);
	rec->data = SPI_datumTransfer(SPI_getbinval(tup, desc, 2, &isnull), false, -1);
	rec->expires_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
	session_sql_end(&scope);
	return LOOKUP_WROTE;
}

/*
 * Read the session stored under hash, as of now, writing nothing: one
 * index probe.  Needs no SQL scope.
 */
SessionLookup
session_store_get(const uint8 *hash, TimestampTz now, SessionRecord *rec)
{
	Interval   *idle;
	HeapTuple	stored;

	if (!session_direct_read(hash, rec, &idle, &stored))
		return LOOKUP_NOT_FOUND;
	if (rec->expires_at <= now)
		return LOOKUP_EXPIRED;
	return LOOKUP_READ;
}

/*
 * Read the session stored under hash and roll its idle expiry forward,
 * writing only when that moves it by session.touch_interval or more (or by
 * anything at all when the interval is 0): between writes a touch is a
 * single index probe and produces no WAL.  Needs no SQL scope; takes one
 * itself when it writes through SQL.
 */
SessionLookup
session_store_touch(const uint8 *hash, TimestampTz now, SessionRecord *rec)
{
	Interval   *idle;
	HeapTuple	stored;
	TimestampTz target;

	if (!session_direct_read(hash, rec, &idle, &stored))
		return LOOKUP_NOT_FOUND;
	if (rec->expires_at <= now)
		return LOOKUP_EXPIRED;

	/*
	 * A read-only transaction, a hot standby among them, cannot extend the
	 * expiry: answer as session_get does rather than fail the request.  The
	 * next touch that reaches a primary rolls the expiry on.
	 */
	if (XactReadOnly)
		return LOOKUP_READ;

	target = touch_target(rec, idle, now);
	if (target == 0)
		return LOOKUP_READ;
	return touch_update(hash, stored, target, now, rec);
}

/* Store a new session.  Needs no SQL scope; takes one itself if it must. */
void
session_store_insert(const uint8 *hash, SessionKeyId key_id, text *user_id,
					 Jsonb *data, TimestampTz now, TimestampTz expires_at,
					 TimestampTz absolute_expires_at, bool absolute_null,
					 Interval *idle_timeout)
{
	Datum		values[NUM_COLUMNS];
	bool		isnull[NUM_COLUMNS] = {0};
	char		nulls[NUM_COLUMNS];
	Relation	rel;
	OwnerScope	scope;
	int			i;

	values[COL_ID_HASH - 1] = session_hash_datum(hash);
	values[COL_KEY_ID - 1] = Int64GetDatum(key_id);
	values[COL_USER_ID - 1] = PointerGetDatum(user_id);
	isnull[COL_USER_ID - 1] = (user_id == NULL);
	values[COL_DATA - 1] = JsonbPGetDatum(data);
	values[COL_CREATED_AT - 1] = TimestampTzGetDatum(now);
	values[COL_EXPIRES_AT - 1] = TimestampTzGetDatum(expires_at);
	values[COL_ABSOLUTE_EXPIRES_AT - 1] = TimestampTzGetDatum(absolute_expires_at);
	isnull[COL_ABSOLUTE_EXPIRES_AT - 1] = absolute_null;
	values[COL_IDLE_TIMEOUT - 1] = IntervalPGetDatum(idle_timeout);

	rel = session_direct_open(CMD_INSERT);
	if (session_write_path(rel, CMD_INSERT) == WRITE_DIRECT)
	{
		session_direct_insert(rel, values, isnull);
		table_close(rel, NoLock);
		return;
	}
	table_close(rel, NoLock);

	for (i = 0; i < NUM_COLUMNS; i++)
		nulls[i] = isnull[i] ? 'n' : ' ';
	session_sql_begin(&scope);
	expect(run_query(Q_INSERT, values, nulls, false, 0), SPI_OK_INSERT);
	session_sql_end(&scope);
}

/* Move a live session to new_hash; false if old_hash is not live. */
bool
session_store_regenerate(const uint8 *old_hash, const uint8 *new_hash,
						 SessionKeyId key_id, text *user_id, TimestampTz now)
{
	Datum		args[5];
	char		nulls[5] = "     ";

	args[0] = session_hash_datum(old_hash);
	args[1] = session_hash_datum(new_hash);
	args[2] = Int64GetDatum(key_id);
	args[3] = PointerGetDatum(user_id);
	if (user_id == NULL)
		nulls[3] = 'n';
	args[4] = TimestampTzGetDatum(now);

	expect(run_query(Q_REGENERATE, args, nulls, false, 0), SPI_OK_UPDATE);
	return SPI_processed > 0;
}

bool
session_store_set(const uint8 *hash, Jsonb *data, TimestampTz now)
{
	Datum		args[3];

	args[0] = session_hash_datum(hash);
	args[1] = JsonbPGetDatum(data);
	args[2] = TimestampTzGetDatum(now);

	expect(run_query(Q_SET, args, NULL, false, 0), SPI_OK_UPDATE);
	return SPI_processed > 0;
}

/*
 * Shallow merge: patch's keys overwrite, then removed_keys (text[]) go.
 * On success *result is the new data, in SPI memory.
 */
bool
session_store_merge(const uint8 *hash, Jsonb *patch, Datum removed_keys,
					TimestampTz now, Datum *result)
{
	Datum		args[4];
	bool		isnull;

	args[0] = session_hash_datum(hash);
	args[1] = JsonbPGetDatum(patch);
	args[2] = removed_keys;
	args[3] = TimestampTzGetDatum(now);

	expect(run_query(Q_MERGE, args, NULL, false, 0), SPI_OK_UPDATE_RETURNING);
	if (SPI_processed == 0)
		return false;
	*result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
							&isnull);
	return true;
}

/*
 * Give a live session a new idle timeout and the expiry target it makes
 * (capped by the absolute expiry); false if it is not live.
 */
bool
session_store_set_idle_timeout(const uint8 *hash, Interval *idle,
							   TimestampTz target, TimestampTz now,
							   TimestampTz *expires_at)
{
	Datum		args[4];
	bool		isnull;

	args[0] = session_hash_datum(hash);
	args[1] = IntervalPGetDatum(idle);
	args[2] = TimestampTzGetDatum(target);
	args[3] = TimestampTzGetDatum(now);

	expect(run_query(Q_SET_IDLE, args, NULL, false, 0), SPI_OK_UPDATE_RETURNING);
	if (SPI_processed == 0)
		return false;
	*expires_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1,
													&isnull));
	return true;
}

/* Delete the session; true if it was live until now. */
bool
session_store_destroy(const uint8 *hash, TimestampTz now)
{
	Datum		args[2];
	bool		isnull;

	args[0] = session_hash_datum(hash);
	args[1] = TimestampTzGetDatum(now);

	expect(run_query(Q_DESTROY, args, NULL, false, 0), SPI_OK_DELETE_RETURNING);
	if (SPI_processed == 0)
		return false;
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull));
}

/* Delete all of a user's sessions but one; returns how many live ones went. */
int64
session_store_destroy_user(text *user_id, const uint8 *except_hash,
						   TimestampTz now)
{
	Datum		args[3];
	char		nulls[3] = "   ";
	bool		isnull;

	args[0] = PointerGetDatum(user_id);
	if (except_hash != NULL)
		args[1] = session_hash_datum(except_hash);
	else
	{
		args[1] = (Datum) 0;
		nulls[1] = 'n';
	}
	args[2] = TimestampTzGetDatum(now);

	expect(run_query(Q_DESTROY_USER, args, nulls, false, 0), SPI_OK_SELECT);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * End one of a user's sessions by its stored hash (a handle decoded): a
 * session of another user is not touched.  True if it was live until now.
 */
bool
session_store_destroy_handle(const uint8 *hash, text *user_id, TimestampTz now)
{
	Datum		args[3];
	bool		isnull;

	args[0] = session_hash_datum(hash);
	args[1] = PointerGetDatum(user_id);
	args[2] = TimestampTzGetDatum(now);

	expect(run_query(Q_DESTROY_HANDLE, args, NULL, false, 0),
		   SPI_OK_DELETE_RETURNING);
	if (SPI_processed == 0)
		return false;
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * A user's live sessions, left in SPI_tuptable with the columns of
 * StoreLiveColumn, in no order; committed ones the caller's snapshot does
 * not show included.  Returns how many.
 */
uint64
session_store_user_live(text *user_id, TimestampTz now)
{
	Datum		args[2];

	args[0] = PointerGetDatum(user_id);
	args[1] = TimestampTzGetDatum(now);

	expect(run_query_latest(Q_USER_LIVE, args, NULL), SPI_OK_SELECT);
	return SPI_processed;
}

/*
 * Delete a session that session_store_user_live found, as it found it: a
 * row the caller's older snapshot does not show is a serialization failure.
 */
void
session_store_evict(const uint8 *hash, TimestampTz now)
{
	Datum		args[2];

	args[0] = session_hash_datum(hash);
	args[1] = TimestampTzGetDatum(now);

	expect(run_query_latest(Q_DESTROY, args, NULL), SPI_OK_DELETE_RETURNING);
}

/*
 * A user's live sessions, oldest first, left in SPI_tuptable with the
 * columns of StoreListColumn; returns how many.  When one was last used is
 * LAST_USED: to within session.touch_interval.
 */
uint64
session_store_list(text *user_id, TimestampTz now)
{
	Datum		args[2];

	args[0] = PointerGetDatum(user_id);
	args[1] = TimestampTzGetDatum(now);

	expect(run_query(Q_LIST, args, NULL, false, 0), SPI_OK_SELECT);
	return SPI_processed;
}

