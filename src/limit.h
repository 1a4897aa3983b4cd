/*
 * limit.h
 *		The limit on live sessions per user.
 */
#ifndef SESSION_LIMIT_H
#define SESSION_LIMIT_H

#include "fmgr.h"
#include "datatype/timestamp.h"

#include "settings.h"

/* A call's limit: at most max live sessions per user (0: none). */
typedef struct SessionLimit
{
	int			max;
	SessionLimitAction action;
} SessionLimit;

extern void session_limit_of_call(FunctionCallInfo fcinfo, int maxarg,
								  SessionLimit *limit);
extern void session_limit_keep(const SessionLimit *limit, text *user_id,
							   const uint8 *hash, TimestampTz now);

#endif							/* SESSION_LIMIT_H */
