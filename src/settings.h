/*
 * settings.h
 *		The session.* settings, read by every part of the extension.
 */
#ifndef SESSION_SETTINGS_H
#define SESSION_SETTINGS_H

#include "datatype/timestamp.h"

/* browsers cap a cookie's Max-Age at 400 days; so do we, for any timeout */
#define SESSION_MAX_TIMEOUT_SECS (400 * SECS_PER_DAY)

/* in seconds where they are times */
extern int	session_idle_timeout;
extern int	session_absolute_timeout;
extern int	session_touch_interval;
extern bool session_touch_synchronous_commit;
extern int	session_prune_batch_size;
extern int	session_prune_interval;
extern double session_prune_pause_ratio;
extern bool session_prune_wal_compression;
extern int	session_shards;
extern int	session_shard;
extern int	session_max_sessions_per_user;
extern int	session_on_session_limit;

/* what a login past session.max_sessions_per_user does */
typedef enum SessionLimitAction
{
	SESSION_LIMIT_EVICT,		/* end the user's least recently used */
	SESSION_LIMIT_REFUSE		/* fail the login, SQLSTATE 53400 */
} SessionLimitAction;

extern void session_settings_define(void);

#endif							/* SESSION_SETTINGS_H */
