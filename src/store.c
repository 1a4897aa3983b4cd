/*
 * store.c
 *		Storage of sessions: every statement that reads or writes
 *		session_internal.sessions.
 *
 * Rows are keyed by the SHA-256 of the id, never the id itself.  Only
 * id_hash and user_id are indexed, so a touch that moves expires_at is a HOT
 * update.  What runs on every request goes through the access methods
 * directly (no SQL, no executor): the read is a primary-key index probe,
 * the expiry write of a touch a heap update and the insert of a new session
 * a heap insert plus its index entries; the prune is a heap scan.
 * Everything else is SQL through SPI, run as the extension's owner
 * (owner.c), prepared once per backend and kept, with every schema and
 * operator named so that nothing planted in a search_path is ever used.
 * session_store_lookup and session_store_insert take an SQL scope
 * themselves when they fall back to SQL; callers of the other SPI functions
 * hold a session_sql_begin() scope.
 *
 * Every row keeps expires_at <= absolute_expires_at (a table constraint),
 * so "expires_at > now" alone decides whether a session is live.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"

#include "owner.h"
#include "session.h"
#include "store.h"
#include "touch_commit.h"

#define SESSIONS	SESSION_INTERNAL_SCHEMA ".sessions"
#define OP(o)		" OPERATOR(pg_catalog." o ") "

/* expiry after activity at $now: rolled forward, capped, never moved back */
#define ROLLED_EXPIRY(now) \
	"GREATEST(expires_at, LEAST(" now OP("+") "idle_timeout, absolute_expires_at))"

typedef enum StoreQueryId
{
	Q_EXTEND,
	Q_INSERT,
	Q_REGENERATE,
	Q_SET,
	Q_MERGE,
	Q_DESTROY,
	Q_DESTROY_USER,
	Q_LIST,
	NUM_QUERIES
} StoreQueryId;

typedef struct StoreQuery
{
	const char *sql;
	int			nargs;
	Oid			argtypes[8];
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
	[Q_LIST] = {
		"SELECT created_at, expires_at, absolute_expires_at, data FROM " SESSIONS
		" WHERE user_id" OP("=") "$1 AND expires_at" OP(">") "$2"
		" ORDER BY created_at, expires_at",
		2, {TEXTOID, TIMESTAMPTZOID}
	},
};

static SPIPlanPtr plans[NUM_QUERIES];

/* Run query q with the given arguments; returns SPI's result code. */
static int
run_query(StoreQueryId q, Datum *values, const char *nulls, bool read_only,
		  long count)
{
	if (plans[q] == NULL)
	{
		SPIPlanPtr	plan;

		plan = SPI_prepare(queries[q].sql, queries[q].nargs,
						   (Oid *) queries[q].argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		plans[q] = plan;
	}
	return SPI_execute_plan(plans[q], values, nulls, read_only, count);
}

static void
expect(int rc, int expected)
{
	if (rc != expected)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
}

static Datum
hash_datum(const uint8 *hash)
{
	bytea	   *b = palloc(VARHDRSZ + SESSION_HASH_BYTES);

	SET_VARSIZE(b, VARHDRSZ + SESSION_HASH_BYTES);
	memcpy(VARDATA(b), hash, SESSION_HASH_BYTES);
	return PointerGetDatum(b);
}

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

static const char *const column_names[NUM_COLUMNS] = {
	"id_hash", "key_id", "user_id", "data", "created_at", "expires_at",
	"absolute_expires_at", "idle_timeout"
};

/* The direct read depends on the column order: make sure of it once. */
static void
check_columns(Relation rel)
{
	static Oid	checked_relid = InvalidOid;
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if (RelationGetRelid(rel) == checked_relid)
		return;
	if (desc->natts < NUM_COLUMNS)
		elog(ERROR, "session storage has %d columns, expected %d",
			 desc->natts, NUM_COLUMNS);
	for (i = 0; i < NUM_COLUMNS; i++)
		if (strcmp(NameStr(TupleDescAttr(desc, i)->attname), column_names[i]) != 0)
			elog(ERROR, "session storage column %d is \"%s\", expected \"%s\"",
				 i + 1, NameStr(TupleDescAttr(desc, i)->attname), column_names[i]);
	checked_relid = RelationGetRelid(rel);
}

/*
 * Read the session stored under hash with one primary-key index probe: no
 * SQL, no executor, no privilege switch (nothing is written).  Like an SPI
 * query in a volatile function, it sees everything done so far in this
 * transaction, including earlier in the same statement.  On success the
 * values are copied into the current memory context, and *stored is a copy
 * of the row version they came from.
 */
static bool
read_session(const uint8 *hash, SessionRecord *rec, Interval **idle,
			 HeapTuple *stored)
{
	Relation	rel;
	Relation	idx;
	Oid			relid;
	Oid			pkey;
	Snapshot	snapshot;
	ScanKeyData skey;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bool		found = false;

	relid = session_sessions_relid();
	rel = table_open(relid, AccessShareLock);
	check_columns(rel);
	pkey = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(pkey))
		elog(ERROR, "session storage has no primary key");
	idx = index_open(pkey, AccessShareLock);

	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_BYTEAEQ, hash_datum(hash));
	scan = index_beginscan(rel, idx, snapshot, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	slot = table_slot_create(rel, NULL);

	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		HeapTuple	tup = ExecCopySlotHeapTuple(slot);
		TupleDesc	desc = RelationGetDescr(rel);
		Datum	   *values = palloc(desc->natts * sizeof(Datum));
		bool	   *nulls = palloc(desc->natts * sizeof(bool));

		/* one pass: heap_getattr would walk the row again per column */
		heap_deform_tuple(tup, desc, values, nulls);
		rec->user_id = values[COL_USER_ID - 1];
		rec->user_id_null = nulls[COL_USER_ID - 1];
		if (!rec->user_id_null)
			rec->user_id = PointerGetDatum(PG_DETOAST_DATUM(rec->user_id));
		rec->data = PointerGetDatum(PG_DETOAST_DATUM(values[COL_DATA - 1]));
		rec->created_at = DatumGetTimestampTz(values[COL_CREATED_AT - 1]);
		rec->expires_at = DatumGetTimestampTz(values[COL_EXPIRES_AT - 1]);
		rec->absolute_expires_at =
			DatumGetTimestampTz(values[COL_ABSOLUTE_EXPIRES_AT - 1]);
		rec->absolute_null = nulls[COL_ABSOLUTE_EXPIRES_AT - 1];
		*idle = DatumGetIntervalP(values[COL_IDLE_TIMEOUT - 1]);
		pfree(values);
		pfree(nulls);
		*stored = tup;
		found = true;
	}

	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	index_close(idx, NoLock);
	table_close(rel, NoLock);
	return found;
}

/*
 * Writing rows directly: a request's insert or expiry update goes through
 * the table AM and the indexes the way the executor's INSERT and UPDATE do,
 * without planning, executor start-up or a privilege switch, which cost
 * more than the write itself.  What the executor would add does not apply:
 * the table's one CHECK (expires_at <= absolute_expires_at) holds by
 * construction in every caller, and a table someone has put a trigger on
 * is written through SQL instead (direct_writable), so the trigger fires.
 */
/* The table, for a direct insert, update or (the prune's) delete. */
static Relation
open_for_write(const char *command)
{
	Relation	rel;

	/* a standby, or a transaction declared read only: as the executor says */
	PreventCommandIfReadOnly(command);
	rel = table_open(session_sessions_relid(), RowExclusiveLock);
	check_columns(rel);
	return rel;
}

static bool
direct_writable(Relation rel)
{
	return rel->trigdesc == NULL &&
		RelationGetDescr(rel)->natts == NUM_COLUMNS;
}

/*
 * Add the index entries of the row version in slot, just written by an
 * insert or by an update that could not be HOT; unique indexes check as
 * they would for INSERT or UPDATE.
 */
static void
index_new_version(Relation rel, TupleTableSlot *slot, bool update)
{
	EState	   *estate = CreateExecutorState();
	MemoryContext oldcxt = MemoryContextSwitchTo(estate->es_query_cxt);
	ResultRelInfo *rri = makeNode(ResultRelInfo);

	/* no range table entry: no column counts as updated, as is the case */
	InitResultRelInfo(rri, rel, 0, NULL, 0);
	ExecOpenIndices(rri, false);
	(void) ExecInsertIndexTuples(rri, slot, estate, update, false, NULL, NIL);
	ExecCloseIndices(rri);
	MemoryContextSwitchTo(oldcxt);
	FreeExecutorState(estate);
}

/*
 * Move the expiry of the row version read as stored to target.  Returns
 * false, having written nothing, if that version is no longer the newest
 * (a set, merge, regenerate or destroy committed since it was read) or the
 * table cannot be written directly: the caller then runs the UPDATE, which
 * follows the row to its newest version as it always did.
 */
static bool
extend_direct(HeapTuple stored, TimestampTz target)
{
	Relation	rel = open_for_write("UPDATE");
	int			col = COL_EXPIRES_AT;
	Datum		value = TimestampTzGetDatum(target);
	bool		isnull = false;
	TupleTableSlot *slot;
	Snapshot	snapshot;
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	bool		update_indexes;
	TM_Result	result;

	if (!direct_writable(rel))
	{
		table_close(rel, NoLock);
		return false;
	}

	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
	ExecStoreHeapTuple(heap_modify_tuple_by_cols(stored, RelationGetDescr(rel),
												 1, &col, &value, &isnull),
					   slot, true);
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	result = table_tuple_update(rel, &stored->t_self, slot,
								GetCurrentCommandId(true), snapshot,
								InvalidSnapshot, true, &tmfd, &lockmode,
								&update_indexes);
	UnregisterSnapshot(snapshot);
	if (result == TM_Ok && update_indexes)
		index_new_version(rel, slot, true);

	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return result == TM_Ok;
}

/*
 * Find the session stored under hash.  With extend, roll its idle expiry
 * forward, but write only when that moves it by session.touch_interval or
 * more (or by anything at all when the interval is 0): between writes a
 * touch is a single index probe and produces no WAL.  Needs no SQL scope;
 * takes one itself when it writes.
 */
SessionLookup
session_store_lookup(const uint8 *hash, TimestampTz now, bool extend,
					 SessionRecord *rec)
{
	Datum		args[3];
	Interval   *idle;
	HeapTuple	stored;
	TimestampTz target;
	OwnerScope	scope;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	bool		clean;

	if (!read_session(hash, rec, &idle, &stored))
		return LOOKUP_NOT_FOUND;
	if (rec->expires_at <= now)
		return LOOKUP_EXPIRED;

	/*
	 * A read-only transaction, a hot standby among them, cannot extend the
	 * expiry: answer as session_get does rather than fail the request.  The
	 * next touch that reaches a primary rolls the expiry on.
	 */
	if (!extend || XactReadOnly)
		return LOOKUP_READ;

	target = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													 TimestampTzGetDatum(now),
													 IntervalPGetDatum(idle)));
	if (!rec->absolute_null && target > rec->absolute_expires_at)
		target = rec->absolute_expires_at;

	if (target <= rec->expires_at ||
		target - rec->expires_at < (int64) session_touch_interval * USECS_PER_SEC)
		return LOOKUP_READ;

	clean = session_touch_commit_clean();
	if (extend_direct(stored, target))
	{
		session_touch_commit_wrote(clean);
		rec->expires_at = target;
		return LOOKUP_WROTE;
	}

	args[0] = hash_datum(hash);
	args[1] = TimestampTzGetDatum(target);
	args[2] = TimestampTzGetDatum(now);

	session_sql_begin(&scope);
	expect(run_query(Q_EXTEND, args, NULL, false, 1), SPI_OK_UPDATE_RETURNING);
	session_touch_commit_wrote(clean);

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

	values[COL_ID_HASH - 1] = hash_datum(hash);
	values[COL_KEY_ID - 1] = Int64GetDatum(key_id);
	values[COL_USER_ID - 1] = PointerGetDatum(user_id);
	isnull[COL_USER_ID - 1] = (user_id == NULL);
	values[COL_DATA - 1] = JsonbPGetDatum(data);
	values[COL_CREATED_AT - 1] = TimestampTzGetDatum(now);
	values[COL_EXPIRES_AT - 1] = TimestampTzGetDatum(expires_at);
	values[COL_ABSOLUTE_EXPIRES_AT - 1] = TimestampTzGetDatum(absolute_expires_at);
	isnull[COL_ABSOLUTE_EXPIRES_AT - 1] = absolute_null;
	values[COL_IDLE_TIMEOUT - 1] = IntervalPGetDatum(idle_timeout);

	rel = open_for_write("INSERT");
	if (direct_writable(rel))
	{
		TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel),
														&TTSOpsHeapTuple);

		ExecStoreHeapTuple(heap_form_tuple(RelationGetDescr(rel), values, isnull),
						   slot, true);
		table_tuple_insert(rel, slot, GetCurrentCommandId(true), 0, NULL);
		index_new_version(rel, slot, false);
		ExecDropSingleTupleTableSlot(slot);
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

	args[0] = hash_datum(old_hash);
	args[1] = hash_datum(new_hash);
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

	args[0] = hash_datum(hash);
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

	args[0] = hash_datum(hash);
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

/* Delete the session; true if it was live until now. */
bool
session_store_destroy(const uint8 *hash, TimestampTz now)
{
	Datum		args[2];
	bool		isnull;

	args[0] = hash_datum(hash);
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
		args[1] = hash_datum(except_hash);
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

/* A user's live sessions, left in SPI_tuptable; returns how many. */
uint64
session_store_list(text *user_id, TimestampTz now)
{
	Datum		args[2];

	args[0] = PointerGetDatum(user_id);
	args[1] = TimestampTzGetDatum(now);

	expect(run_query(Q_LIST, args, NULL, false, 0), SPI_OK_SELECT);
	return SPI_processed;
}

/*
 * Delete up to limit sessions that expired by now, found after the tuple
 * *after in physical order.  *after moves past what was examined; *more
 * says whether another batch may find anything.  Returns rows deleted.
 * pace, if given, is called every 32 rows scanned.
 *
 * Straight through the heap, as a DELETE's executor would, but without
 * waiting: a row that another transaction is changing or holds locked (a
 * request, or an application's open transaction) is skipped and left for
 * the next run, so a prune never waits on a request.  Requests never wait
 * on a prune either, since they only change live sessions (ending an
 * expired one is the exception: it waits for the batch).  A TID range scan
 * reads the heap once per run and needs no index on expires_at, which would
 * make every touch a non-HOT update.
 */
uint64
session_store_prune_batch(ItemPointer after, TimestampTz now, int limit,
						  bool *more, PrunePacer pace, void *pace_arg)
{
	Relation	rel;
	Snapshot	snapshot;
	CommandId	cid;
	ItemPointerData mintid;
	ItemPointerData maxtid;
	TableScanDesc scan;
	TupleTableSlot *slot;
	int			examined = 0;
	uint64		deleted = 0;
	uint32		scanned = 0;

	rel = open_for_write("DELETE");

	/* see what earlier batches of this transaction deleted */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	cid = GetCurrentCommandId(true);

	ItemPointerSet(&mintid, ItemPointerGetBlockNumberNoCheck(after),
				   ItemPointerGetOffsetNumberNoCheck(after) + 1);
	ItemPointerSet(&maxtid, MaxBlockNumber, MaxOffsetNumber);
	scan = table_beginscan_tidrange(rel, snapshot, &mintid, &maxtid);
	slot = table_slot_create(rel, NULL);

	while (examined < limit &&
		   table_scan_getnextslot_tidrange(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		TM_FailureData tmfd;

		CHECK_FOR_INTERRUPTS();
		if (pace != NULL && ++scanned % 32 == 0)
			pace(pace_arg);
		ItemPointerCopy(&slot->tts_tid, after);
		if (DatumGetTimestampTz(slot_getattr(slot, COL_EXPIRES_AT, &isnull)) > now)
			continue;
		examined++;
		if (table_tuple_delete(rel, &slot->tts_tid, cid, snapshot,
							   InvalidSnapshot, false, &tmfd, false) == TM_Ok)
			deleted++;
	}
	*more = (examined >= limit);

	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);
	return deleted;
}
