/*
 * settings.c
 *		The session.* settings: their variables, defaults and definitions.
 *
 * Every setting that decides a session's lifetime or how often touches write
 * is superuser-only (PGC_SUSET): an application role may not lengthen its
 * own sessions.  Defaults for a role or database go through ALTER
 * ROLE/DATABASE ... SET.  session.touch_synchronous_commit only trades a
 * caller's own durability, like synchronous_commit, so anyone may set it.
 * session.shards and session.shard say which ids this database may make
 * (see token.c), so they are superuser-only too, as are the limit on
 * sessions per user and what a login past it does (limit.c); a call that
 * needs its own limit passes it as an argument.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "settings.h"
#include "token.h"

int			session_idle_timeout = 7 * SECS_PER_DAY;
int			session_absolute_timeout = 30 * SECS_PER_DAY;
int			session_touch_interval = 60;
bool		session_touch_synchronous_commit = false;
int			session_prune_batch_size = 1000;
int			session_prune_interval = SECS_PER_DAY;
double		session_prune_pause_ratio = 1.0;
bool		session_prune_wal_compression = true;
int			session_shards = 1;
int			session_shard = 0;
int			session_max_sessions_per_user = 0;
int			session_on_session_limit = SESSION_LIMIT_EVICT;

static const struct config_enum_entry limit_actions[] = {
	{"evict", SESSION_LIMIT_EVICT, false},
	{"refuse", SESSION_LIMIT_REFUSE, false},
	{NULL, 0, false}
};

/* session.shards must be a power of two, as PL/Proxy's hash mask needs */
static bool
check_shards(int *newval, void **extra, GucSource source)
{
	if ((*newval & (*newval - 1)) != 0)
	{
		GUC_check_errdetail("session.shards must be a power of two.");
		return false;
	}
	return true;
}

/* Define every setting; called first thing from _PG_init. */
void
session_settings_define(void)
{
	DefineCustomIntVariable("session.idle_timeout",
							"Idle time after which a session expires, unless session_create() is given one.",
							NULL,
							&session_idle_timeout,
							7 * SECS_PER_DAY,
							1,
							SESSION_MAX_TIMEOUT_SECS,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("session.absolute_timeout",
							"Lifetime after which a session expires however active it is; 0 means none.",
							NULL,
							&session_absolute_timeout,
							30 * SECS_PER_DAY,
							0,
							SESSION_MAX_TIMEOUT_SECS,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("session.touch_interval",
							"Least extension of a session's expiry worth writing on a touch; 0 writes on every touch.",
							NULL,
							&session_touch_interval,
							60,
							0,
							SESSION_MAX_TIMEOUT_SECS,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("session.touch_synchronous_commit",
							 "Whether a transaction whose only writes are touches waits for its WAL to reach disk.",
							 "Off: such a commit is asynchronous; a crash can lose the last expiry rolls (up to 3 x wal_writer_delay), never a session or its data.",
							 &session_touch_synchronous_commit,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("session.prune_batch_size",
							"Expired sessions deleted per batch by session_prune().",
							NULL,
							&session_prune_batch_size,
							1000,
							1,
							1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomRealVariable("session.prune_pause_ratio",
							 "Pause after each burst of prune work (about 0.1 ms), as a multiple of the burst's time; 0 never pauses.",
							 NULL,
							 &session_prune_pause_ratio,
							 1.0,
							 0.0,
							 100.0,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("session.prune_wal_compression",
							 "Whether session_prune() compresses its full-page images with lz4 when wal_compression is off.",
							 "Has no effect when the server compresses them already (wal_compression is not off) or was built without lz4.",
							 &session_prune_wal_compression,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("session.prune_interval",
							"Time between background prunes of each database; 0 turns the prune worker off.",
							"Takes effect on reload.  Needs session in shared_preload_libraries.",
							&session_prune_interval,
							SECS_PER_DAY,
							0,
							SESSION_MAX_TIMEOUT_SECS,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("session.shards",
							"Number of shards the sessions are spread over (a power of two); 1 when not sharded.",
							"With more than one, every id this database makes routes to session.shard.",
							&session_shards,
							1,
							1,
							SESSION_MAX_SHARDS,
							PGC_SUSET,
							0,
							check_shards, NULL, NULL);

	DefineCustomIntVariable("session.shard",
							"This database's shard number, from 0 to session.shards - 1.",
							NULL,
							&session_shard,
							0,
							0,
							SESSION_MAX_SHARDS - 1,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("session.max_sessions_per_user",
							"At most this many live sessions per user id; 0 for no limit.",
							"A login past it does what session.on_session_limit says.",
							&session_max_sessions_per_user,
							0,
							0,
							INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("session.on_session_limit",
							 "What a login past session.max_sessions_per_user does.",
							 "evict: end the user's least recently used sessions; "
							 "refuse: fail the login.",
							 &session_on_session_limit,
							 SESSION_LIMIT_EVICT,
							 limit_actions,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("session");
}
