/*
 * heap_direct.c
 *		The request path on session_internal.sessions without SQL: the
 *		primary-key probe that reads a session, the heap update that rolls
 *		a touch's expiry, the lock a touch takes before an SQL update, and
 *		the heap insert of a new session with its index entries.
 *
 * Planning, executor start-up and a privilege switch cost more than a
 * request's read or write itself, so these go through the table and index
 * access methods the way the executor's scans, INSERT and UPDATE do, and do
 * what the executor would do around them that applies here: read-only
 * transactions refused, unique indexes checked, replica identity checked
 * for a published table.  What the executor would add beyond that (a
 * trigger, a rule, a CHECK or NOT NULL constraint or a column someone
 * added) is decided by session_write_path: a table with any of them is
 * written through SQL instead (store.c), so they run.  Row-level security
 * never changes what SQL would do here: the statements run as the
 * extension's owner, a superuser, to whom no policy applies.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "heap_direct.h"
#include "relations.h"
#include "token.h"

static const char *const column_names[NUM_COLUMNS] = {
	"id_hash", "key_id", "user_id", "data", "created_at", "expires_at",
	"absolute_expires_at", "idle_timeout"
};

/* The direct paths depend on the column order: make sure of it once. */
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

Datum
session_hash_datum(const uint8 *hash)
{
	bytea	   *b = palloc(VARHDRSZ + SESSION_HASH_BYTES);

	SET_VARSIZE(b, VARHDRSZ + SESSION_HASH_BYTES);
	memcpy(VARDATA(b), hash, SESSION_HASH_BYTES);
	return PointerGetDatum(b);
}

/*
 * The table, for an insert, an update or (the prune's) delete, with the
 * checks the executor makes of any result relation that apply: a standby
 * or a read-only transaction refuses, and a table published for updates
 * or deletes must have a replica identity, with the executor's errors.
 */
Relation
session_direct_open(CmdType cmd)
{
	Relation	rel;

	PreventCommandIfReadOnly(cmd == CMD_INSERT ? "INSERT" :
							 cmd == CMD_UPDATE ? "UPDATE" : "DELETE");
	rel = table_open(session_sessions_relid(), RowExclusiveLock);
	check_columns(rel);
	CheckCmdReplicaIdentity(rel, cmd);
	return rel;
}

/* Does the table have a trigger that a cmd on it would fire? */
static bool
fires_triggers(Relation rel, CmdType cmd)
{
	TriggerDesc *t = rel->trigdesc;

	if (t == NULL)
		return false;
	switch (cmd)
	{
		case CMD_INSERT:
			return t->trig_insert_before_row || t->trig_insert_after_row ||
				t->trig_insert_instead_row || t->trig_insert_before_statement ||
				t->trig_insert_after_statement || t->trig_insert_new_table;
		case CMD_UPDATE:
			return t->trig_update_before_row || t->trig_update_after_row ||
				t->trig_update_instead_row || t->trig_update_before_statement ||
				t->trig_update_after_statement || t->trig_update_old_table ||
				t->trig_update_new_table;
		case CMD_DELETE:
			return t->trig_delete_before_row || t->trig_delete_after_row ||
				t->trig_delete_instead_row || t->trig_delete_before_statement ||
				t->trig_delete_after_statement || t->trig_delete_old_table;
		default:
			return true;
	}
}

/*
 * Are the table's constraints the ones the install script made, which
 * every direct write satisfies by construction?  One CHECK
 * (expires_at <= absolute_expires_at), NOT NULL on all but user_id and
 * absolute_expires_at, nothing generated.
 */
static bool
constraints_as_installed(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TupleConstr *constr = desc->constr;
	int			i;

	if (constr == NULL || constr->num_check != 1 || constr->has_generated_stored)
		return false;
	for (i = 0; i < NUM_COLUMNS; i++)
	{
		bool		nullable = (i == COL_USER_ID - 1 ||
								i == COL_ABSOLUTE_EXPIRES_AT - 1);

		if (TupleDescAttr(desc, i)->attnotnull == nullable)
			return false;
	}
	return true;
}

/*
 * How cmd must write the table as it is now: directly, or through SQL so
 * that whatever someone added to the table runs.  WRITE_SQL_MORE says the
 * statement may write more than the row (a trigger or a rule), which
 * matters to how a touch commits (touch_commit.c).
 */
SessionWritePath
session_write_path(Relation rel, CmdType cmd)
{
	if (rel->rd_rules != NULL || fires_triggers(rel, cmd))
		return WRITE_SQL_MORE;
	if (RelationGetDescr(rel)->natts != NUM_COLUMNS ||
		!constraints_as_installed(rel))
		return WRITE_SQL;
	return WRITE_DIRECT;
}

/*
 * Read the session stored under hash with one primary-key index probe: no
 * SQL, no executor, no privilege switch (nothing is written).  Like an SPI
 * query in a volatile function, it sees everything done so far in this
 * transaction, including earlier in the same statement.  On success the
 * values are copied into the current memory context, and *stored is a copy
 * of the row version they came from.
 */
bool
session_direct_read(const uint8 *hash, SessionRecord *rec, Interval **idle,
					HeapTuple *stored)
{
	Relation	rel;
	Relation	idx;
	Oid			pkey;
	Snapshot	snapshot;
	ScanKeyData skey;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bool		found = false;

	rel = table_open(session_sessions_relid(), AccessShareLock);
	check_columns(rel);
	pkey = session_primary_key_index(rel);
	if (!OidIsValid(pkey))
		elog(ERROR, "session storage has no primary key");
	idx = index_open(pkey, AccessShareLock);

	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_BYTEAEQ,
				session_hash_datum(hash));
	scan = session_index_beginscan(rel, idx, snapshot, 1);
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
 * Add the index entries of the row version in slot, just written by an
 * insert or by an update that could not be HOT (from 16 on, one that was
 * HOT but changed a summarizing index's column updates only those:
 * only_summarizing); unique indexes check as they would for INSERT or
 * UPDATE.
 */
static void
index_new_version(Relation rel, TupleTableSlot *slot, bool update,
				  bool only_summarizing)
{
	EState	   *estate = CreateExecutorState();
	MemoryContext oldcxt = MemoryContextSwitchTo(estate->es_query_cxt);
	ResultRelInfo *rri = makeNode(ResultRelInfo);

	/* no range table entry: no column counts as updated, as is the case */
	InitResultRelInfo(rri, rel, 0, NULL, 0);
	ExecOpenIndices(rri, false);
	session_insert_index_tuples(rri, slot, estate, update, only_summarizing);
	ExecCloseIndices(rri);
	MemoryContextSwitchTo(oldcxt);
	FreeExecutorState(estate);
}

/*
 * Move the expiry of the row version read as stored to target, in a table
 * that session_write_path allows to be written directly.  Waits for a
 * transaction that is changing the row, as UPDATE does; anything but TM_Ok
 * means nothing was written: TM_Updated, that version is no longer the
 * newest (a set, merge, regenerate or touch committed since it was read),
 * TM_Deleted, the session was destroyed or pruned meanwhile.
 */
TM_Result
session_direct_update_expiry(Relation rel, HeapTuple stored, TimestampTz target)
{
	int			col = COL_EXPIRES_AT;
	Datum		value = TimestampTzGetDatum(target);
	bool		isnull = false;
	TupleTableSlot *slot;
	Snapshot	snapshot;
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	SessionIndexUpdate index_update;
	TM_Result	result;

	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
	ExecStoreHeapTuple(heap_modify_tuple_by_cols(stored, RelationGetDescr(rel),
												 1, &col, &value, &isnull),
					   slot, true);
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	result = session_table_tuple_update(rel, &stored->t_self, slot,
										GetCurrentCommandId(true), snapshot,
										&tmfd, &lockmode, &index_update);
	UnregisterSnapshot(snapshot);
	if (result == TM_Ok && index_update != SESSION_INDEX_NONE)
		index_new_version(rel, slot, true,
						  index_update == SESSION_INDEX_SUMMARIZING);

	ExecDropSingleTupleTableSlot(slot);
	return result;
}

/*
 * Lock the row version read as stored against updates, as SELECT ... FOR
 * NO KEY UPDATE does without following the row to a newer version: what a
 * transaction-snapshot transaction does before an SQL update, so that the
 * update cannot fail with a serialization error.  Waits for a transaction
 * that is changing the row; TM_Ok means it is locked, TM_Updated and
 * TM_Deleted as for session_direct_update_expiry.
 */
TM_Result
session_direct_lock(Relation rel, HeapTuple stored)
{
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	TM_FailureData tmfd;
	TM_Result	result;

	result = table_tuple_lock(rel, &stored->t_self, snapshot, slot,
							  GetCurrentCommandId(true), LockTupleNoKeyExclusive,
							  LockWaitBlock, 0, &tmfd);
	UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(slot);
	return result;
}

/*
 * Insert a new session's row, values and isnull in column order, into a
 * table that session_write_path allows to be written directly.
 */
void
session_direct_insert(Relation rel, Datum *values, bool *isnull)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel),
													&TTSOpsHeapTuple);

	ExecStoreHeapTuple(heap_form_tuple(RelationGetDescr(rel), values, isnull),
					   slot, true);
	table_tuple_insert(rel, slot, GetCurrentCommandId(true), 0, NULL);
	index_new_version(rel, slot, false, false);
	ExecDropSingleTupleTableSlot(slot);
}
