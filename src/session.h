/*
 * session.h
 *		Names and settings shared by the session extension's C files.
 */
#ifndef SESSION_H
#define SESSION_H

#include "datatype/timestamp.h"

/* where the extension keeps its tables; created by the install script */
#define SESSION_INTERNAL_SCHEMA "session_internal"

/* browsers cap a cookie's Max-Age at 400 days; so do we, for any timeout */
#define SESSION_MAX_TIMEOUT_SECS (400 * SECS_PER_DAY)

extern Oid	session_internal_relid(const char *relname, bool missing_ok);
extern Oid	session_sessions_relid(void);

/* GUCs, in seconds (see session.c) */
extern int	session_idle_timeout;
extern int	session_absolute_timeout;
extern int	session_touch_interval;
extern int	session_prune_batch_size;
extern int	session_prune_interval;
extern double session_prune_pause_ratio;
extern bool session_prune_wal_compression;

#endif							/* SESSION_H */
