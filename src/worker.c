/*
 * worker.c
 *		Background pruning of expired sessions in every database that has
 *		the extension, with no configuration.
 *
 * A launcher, connected to no database, reads pg_database and starts one
 * short-lived worker per database when that database is due, one at a
 * time.  The worker connects, does its work and exits, so it never holds a
 * database open (DROP DATABASE) for longer than a batch.  It decides for
 * itself whether a prune is due from the last run's start recorded in the
 * database, so the schedule survives restarts without a burst of runs, and
 * reports back through shared memory so the launcher knows when to look
 * again.  Databases without the extension are looked at again once per
 * interval.  On a standby nothing starts until promotion.  What a worker
 * does in its database (the prune, a transaction per batch, stepping aside
 * for DDL) is prune.c's; here is only when and where it runs.
 *
 * The launcher waits for each worker it starts, so a worker never waits
 * long on anyone: its lock waits time out after WORKER_LOCK_TIMEOUT, and
 * the prune itself skips what other transactions hold.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "prune.h"
#include "settings.h"
#include "shmem.h"
#include "worker.h"

PGDLLEXPORT void session_launcher_main(Datum main_arg);
PGDLLEXPORT void session_prune_worker_main(Datum main_arg);

/* the postmaster restarts a launcher that died after this long */
#define LAUNCHER_RESTART_SECS	5
/* a failed or interrupted database is tried again after at most this */
#define RETRY_USECS				(60 * USECS_PER_SEC)
/* no lock wait of a worker's lasts longer than this */
#define WORKER_LOCK_TIMEOUT		"10s"

typedef struct ScheduleEntry
{
	Oid			dboid;			/* hash key */
	TimestampTz next_check;		/* 0: as soon as possible */
	bool		has_extension;
	bool		seen;			/* still in pg_database */
} ScheduleEntry;

/* What the launcher and its workers have in common. */
static void
describe_worker(BackgroundWorker *bgw, const char *function, const char *type,
				int restart_time)
{
	memset(bgw, 0, sizeof(*bgw));
	bgw->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* nothing runs on a standby until promotion */
	bgw->bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw->bgw_restart_time = restart_time;
	snprintf(bgw->bgw_library_name, BGW_MAXLEN, "session");
	snprintf(bgw->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(bgw->bgw_name, BGW_MAXLEN, "%s", type);
	snprintf(bgw->bgw_type, BGW_MAXLEN, "%s", type);
}

/* Register the launcher; called from _PG_init during preload. */
void
session_worker_register(void)
{
	BackgroundWorker bgw;

	describe_worker(&bgw, "session_launcher_main", "session prune launcher",
					LAUNCHER_RESTART_SECS);
	RegisterBackgroundWorker(&bgw);
}

/* The databases a worker could connect to, as a list of Oids. */
static List *
list_databases(void)
{
	List	   *dbs = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		/* templates are skipped: a connection would block CREATE DATABASE */
		if (!db->datallowconn || db->datistemplate ||
			database_is_invalid_form(db))
			continue;
		old = MemoryContextSwitchTo(cxt);
		dbs = lappend_oid(dbs, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	CommitTransactionCommand();
	return dbs;
}

/* whether the last worker could not be started for want of a slot */
static bool slots_exhausted = false;

/* Start a worker for one database, wait for it, and return its report. */
static PruneReport
run_worker(Oid dboid)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	PruneReport report;
	pid_t		pid;

	LWLockAcquire(session_shared->lock, LW_EXCLUSIVE);
	memset(&session_shared->report, 0, sizeof(PruneReport));
	session_shared->report.dboid = dboid;
	LWLockRelease(session_shared->lock);

	describe_worker(&bgw, "session_prune_worker_main", "session prune worker",
					BGW_NEVER_RESTART);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "session prune worker for database %u", dboid);
	bgw.bgw_main_arg = ObjectIdGetDatum(dboid);
	bgw.bgw_notify_pid = MyProcPid;

	memset(&report, 0, sizeof(report));
	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
	{
		/* once until a worker starts again, not once a database a minute */
		if (!slots_exhausted)
			ereport(LOG,
					(errmsg("could not start session prune worker: no free background worker slot"),
					 errhint("Raise max_worker_processes.")));
		slots_exhausted = true;
		report.outcome = PRUNE_NO_SLOT;
		return report;
	}
	slots_exhausted = false;

	status = WaitForBackgroundWorkerStartup(handle, &pid);
	if (status == BGWH_STARTED)
		status = WaitForBackgroundWorkerShutdown(handle);
	if (status == BGWH_POSTMASTER_DIED)
		proc_exit(1);
	pfree(handle);

	LWLockAcquire(session_shared->lock, LW_SHARED);
	report = session_shared->report;
	LWLockRelease(session_shared->lock);
	return report;
}

/* When to look at a database again, given what its worker reported. */
static TimestampTz
next_check_after(const PruneReport *report, TimestampTz now)
{
	int64		interval = (int64) session_prune_interval * USECS_PER_SEC;

	switch (report->outcome)
	{
		case PRUNE_NOT_DUE:
		case PRUNE_DONE:
			if (report->has_last_start)
				return report->last_start + interval;
			return now + interval;
		case PRUNE_NO_EXTENSION:
		case PRUNE_FAILED:
			/* a failure was logged once: the next try is an interval away */
			return now + interval;
		case PRUNE_NO_REPORT:
		case PRUNE_NO_SLOT:
		case PRUNE_INTERRUPTED:
			break;
	}
	return now + Min(interval, RETRY_USECS);
}

PGDLLEXPORT void
session_launcher_main(Datum main_arg)
{
	HTAB	   *schedule;
	HASHCTL		ctl;
	MemoryContext pass_cxt;
	bool		announce = true;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: only the shared catalogs, for pg_database */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(ScheduleEntry);
	schedule = hash_create("session prune schedule", 64, &ctl,
						   HASH_ELEM | HASH_BLOBS);
	pass_cxt = AllocSetContextCreate(TopMemoryContext, "session prune launcher",
									 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		long		timeout = -1;
		int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH;

		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			int			old_interval = session_prune_interval;

			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (session_prune_interval != old_interval)
			{
				HASH_SEQ_STATUS seq;
				ScheduleEntry *e;

				/* every database's due time depends on the interval */
				hash_seq_init(&seq, schedule);
				while ((e = hash_seq_search(&seq)) != NULL)
					e->next_check = 0;
				announce = true;
			}
		}

		if (session_prune_interval > 0)
		{
			List	   *dbs;
			ListCell   *lc;
			HASH_SEQ_STATUS seq;
			ScheduleEntry *e;
			TimestampTz next_wake = 0;
			int			with_extension = 0;
			bool		whole_pass = true;

			MemoryContextReset(pass_cxt);
			MemoryContextSwitchTo(pass_cxt);
			dbs = list_databases();

			hash_seq_init(&seq, schedule);
			while ((e = hash_seq_search(&seq)) != NULL)
				e->seen = false;

			foreach(lc, dbs)
			{
				Oid			dboid = lfirst_oid(lc);
				bool		found;

				CHECK_FOR_INTERRUPTS();
				if (ConfigReloadPending)
				{
					/* the interval may have changed: start over */
					whole_pass = false;
					break;
				}

				e = hash_search(schedule, &dboid, HASH_ENTER, &found);
				if (!found)
				{
					e->next_check = 0;
					e->has_extension = false;
				}
				e->seen = true;

				if (GetCurrentTimestamp() >= e->next_check)
				{
					PruneReport report = run_worker(dboid);

					/* a worker that did not start or report says nothing */
					if (report.outcome == PRUNE_NO_EXTENSION)
						e->has_extension = false;
					else if (report.outcome != PRUNE_NO_REPORT &&
							 report.outcome != PRUNE_NO_SLOT)
						e->has_extension = true;
					e->next_check = next_check_after(&report, GetCurrentTimestamp());
				}
			}

			hash_seq_init(&seq, schedule);
			while ((e = hash_seq_search(&seq)) != NULL)
			{
				/* gone from pg_database, if this pass saw all of it */
				if (!e->seen && whole_pass)
				{
					hash_search(schedule, &e->dboid, HASH_REMOVE, NULL);
					continue;
				}
				if (e->has_extension)
					with_extension++;
				if (next_wake == 0 || e->next_check < next_wake)
					next_wake = e->next_check;
			}

			if (announce && !ConfigReloadPending)
			{
				ereport(LOG,
						(errmsg("session prune launcher: %d database(s) with the extension, next check at %s",
								with_extension,
								next_wake ? timestamptz_to_str(next_wake) : "(none)")));
				announce = false;
			}

			if (next_wake != 0)
			{
				timeout = (long) Max(TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next_wake), 1);
				events |= WL_TIMEOUT;
			}
			else
			{
				/* no database at all: look again in an interval */
				timeout = (long) session_prune_interval * 1000L;
				events |= WL_TIMEOUT;
			}
			MemoryContextSwitchTo(TopMemoryContext);
		}

		(void) WaitLatch(MyLatch, events, timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Tell the launcher what happened here. */
static void
report_to_launcher(PruneOutcome outcome, bool has_last_start,
				   TimestampTz last_start)
{
	LWLockAcquire(session_shared->lock, LW_EXCLUSIVE);
	if (session_shared->report.dboid == MyDatabaseId)
	{
		session_shared->report.outcome = outcome;
		session_shared->report.has_last_start = has_last_start;
		session_shared->report.last_start = last_start;
	}
	LWLockRelease(session_shared->lock);
}

/* Which database a worker is in, for its error context. */
typedef struct WorkerDatabase
{
	Oid			dboid;
	const char *dbname;			/* once connected */
} WorkerDatabase;

/* Error context: say which database's prune failed. */
static void
prune_error_context(void *arg)
{
	WorkerDatabase *db = (WorkerDatabase *) arg;

	if (db->dbname != NULL)
		errcontext("session prune worker for database \"%s\"", db->dbname);
	else
		errcontext("session prune worker for database with OID %u", db->dboid);
}

PGDLLEXPORT void
session_prune_worker_main(Datum main_arg)
{
	WorkerDatabase db = {DatumGetObjectId(main_arg), NULL};
	PruneCheck	check;
	TimestampTz start;
	ErrorContextCallback errcallback;
	PruneEnd	end;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	errcallback.callback = prune_error_context;
	errcallback.arg = &db;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	BackgroundWorkerInitializeConnectionByOid(db.dboid, InvalidOid, 0);
	SetConfigOption("lock_timeout", WORKER_LOCK_TIMEOUT, PGC_SUSET, PGC_S_OVERRIDE);

	session_prune_check(&check);
	db.dbname = check.dbname;
	if (!check.usable)
	{
		report_to_launcher(check.has_extension ? PRUNE_INTERRUPTED : PRUNE_NO_EXTENSION,
						   false, 0);
		proc_exit(0);
	}
	if (check.has_last_start &&
		GetCurrentTimestamp() < check.last_start + (int64) session_prune_interval * USECS_PER_SEC)
	{
		report_to_launcher(PRUNE_NOT_DUE, true, check.last_start);
		proc_exit(0);
	}

	/*
	 * An error in the run (a trigger someone put on the sessions table that
	 * raises, a deferred check that fails at a batch's commit) is logged
	 * here once, with the database's name, and the launcher tries again an
	 * interval later, going on meanwhile with the other databases.  The
	 * batches committed before it stay done.
	 */
	PG_TRY();
	{
		end = session_prune_in_worker(check.dbname, &start);
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		report_to_launcher(PRUNE_FAILED, false, 0);
		RESUME_INTERRUPTS();
		proc_exit(0);
	}
	PG_END_TRY();

	if (end == PRUNE_FINISHED)
		report_to_launcher(PRUNE_DONE, true, start);
	else
		report_to_launcher(PRUNE_INTERRUPTED, check.has_last_start, check.last_start);
	proc_exit(0);
}
