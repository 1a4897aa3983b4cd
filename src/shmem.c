/*
 * shmem.c
 *		Allocation of the extension's shared memory (see shmem.h), through
 *		the PostgreSQL 15 shmem_request/shmem_startup hooks.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

#include "shmem.h"

SessionShared *session_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
session_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(SessionShared)));
	RequestNamedLWLockTranche("session", 1);
}

static void
session_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	session_shared = ShmemInitStruct("session", sizeof(SessionShared), &found);
	if (!found)
	{
		int			i;
		int			c;

		memset(session_shared, 0, sizeof(SessionShared));
		session_shared->lock = &(GetNamedLWLockTranche("session"))->lock;
		pg_atomic_init_u64(&session_shared->slots_freed, 0);
		for (i = 0; i < SESSION_STATS_SLOTS; i++)
			for (c = 0; c < SC_NUM_COUNTERS; c++)
				pg_atomic_init_u64(&session_shared->slots[i].counters[c], 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init while shared_preload_libraries is being loaded. */
void
session_shmem_install_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = session_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = session_shmem_startup;
}
