/*
 * stats.c
 *		Activity counters for the session_stats view: one slot per database
 *		in shared memory, counted with atomics so the request path takes no
 *		lock once a backend has found its slot.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "session.h"
#include "stats.h"

/* this backend's slot, once found or claimed */
static SessionDbStats *my_slot = NULL;
/* every slot was taken when we tried to claim one: do not try again */
static bool slots_full = false;

/* Find (or claim) the current database's slot; NULL if none. */
static SessionDbStats *
database_slot(bool create)
{
	SessionDbStats *found = NULL;
	int			i;

	if (session_shared == NULL || !OidIsValid(MyDatabaseId))
		return NULL;
	if (my_slot != NULL || slots_full)
		return my_slot;

	LWLockAcquire(session_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < SESSION_STATS_SLOTS; i++)
	{
		SessionDbStats *slot = &session_shared->slots[i];

		if (slot->dboid == MyDatabaseId)
		{
			found = slot;
			break;
		}
		if (found == NULL && slot->dboid == InvalidOid && create)
			found = slot;
	}
	if (found != NULL && found->dboid == InvalidOid)
	{
		int			c;

		for (c = 0; c < SC_NUM_COUNTERS; c++)
			pg_atomic_write_u64(&found->counters[c], 0);
		found->dboid = MyDatabaseId;
	}
	LWLockRelease(session_shared->lock);

	if (found == NULL && create)
		slots_full = true;
	my_slot = found;
	return found;
}

/* Add n to a counter of the current database, if counters are kept. */
void
session_count(SessionCounter counter, uint64 n)
{
	SessionDbStats *slot = my_slot;

	if (slot == NULL)
	{
		if (session_shared == NULL)
			return;
		slot = database_slot(true);
		if (slot == NULL)
			return;
	}
	pg_atomic_fetch_add_u64(&slot->counters[counter], n);
}

/*
 * The counters and the prune interval for the session_stats view; all NULL
 * when the library is not preloaded (the interval also when the worker is
 * off).
 */
PG_FUNCTION_INFO_V1(session_stats_counters);
Datum
session_stats_counters(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[SC_NUM_COUNTERS + 1];
	bool		nulls[SC_NUM_COUNTERS + 1];
	SessionDbStats *slot;
	int			c;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (tupdesc->natts != SC_NUM_COUNTERS + 1)
		elog(ERROR, "return type has %d columns, expected %d",
			 tupdesc->natts, SC_NUM_COUNTERS + 1);

	slot = database_slot(false);
	for (c = 0; c < SC_NUM_COUNTERS; c++)
	{
		if (session_shared == NULL)
		{
			nulls[c] = true;
			values[c] = (Datum) 0;
		}
		else
		{
			nulls[c] = false;
			values[c] = Int64GetDatum(slot == NULL ? 0 :
									  (int64) pg_atomic_read_u64(&slot->counters[c]));
		}
	}

	if (session_shared == NULL || session_prune_interval == 0)
	{
		nulls[SC_NUM_COUNTERS] = true;
		values[SC_NUM_COUNTERS] = (Datum) 0;
	}
	else
	{
		Interval   *iv = palloc0(sizeof(Interval));

		iv->time = (int64) session_prune_interval * USECS_PER_SEC;
		nulls[SC_NUM_COUNTERS] = false;
		values[SC_NUM_COUNTERS] = IntervalPGetDatum(iv);
	}

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Zero the current database's counters. */
PG_FUNCTION_INFO_V1(session_stats_reset);
Datum
session_stats_reset(PG_FUNCTION_ARGS)
{
	SessionDbStats *slot = database_slot(false);
	int			c;

	if (slot != NULL)
		for (c = 0; c < SC_NUM_COUNTERS; c++)
			pg_atomic_write_u64(&slot->counters[c], 0);
	PG_RETURN_VOID();
}
