/*
 * bind.c
 *		The session bound to the current transaction, for row-level security.
 *
 * session_bind(token) verifies a token as session_touch does (signature,
 * expiry, rolling the expiry forward) and, if it names a live session,
 * binds that session's user id and data to the current transaction;
 * session_bound_user() and session_bound_data() read them, for policies.
 * The binding is backend memory that only session_bind sets, after the
 * checks: no setting, table or function lets SQL write it.
 *
 * It lives as long as the (sub)transaction that made it: a bind inside a
 * savepoint that is rolled back is undone (the binding before it comes
 * back), one inside a released savepoint belongs to the parent from then
 * on, and commit, abort or PREPARE TRANSACTION end it, so that the next
 * transaction on the connection (the next pgbouncer client, in
 * transaction pooling) starts unbound.  A second bind replaces the first;
 * a bind whose token names no live session leaves the transaction unbound.
 *
 * The bindings are a stack in TopTransactionContext, one entry per bind,
 * each tagged with the subtransaction that made it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "bind.h"

typedef struct SessionBinding
{
	SubTransactionId subid;		/* the subtransaction that made it */
	bool		bound;			/* false: an unbinding (a failed bind) */
	text	   *user_id;		/* NULL when the session has none */
	Jsonb	   *data;
	struct SessionBinding *prev;
} SessionBinding;

static SessionBinding *bindings = NULL;

static void
bind_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* the memory goes with TopTransactionContext */
			bindings = NULL;
			break;
		default:
			break;
	}
}

static void
bind_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	SessionBinding *b;

	switch (event)
	{
		case SUBXACT_EVENT_ABORT_SUB:
			while (bindings != NULL && bindings->subid == mySubid)
				bindings = bindings->prev;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			for (b = bindings; b != NULL && b->subid == mySubid; b = b->prev)
				b->subid = parentSubid;
			break;
		default:
			break;
	}
}

void
session_bind_init(void)
{
	RegisterXactCallback(bind_xact_callback, NULL);
	RegisterSubXactCallback(bind_subxact_callback, NULL);
}

/*
 * Bind rec's session to the current transaction, or, with rec NULL, leave
 * it unbound; either replaces what an earlier bind in it set.  The values
 * are copied.
 */
void
session_bind_set(const SessionRecord *rec)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	SessionBinding *b = palloc0(sizeof(SessionBinding));

	b->subid = GetCurrentSubTransactionId();
	if (rec != NULL)
	{
		b->bound = true;
		if (!rec->user_id_null)
			b->user_id = DatumGetTextPCopy(rec->user_id);
		b->data = DatumGetJsonbPCopy(rec->data);
	}
	b->prev = bindings;
	bindings = b;
	MemoryContextSwitchTo(old);
}

/*
 * The bound session's user id and data, copied into the caller's memory;
 * false when the transaction has no bound session.  user_id is NULL for a
 * session without one.
 */
bool
session_bind_get(text **user_id, Jsonb **data)
{
	if (bindings == NULL || !bindings->bound)
		return false;
	if (user_id != NULL)
		*user_id = bindings->user_id == NULL ? NULL :
			DatumGetTextPCopy(PointerGetDatum(bindings->user_id));
	if (data != NULL)
		*data = DatumGetJsonbPCopy(PointerGetDatum(bindings->data));
	return true;
}

PG_FUNCTION_INFO_V1(session_bound_user);
Datum
session_bound_user(PG_FUNCTION_ARGS)
{
	text	   *user_id;

	if (!session_bind_get(&user_id, NULL) || user_id == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(user_id);
}

PG_FUNCTION_INFO_V1(session_bound_data);
Datum
session_bound_data(PG_FUNCTION_ARGS)
{
	Jsonb	   *data;

	if (!session_bind_get(NULL, &data))
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(data);
}
