/*
 * session.c
 *		The module's entry point: defines the settings and, when the library
 *		is preloaded, sets up the shared memory, the statistics' drop hook
 *		and the background prune launcher.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "bind.h"
#include "settings.h"
#include "shmem.h"
#include "stats.h"
#include "touch_commit.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	session_settings_define();
	session_touch_commit_init();
	session_bind_init();

	/* shared memory and the worker exist only when preloaded */
	if (!process_shared_preload_libraries_in_progress || IsBinaryUpgrade)
		return;
	session_shmem_install_hooks();
	session_stats_install_hooks();
	session_worker_register();
}
