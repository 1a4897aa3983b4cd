/*
 * stats.h
 *		Per-database activity counters.
 */
#ifndef SESSION_STATS_H
#define SESSION_STATS_H

#include "shmem.h"

extern void session_count(SessionCounter counter, uint64 n);
extern void session_stats_install_hooks(void);

#endif							/* SESSION_STATS_H */
