/*
 * prune.c
 *		The whole of a prune: the scan that finds and deletes expired
 *		sessions, its pacing, its WAL policy, the retirement of unused keys
 *		and the record in session_internal.prune_state, and the transaction
 *		policy of both callers: session_prune() (SQL, and so pg_cron) runs
 *		in the caller's transaction, the background worker (worker.c) a
 *		transaction per batch.
 *
 * A batch reads the heap in physical order with a TID range scan, which
 * needs no index on expires_at (one would make every touch a non-HOT
 * update), and ends after session.prune_batch_size expired rows or after
 * as many heap pages, at most PRUNE_MAX_BATCH_PAGES, so that each of the
 * worker's transactions stays short however few of the rows have expired.
 * It deletes without waiting: a row that another transaction is changing
 * or holds locked (a request, an application's open transaction) is
 * skipped and left for the next run, so a prune never waits on a request.
 * Requests never wait on a prune either, since they only change live
 * sessions (ending an expired one is the exception: it waits for the
 * batch).  A table with delete triggers (an application's foreign keys
 * included) is deleted from through SQL so that they fire; a row a foreign
 * key still needs stays, and is counted.
 *
 * A run works in bursts of about PRUNE_BURST_USECS and after each pauses
 * session.prune_pause_ratio times as long as the burst took, so that a
 * large backlog leaves requests on a small machine their share of the CPU
 * and the WAL writer.  (Pausing between batches instead made either the
 * bursts or the batches' overhead too large.)  The bursts are short: on
 * the development VM a CPU load in 10 ms bursts raised requests' p99 6-12x,
 * one in 0.25 ms bursts 1.3-1.7x, and in 0.05-0.1 ms bursts 0.85-1.35x, at
 * the same share of the CPU (README, Performance).  Pauses fall between
 * heap pages, with no buffer pinned (VACUUM can take its cleanup lock on
 * any page meanwhile), and end at once if the postmaster dies.
 *
 * The first change to a page after a checkpoint writes the whole page to
 * the WAL, and a prune changes every page that holds an expired session:
 * those images were about 195 of the 219 MB of WAL of a 500 000-session
 * prune in the benchmark, and writing them out, more than the prune's CPU,
 * is what stalled concurrent requests.  So unless the server compresses
 * them already (wal_compression), a run writes them compressed with lz4:
 * 64-89 MB, for 10-20% more time under load (session.prune_wal_compression;
 * README, Performance).
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "postmaster/postmaster.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/pmsignal.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "heap_direct.h"
#include "keys.h"
#include "owner.h"
#include "prune.h"
#include "relations.h"
#include "settings.h"

#define PRUNE_STATE SESSION_INTERNAL_SCHEMA ".prune_state"
#define SESSIONS	SESSION_INTERNAL_SCHEMA ".sessions"

#define PRUNE_BURST_USECS 100
#define PRUNE_MAX_BATCH_PAGES 1024

/* A prune in progress: where it is in the heap and what it has done. */
typedef struct PruneRun
{
	TimestampTz start;			/* when it began: sessions expired by then go */
	ItemPointerData after;		/* the heap position reached */
	uint64		deleted;
	uint64		kept;			/* expired, but a foreign key needs them */
	uint64		batches;
	bool		more;			/* another batch may find something */
	TimestampTz working_since;	/* start of the work since the last pause */
	int64		overslept;		/* microseconds the last pause ran over */
} PruneRun;

static void
prune_begin(PruneRun *run)
{
	run->start = GetCurrentTimestamp();
	ItemPointerSet(&run->after, 0, 0);
	run->deleted = 0;
	run->kept = 0;
	run->batches = 0;
	run->more = true;
	run->working_since = 0;
	run->overslept = 0;
}

/* ---- pacing ---- */

/* Has the burst of work since the last pause lasted long enough? */
static bool
prune_pause_due(PruneRun *run)
{
	return session_prune_pause_ratio > 0 &&
		GetCurrentTimestamp() - run->working_since >= PRUNE_BURST_USECS;
}

/*
 * Pause for ratio times the burst just done.  Sleeps this short often last
 * longer than asked: what one overran is taken off the next, so that the
 * run keeps the ratio it was given.  A pause of a millisecond or more waits
 * on the latch; a shorter one sleeps and then checks on the postmaster, so
 * either ends with it.
 */
static void
prune_pause(PruneRun *run)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		worked = now - run->working_since;
	double		pause;

	pause = Min(worked * session_prune_pause_ratio - run->overslept,
				(double) USECS_PER_SEC);
	if (pause > 0)
	{
		TimestampTz slept_from = now;

		if (pause >= 1000)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 (long) (pause / 1000), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		else
		{
			pgstat_report_wait_start(PG_WAIT_EXTENSION);
			pg_usleep((long) pause);
			pgstat_report_wait_end();
			if (!PostmasterIsAlive())
				proc_exit(1);
		}
		CHECK_FOR_INTERRUPTS();
		now = GetCurrentTimestamp();
		run->overslept = (now - slept_from) - (int64) pause;
	}
	else
		run->overslept = (int64) -pause;
	run->working_since = now;
}

/* ---- WAL policy ---- */

/*
 * Have the full-page images of a prune's work compressed, as the top says.
 * Returns the GUC nest level for prune_compress_wal_end, or -1 when nothing
 * was changed.  The setting goes back at the end of each piece of work (or
 * with the transaction, on error), so a caller's own transaction keeps the
 * server's wal_compression.
 */
static int
prune_compress_wal(void)
{
#ifdef USE_LZ4
	if (session_prune_wal_compression &&
		wal_compression == WAL_COMPRESSION_NONE)
	{
		int			nestlevel = NewGUCNestLevel();

		(void) set_config_option("wal_compression", "lz4", PGC_SUSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true,
								 ERROR, false);
		return nestlevel;
	}
#endif
	return -1;
}

static void
prune_compress_wal_end(int nestlevel)
{
	if (nestlevel >= 0)
		AtEOXact_GUC(true, nestlevel);
}

/* ---- deleting through SQL, for a table with delete triggers ---- */

/*
 * Run plan (a DELETE) with args in a subtransaction.  Returns the rows it
 * deleted, or -1 if a foreign key forbade the delete (the subtransaction is
 * rolled back and nothing of it stays); any other error is thrown on.
 */
static int64
delete_in_subxact(SPIPlanPtr plan, Datum *args)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile int64 deleted = 0;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		int			rc = SPI_execute_plan(plan, args, NULL, false, 0);

		if (rc != SPI_OK_DELETE)
			elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
		deleted = (int64) SPI_processed;
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_FOREIGN_KEY_VIOLATION)
			ReThrowError(edata);
		FreeErrorData(edata);
		deleted = -1;
	}
	PG_END_TRY();
	return deleted;
}

/*
 * Delete the rows at tids (locked by this transaction, expired by the
 * run's start) through SQL, so that the table's triggers fire: the whole
 * batch in one statement, or, when a foreign key forbids one of them, row
 * by row, leaving each forbidden row in place.
 */
static void
delete_through_sql(PruneRun *run, ItemPointerData *tids, int ntids)
{
	static SPIPlanPtr batch_plan = NULL;
	static SPIPlanPtr row_plan = NULL;
	Oid			batch_types[2] = {TIDARRAYOID, TIMESTAMPTZOID};
	Oid			row_types[2] = {TIDOID, TIMESTAMPTZOID};
	OwnerScope	scope;
	Datum	   *elems;
	Datum		args[2];
	int64		n;
	int			i;

	if (ntids == 0)
		return;

	session_sql_begin(&scope);
	if (batch_plan == NULL)
		batch_plan = session_sql_prepare("DELETE FROM " SESSIONS
										 " WHERE ctid OPERATOR(pg_catalog.=) ANY ($1)"
										 " AND expires_at OPERATOR(pg_catalog.<=) $2",
										 2, batch_types, 0);
	if (row_plan == NULL)
		row_plan = session_sql_prepare("DELETE FROM " SESSIONS
									   " WHERE ctid OPERATOR(pg_catalog.=) $1"
									   " AND expires_at OPERATOR(pg_catalog.<=) $2",
									   2, row_types, 0);

	elems = palloc(sizeof(Datum) * ntids);
	for (i = 0; i < ntids; i++)
		elems[i] = PointerGetDatum(&tids[i]);
	args[0] = PointerGetDatum(construct_array(elems, ntids, TIDOID,
											  sizeof(ItemPointerData), false,
											  TYPALIGN_SHORT));
	args[1] = TimestampTzGetDatum(run->start);

	n = delete_in_subxact(batch_plan, args);
	if (n >= 0)
		run->deleted += n;
	else
		for (i = 0; i < ntids; i++)
		{
			CHECK_FOR_INTERRUPTS();
			args[0] = PointerGetDatum(&tids[i]);
			n = delete_in_subxact(row_plan, args);
			if (n >= 0)
				run->deleted += n;
			else
				run->kept++;
		}
	session_sql_end(&scope);
}

/* ---- the scan ---- */

/*
 * One batch: from run->after on, delete up to session.prune_batch_size
 * sessions that expired by the run's start, looking at no more than as
 * many heap pages (PRUNE_MAX_BATCH_PAGES at most); see the top.
 */
static void
prune_step(PruneRun *run)
{
	int			limit = session_prune_batch_size;
	int			nestlevel = prune_compress_wal();
	Relation	rel;
	bool		via_sql;
	Snapshot	snapshot;
	CommandId	cid;
	BlockNumber first;
	BlockNumber last;
	ItemPointerData mintid;
	ItemPointerData maxtid;
	TableScanDesc scan;
	TupleTableSlot *slot;
	TupleTableSlot *lockslot = NULL;
	ItemPointerData *tids = NULL;
	int			ntids = 0;
	int			examined = 0;
	BlockNumber page = InvalidBlockNumber;

	run->working_since = GetCurrentTimestamp();
	rel = session_direct_open(CMD_DELETE);
	via_sql = session_write_path(rel, CMD_DELETE) == WRITE_SQL_MORE;
	if (via_sql)
	{
		tids = palloc(sizeof(ItemPointerData) * limit);
		lockslot = table_slot_create(rel, NULL);
	}

	/* see what earlier batches of this transaction deleted */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	cid = GetCurrentCommandId(true);

	/* this batch's pages: from the position reached, as many as allowed */
	first = ItemPointerGetBlockNumberNoCheck(&run->after);
	last = (BlockNumber) Min((uint64) first + Min(limit, PRUNE_MAX_BATCH_PAGES) - 1,
							 (uint64) MaxBlockNumber);
	ItemPointerSet(&mintid, first,
				   ItemPointerGetOffsetNumberNoCheck(&run->after) + 1);
	ItemPointerSet(&maxtid, last, MaxOffsetNumber);
	scan = session_table_beginscan_tidrange(rel, snapshot, &mintid, &maxtid);
	slot = table_slot_create(rel, NULL);

	run->more = false;
	while (table_scan_getnextslot_tidrange(scan, ForwardScanDirection, slot))
	{
		BlockNumber blk = ItemPointerGetBlockNumber(&slot->tts_tid);
		bool		isnull;
		TM_FailureData tmfd;

		CHECK_FOR_INTERRUPTS();
		if (blk != page)
		{
			page = blk;
			if (prune_pause_due(run))
			{
				/* drop the scan's pin, pause, and read this page again */
				ExecClearTuple(slot);
				ItemPointerSet(&mintid, blk, FirstOffsetNumber);
				table_rescan_tidrange(scan, &mintid, &maxtid);
				prune_pause(run);
				continue;
			}
		}

		ItemPointerCopy(&slot->tts_tid, &run->after);
		if (DatumGetTimestampTz(slot_getattr(slot, COL_EXPIRES_AT, &isnull)) > run->start)
			continue;
		if (!via_sql)
		{
			if (session_table_tuple_delete(rel, &slot->tts_tid, cid, snapshot,
										   &tmfd) == TM_Ok)
				run->deleted++;
		}
		else if (table_tuple_lock(rel, &slot->tts_tid, snapshot, lockslot, cid,
								  LockTupleExclusive, LockWaitSkip, 0,
								  &tmfd) == TM_Ok)
			tids[ntids++] = slot->tts_tid;
		if (++examined >= limit)
		{
			run->more = true;
			break;
		}
	}

	/* every page of the range seen: the next batch starts after it */
	if (!run->more && (uint64) last + 1 < RelationGetNumberOfBlocks(rel))
	{
		ItemPointerSet(&run->after, last + 1, InvalidOffsetNumber);
		run->more = true;
	}

	ExecDropSingleTupleTableSlot(slot);
	if (lockslot != NULL)
		ExecDropSingleTupleTableSlot(lockslot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);

	if (via_sql)
	{
		delete_through_sql(run, tids, ntids);
		pfree(tids);
	}
	run->batches++;
	prune_compress_wal_end(nestlevel);
}

/* ---- the record of a run ---- */

/*
 * Retire unused keys and record the run in prune_state.  Unless wait, a
 * prune_state row that another transaction holds (a session_prune() in an
 * open transaction) makes this record nothing and return false rather than
 * wait for it.
 */
static bool
prune_record(PruneRun *run, bool wait)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[4] = {TIMESTAMPTZOID, INTERVALOID, INT8OID, INT8OID};
	Datum		values[4];
	Interval   *duration = palloc0(sizeof(Interval));
	OwnerScope	scope;
	int			rc;
	int			nestlevel = prune_compress_wal();

	session_sql_begin(&scope);
	if (!wait)
	{
		rc = SPI_execute("SELECT FROM " PRUNE_STATE " FOR UPDATE SKIP LOCKED",
						 false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
		if (SPI_processed == 0)
		{
			session_sql_end(&scope);
			prune_compress_wal_end(nestlevel);
			return false;
		}
	}

	(void) session_keys_retire();

	duration->time = GetCurrentTimestamp() - run->start;
	values[0] = TimestampTzGetDatum(run->start);
	values[1] = IntervalPGetDatum(duration);
	values[2] = Int64GetDatum((int64) run->deleted);
	values[3] = Int64GetDatum((int64) run->batches);

	if (plan == NULL)
		plan = session_sql_prepare("UPDATE " PRUNE_STATE " SET last_start = $1,"
								   " last_duration = $2, last_deleted = $3, last_batches = $4",
								   4, types, 0);
	rc = SPI_execute_plan(plan, values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	session_sql_end(&scope);
	prune_compress_wal_end(nestlevel);

	if (run->kept > 0)
		ereport(LOG,
				(errmsg("session prune kept %llu expired sessions that a foreign key still references",
						(unsigned long long) run->kept)));
	return true;
}

/* ---- transaction policy ---- */

/*
 * session_prune(): delete expired sessions in batches, paced as
 * session.prune_pause_ratio says.  Called from SQL it runs inside the
 * caller's transaction; each batch is still short, skips rows that other
 * transactions hold, and locks only the expired rows it deletes.
 */
PG_FUNCTION_INFO_V1(session_prune);
Datum
session_prune(PG_FUNCTION_ARGS)
{
	PruneRun	run;

	prune_begin(&run);
	while (run.more)
	{
		CHECK_FOR_INTERRUPTS();
		prune_step(&run);
	}
	(void) prune_record(&run, true);

	PG_RETURN_INT64((int64) run.deleted);
}

/*
 * May the worker go on with the next piece of work without making anyone
 * wait?  Not when the extension is gone, when someone is waiting to drop
 * the database, or when DDL (DROP/ALTER EXTENSION, ...) holds or waits for
 * a lock on one of the extension's tables.  The locks taken here last
 * until the end of the (short) transaction.
 */
static bool
may_proceed(void)
{
	/*
	 * The modes the work needs, which DDL's conflict with.  keys: only read
	 * here (retirement takes its own lock, conditionally), so a
	 * session_prune() in an open transaction, which holds the retirement's
	 * lock, does not make the worker step aside.
	 */
	static const struct
	{
		const char *name;
		LOCKMODE	mode;
	}			tables[] = {
		{"sessions", RowExclusiveLock},
		{"keys", AccessShareLock},
		{"prune_state", RowExclusiveLock},
	};
	LOCKTAG		tag;
	int			i;

	if (!OidIsValid(get_extension_oid("session", true)))
		return false;

	/* DROP DATABASE holds AccessExclusiveLock on it while waiting for us */
	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, MyDatabaseId, 0);
	if (LockAcquire(&tag, AccessShareLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		return false;

	for (i = 0; i < lengthof(tables); i++)
	{
		Oid			relid = session_internal_relid(tables[i].name, true);

		if (!OidIsValid(relid) ||
			!ConditionalLockRelationOid(relid, tables[i].mode))
			return false;
	}
	return true;
}

static void
worker_xact_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

static void
worker_xact_end(void)
{
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* For the worker, in a transaction of its own: is this database due? */
void
session_prune_check(PruneCheck *check)
{
	memset(check, 0, sizeof(*check));
	worker_xact_begin("session: checking whether a prune is due");
	check->has_extension = OidIsValid(get_extension_oid("session", true));
	check->usable = check->has_extension && !RecoveryInProgress() &&
		may_proceed();
	if (check->usable)
	{
		OwnerScope	scope;
		bool		isnull = true;
		int			rc;

		session_sql_begin(&scope);
		rc = SPI_execute("SELECT last_start FROM " PRUNE_STATE, true, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
		if (SPI_processed > 0)
			check->last_start =
				DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc,
												  1, &isnull));
		check->has_last_start = !isnull;
		session_sql_end(&scope);
	}
	check->dbname = MemoryContextStrdup(TopMemoryContext,
										get_database_name(MyDatabaseId));
	worker_xact_end();
}

/*
 * For the worker: a whole prune of this database, a transaction per batch,
 * stepping aside (PRUNE_STEPPED_ASIDE) whenever may_proceed says so or
 * another transaction is recording a prune.  On PRUNE_FINISHED *start is
 * the run's start, as recorded.
 */
PruneEnd
session_prune_in_worker(const char *dbname, TimestampTz *start)
{
	ConstraintsSetStmt *all_immediate = makeNode(ConstraintsSetStmt);
	PruneRun	run;

	prune_begin(&run);
	while (run.more)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		worker_xact_begin("session: pruning expired sessions");
		if (!may_proceed())
		{
			worker_xact_end();
			ereport(LOG,
					(errmsg("session prune of database \"%s\" stopped after %llu batches to let other work through",
							dbname, (unsigned long long) run.batches)));
			return PRUNE_STEPPED_ASIDE;
		}

		/*
		 * The worker's transaction is its own: a deferred foreign key to a
		 * session is checked at the end of each delete, so a session it
		 * still needs is kept and counted, as for a key that is not
		 * deferred, instead of failing the batch at commit.
		 */
		AfterTriggerSetState(all_immediate);
		prune_step(&run);
		worker_xact_end();
	}

	worker_xact_begin("session: recording the prune");
	if (!may_proceed())
	{
		worker_xact_end();
		return PRUNE_STEPPED_ASIDE;
	}
	if (!prune_record(&run, false))
	{
		worker_xact_end();
		ereport(LOG,
				(errmsg("session prune of database \"%s\" not recorded: another transaction holds the prune's state, so that prune records itself",
						dbname)));
		return PRUNE_STEPPED_ASIDE;
	}
	worker_xact_end();

	ereport(LOG,
			(errmsg("session prune of database \"%s\": %llu expired sessions deleted in %llu batches, %.3f s",
					dbname, (unsigned long long) run.deleted,
					(unsigned long long) run.batches,
					(double) (GetCurrentTimestamp() - run.start) / USECS_PER_SEC)));
	*start = run.start;
	return PRUNE_FINISHED;
}
