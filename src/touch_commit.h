/*
 * touch_commit.h
 *		Commit without waiting for the WAL flush when only touches wrote.
 */
#ifndef TOUCH_COMMIT_H
#define TOUCH_COMMIT_H

extern void session_touch_commit_init(void);
extern bool session_touch_commit_clean(void);
extern void session_touch_commit_wrote(bool clean);

#endif							/* TOUCH_COMMIT_H */
