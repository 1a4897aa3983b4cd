/*
 * worker.h
 *		The background prune launcher and its per-database workers.
 */
#ifndef SESSION_WORKER_H
#define SESSION_WORKER_H

extern void session_worker_register(void);

#endif							/* SESSION_WORKER_H */
