/*
 * relations.c
 *		Finding the extension's tables: by name in session_internal, and
 *		session_internal.sessions, which every request opens, cached per
 *		backend.  Reads the catalogs and nothing of ours.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "relations.h"

/*
 * The OID of one of the extension's tables in session_internal.  Missing,
 * it is an error unless missing_ok, when InvalidOid is returned.
 */
Oid
session_internal_relid(const char *relname, bool missing_ok)
{
	Oid			relid = get_relname_relid(relname,
										  get_namespace_oid(SESSION_INTERNAL_SCHEMA,
															missing_ok));

	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("session storage table \"%s\" is missing", relname),
				 errhint("Reinstall the extension with DROP EXTENSION session; CREATE EXTENSION session;")));
	return relid;
}

/*
 * The OID of session_internal.sessions: kept until a relcache invalidation
 * names it (the table dropped, renamed or moved) or resets the whole cache.
 * Looking it up by name cost two catalog cache searches a request, about 1%
 * of a session_get's instructions (bench/instructions).
 */
static Oid	sessions_relid = InvalidOid;

static void
sessions_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == sessions_relid)
		sessions_relid = InvalidOid;
}

Oid
session_sessions_relid(void)
{
	static bool callback_registered = false;

	if (!OidIsValid(sessions_relid))
	{
		if (!callback_registered)
		{
			CacheRegisterRelcacheCallback(sessions_relcache_callback, (Datum) 0);
			callback_registered = true;
		}
		sessions_relid = session_internal_relid("sessions", false);
	}
	return sessions_relid;
}
