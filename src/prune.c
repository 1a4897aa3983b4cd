/*
 * prune.c
 *		Deleting expired sessions.  session_prune() is the one entry point
 *		for SQL callers (and so for pg_cron); the background worker drives
 *		the same steps with a transaction per batch.  Every run is recorded
 *		in session_internal.prune_state, which also carries the schedule
 *		across restarts.
 *
 * A run works in bursts of about PRUNE_BURST_USECS and after each pauses
 * session.prune_pause_ratio times as long as the burst took, so that a
 * large backlog leaves requests on a small machine their share of the CPU
 * and the WAL writer.  (Pausing between batches instead made either the
 * bursts or the batches' overhead too large.)  The bursts are short: on
 * the development VM a CPU load in 10 ms bursts raised requests' p99 6-12x,
 * one in 0.25 ms bursts 1.3-1.7x, and in 0.05-0.1 ms bursts 0.85-1.35x, at
 * the same share of the CPU (README, Performance).
 *
 * The first change to a page after a checkpoint writes the whole page to
 * the WAL, and a prune changes every page that holds an expired session:
 * those images were about 195 of the 219 MB of WAL of a 500 000-session
 * prune in the benchmark, and writing them out, more than the prune's CPU,
 * is what stalled concurrent requests.  So unless the server compresses
 * them already (wal_compression), a run writes them compressed with lz4:
 * 64-89 MB, for 10-20% more time under load (session.prune_wal_compression;
 * README, Performance).
 *
 * Callers of prune_finish and prune_last_start hold a session_sql_begin()
 * scope.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/wait_event.h"

#include "keys.h"
#include "owner.h"
#include "prune.h"
#include "session.h"
#include "store.h"

#define PRUNE_STATE SESSION_INTERNAL_SCHEMA ".prune_state"

#define PRUNE_BURST_USECS 100

void
prune_begin(PruneRun *run)
{
	run->start = GetCurrentTimestamp();
	ItemPointerSet(&run->after, 0, 0);
	run->deleted = 0;
	run->batches = 0;
	run->more = true;
	run->working_since = 0;
	run->overslept = 0;
}

/*
 * Pause once a burst of work has lasted long enough; see the top.  Sleeps
 * this short often last longer than asked: what one overran is taken off
 * the next, so that the run keeps the ratio it was given.
 */
static void
prune_pace(void *arg)
{
	PruneRun   *run = (PruneRun *) arg;
	TimestampTz now = GetCurrentTimestamp();
	int64		worked = now - run->working_since;
	double		pause;

	if (worked < PRUNE_BURST_USECS)
		return;
	pause = Min(worked * session_prune_pause_ratio - run->overslept,
				(double) USECS_PER_SEC);
	if (pause > 0)
	{
		TimestampTz slept_from = now;

		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		pg_usleep((long) pause);
		pgstat_report_wait_end();
		CHECK_FOR_INTERRUPTS();
		now = GetCurrentTimestamp();
		run->overslept = (now - slept_from) - (int64) pause;
	}
	else
		run->overslept = (int64) -pause;
	run->working_since = now;
}

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

/* Delete one batch of sessions that expired before the run began. */
void
prune_step(PruneRun *run)
{
	int			nestlevel = prune_compress_wal();

	run->working_since = GetCurrentTimestamp();
	run->deleted += session_store_prune_batch(&run->after, run->start,
											  session_prune_batch_size,
											  &run->more, prune_pace, run);
	run->batches++;
	prune_compress_wal_end(nestlevel);
}

/* Retire unused keys and record the run. */
void
prune_finish(PruneRun *run)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[4] = {TIMESTAMPTZOID, INTERVALOID, INT8OID, INT8OID};
	Datum		values[4];
	Interval   *duration = palloc0(sizeof(Interval));
	int			rc;
	int			nestlevel = prune_compress_wal();

	session_keys_retire(run->start);

	duration->time = GetCurrentTimestamp() - run->start;
	values[0] = TimestampTzGetDatum(run->start);
	values[1] = IntervalPGetDatum(duration);
	values[2] = Int64GetDatum((int64) run->deleted);
	values[3] = Int64GetDatum((int64) run->batches);

	if (plan == NULL)
	{
		plan = SPI_prepare("UPDATE " PRUNE_STATE " SET last_start = $1,"
						   " last_duration = $2, last_deleted = $3, last_batches = $4",
						   4, types);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
	}
	rc = SPI_execute_plan(plan, values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	prune_compress_wal_end(nestlevel);
}

/* When did the latest run start?  False if there has been none. */
bool
prune_last_start(TimestampTz *last_start)
{
	bool		isnull = true;
	int			rc;

	rc = SPI_execute("SELECT last_start FROM " PRUNE_STATE, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
		*last_start = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc,
														1, &isnull));
	return !isnull;
}

/*
 * session_prune(): delete expired sessions in batches of
 * session.prune_batch_size, paced as session.prune_pause_ratio says.
 * Called from SQL it runs inside the caller's transaction; each batch is
 * still short, skips rows that other transactions hold, and locks only the
 * expired rows it deletes.
 */
PG_FUNCTION_INFO_V1(session_prune);
Datum
session_prune(PG_FUNCTION_ARGS)
{
	PruneRun	run;
	OwnerScope	scope;

	prune_begin(&run);
	while (run.more)
	{
		CHECK_FOR_INTERRUPTS();
		prune_step(&run);
	}
	session_sql_begin(&scope);
	prune_finish(&run);
	session_sql_end(&scope);

	PG_RETURN_INT64((int64) run.deleted);
}
