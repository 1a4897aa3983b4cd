/*
 * touch_commit.c
 *		How a transaction whose only writes are touches commits.
 *
 * A touch that rolls a session's idle expiry forward writes one HOT update,
 * and an ordinary commit then waits for the WAL to reach disk: that flush,
 * not the update, is most of what a writing touch costs.  Losing such a
 * write in a crash loses nothing a user can see but a little idle time (the
 * session keeps the expiry it had before; it is never revived, lost or
 * changed), so unless session.touch_synchronous_commit is on, a transaction
 * whose only WAL is touch writes commits as with synchronous_commit = off:
 * the walwriter flushes it within 3 x wal_writer_delay.
 *
 * "Only" is checked, not assumed: the decision is made just before commit,
 * and only if the transaction had no XID before its first touch write and
 * has written no WAL since its last one, and each touch write was the row
 * update alone (store.c's touch_update says so: an update through SQL that
 * could fire a trigger or a rule does not count as one).  Anything else it
 * does that writes WAL (a row, a sequence, a page prune) keeps the normal,
 * durable commit.  Session creation, regeneration, data changes and
 * destruction always commit durably.
 *
 * Only the default strength is relaxed: synchronous_commit on (or local)
 * becomes off for such a commit.  A transaction, session, role or database
 * that asked for remote_write or remote_apply, to have a standby see the
 * write, keeps it, and so does one that already has it off.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"

#include "settings.h"
#include "touch_commit.h"

/* The transaction whose WAL so far is touch writes only, and its WAL end. */
static TransactionId touch_only_xid = InvalidTransactionId;
static XLogRecPtr touch_only_end = InvalidXLogRecPtr;

/* synchronous_commit before this commit turned it off; -1 if it did not */
static int	saved_synchronous_commit = -1;

static void
touch_commit_xact_callback(XactEvent event, void *arg)
{
	bool		eligible;

	/* the commit this callback made asynchronous has ended, or failed */
	if (saved_synchronous_commit >= 0 &&
		(event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT))
	{
		synchronous_commit = saved_synchronous_commit;
		saved_synchronous_commit = -1;
	}

	if (!TransactionIdIsValid(touch_only_xid))
		return;

	eligible = (event == XACT_EVENT_PRE_COMMIT &&
				!session_touch_synchronous_commit &&
				(synchronous_commit == SYNCHRONOUS_COMMIT_LOCAL_FLUSH ||
				 synchronous_commit == SYNCHRONOUS_COMMIT_REMOTE_FLUSH) &&
				TransactionIdEquals(touch_only_xid, GetTopTransactionIdIfAny()) &&
				XactLastRecEnd == touch_only_end);

	touch_only_xid = InvalidTransactionId;
	touch_only_end = InvalidXLogRecPtr;

	if (eligible)
	{
		/*
		 * Like SET LOCAL synchronous_commit = off, undone above when this
		 * commit ends or fails; but set directly, because a SET LOCAL makes
		 * the end of the transaction visit every setting (AtEOXact_GUC),
		 * which cost more than the rest of a touch's commit.  Nothing reads
		 * the value in between but RecordTransactionCommit and the
		 * synchronous replication wait, which it turns off too.
		 */
		saved_synchronous_commit = synchronous_commit;
		synchronous_commit = SYNCHRONOUS_COMMIT_OFF;
		ereport(DEBUG1,
				(errmsg_internal("session: committing without waiting for the WAL flush, the transaction's only writes were session expiry rolls")));
	}
}

/*
 * Whether the current transaction has written nothing yet but touches.
 * Only store.c's touch_update calls this, just before a touch's write.
 */
bool
session_touch_commit_clean(void)
{
	TransactionId xid = GetTopTransactionIdIfAny();

	if (!TransactionIdIsValid(xid))
		return true;
	return TransactionIdEquals(xid, touch_only_xid) &&
		XactLastRecEnd == touch_only_end;
}

/*
 * Record a touch's write, just after it.  clean: what
 * session_touch_commit_clean() said just before it, and the write was the
 * row update alone.  Only store.c's touch_update calls this.
 */
void
session_touch_commit_wrote(bool clean)
{
	if (!clean)
	{
		touch_only_xid = InvalidTransactionId;
		return;
	}
	touch_only_xid = GetTopTransactionIdIfAny();
	touch_only_end = XactLastRecEnd;
}

/*
 * Called once, from _PG_init.  Transaction callbacks run newest first, so
 * registering early lets the pre-commit callbacks of libraries loaded
 * later write their WAL before this one looks.
 */
void
session_touch_commit_init(void)
{
	RegisterXactCallback(touch_commit_xact_callback, NULL);
}
