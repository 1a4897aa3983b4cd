# Makefile for the session extension (PGXS)

EXTENSION = session session_proxy
MODULE_big = session
OBJS = src/session.o src/settings.o src/relations.o src/api.o src/keys.o \
	src/owner.o src/heap_direct.o src/store.o src/token.o src/prune.o \
	src/shmem.o src/stats.o src/touch_commit.o src/worker.o src/bind.o \
	src/limit.o
DATA = sql/session--1.0.sql sql/session--1.0--1.1.sql sql/session--1.1--1.2.sql \
	sql/session--1.2--1.3.sql sql/session--1.3--1.4.sql sql/session--1.4--1.5.sql \
	sql/session--1.5--1.6.sql \
	sql/session_proxy--1.0.sql sql/session_proxy--1.0--1.1.sql \
	sql/session_proxy--1.1--1.2.sql
PGFILEDESC = "session - web sessions in PostgreSQL"

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wmissing-prototypes -Wpointer-arith
# token.c calls OpenSSL's libcrypto (the one the server links) directly.
SHLIB_LINK = -lcrypto

# pg_regress runs in a throwaway instance with the library preloaded,
# always UTF8 (and C collation) whatever the caller's locale: from a POSIX
# locale initdb would make it SQL_ASCII.
REGRESS = setup api expiry prune_wal touch_commit direct_write errors token_format adversarial shard \
	security oracle stats prune_triggers prune_batches user_triggers bind devices limit csrf upgrade reinstall
REGRESS_OPTS = --temp-instance=tmp_check_regress --temp-config=$(srcdir)/test/session.conf \
	--encoding=UTF8 --no-locale

# pg_isolation_regress, for races, in an instance of its own.
ISOLATION = merge_race touch_race destroy_race regenerate_race prune_race destroy_user_race \
	rotate_race touch_commit_abort key_cache_snapshot retire_race touch_snapshot bind_destroy limit_race
ISOLATION_OPTS = --temp-instance=tmp_check_iso --temp-config=$(srcdir)/test/session.conf \
	--encoding=UTF8 --no-locale

TAP_TESTS = 1

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# A build outside the source tree (VPATH, as pg_buildext builds each major
# in build-NN/) writes the objects under src/ there, which must exist.
ifdef VPATH
$(shell mkdir -p src)
endif
